/**
 * Replays from the console, against the real console and a real service's replay channel (the probe of
 * fixtures/console.ts): the durables offered, the dry run that sends nothing, a job whose events only
 * that service handles again, a stop that keeps the position, and the refusals (a viewer, a selection
 * that is not one, a durable without a replay channel) that start nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { listAudit } from "../../streams/src/index.js";
import { until } from "../harness/wait.js";
import {
  type ConsoleClient,
  type ConsoleFixture,
  PROBE_DURABLE,
  productionReport,
  startConsoleFixture,
} from "./fixtures/console.js";

const REPORTED = "mfg.production.production_reported.v1";

// One console for the file, disposed of after it (the fixture's file-level `after`).
const f: ConsoleFixture = await startConsoleFixture();
const otto: ConsoleClient = await f.signIn("otto");

describe("replays from the console", () => {
  const report = (order: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        f.publish(REPORTED, productionReport(order, String(i + 1)), {
          line: "line1",
          machine: "filler1",
          key: order,
        }),
      ),
    );
  const handledOf = (order: string, delivery: string) =>
    f.handled.filter((h) => h.orderRef === order && h.delivery === delivery).length;

  test("the durables with a replay channel are offered, with the stream each reads", async () => {
    const res = await otto.get("/api/replays/targets");
    assert.equal(res.status, 200, res.text);
    assert.ok(
      res.body.items.some(
        (t: { stream: string; durable: string }) =>
          t.durable === PROBE_DURABLE && t.stream === "MFG_PRODUCTION",
      ),
      res.text,
    );
  });

  test("a dry run counts what would go and sends nothing; the job then replays exactly that to the one service, audited", async () => {
    const order = "WH/MO/05001";
    await report(order, 3);
    await until("the live reports handled", async () => (handledOf(order, "live") === 3 ? true : undefined));
    const selection = { stream: "MFG_PRODUCTION", durable: PROBE_DURABLE, key: order, type: REPORTED };
    const dry = await otto.post("/api/replays", { ...selection, dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.body.count, 3);
    assert.equal(dry.body.sample.length, 3);
    assert.equal(dry.body.channel, `${PROBE_DURABLE}-replay`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(handledOf(order, "replay"), 0, "the dry run sent nothing");

    const started = await otto.post("/api/replays", { ...selection, dryRun: false });
    assert.equal(started.status, 202, started.text);
    const job = started.body.job as string;
    const done = await until("the job done", async () => {
      const j = await otto.get(`/api/replays/${job}`);
      return j.body.state === "done" ? j.body : undefined;
    });
    assert.equal(done.sent, 3);
    await until("the replays handled", async () => (handledOf(order, "replay") === 3 ? true : undefined));
    const listed = await otto.get("/api/replays");
    assert.ok(listed.body.items.some((j: { job: string }) => j.job === job));
    const record = await until("the audit record", async () =>
      (await listAudit(f.nc, { action: "replay" })).find(
        (r) => r.details["job"] === job && r.outcome === "done",
      ),
    );
    assert.match(record.who, /^otto \[local:otto\] via ops-console@/);
    assert.equal(record.details["to"], PROBE_DURABLE);
  });

  test("a stop ends a running job with its position kept, and is audited as interrupted", async () => {
    const order = "WH/MO/05002";
    await report(order, 20);
    await until("the live reports handled", async () => (handledOf(order, "live") === 20 ? true : undefined));
    const started = await otto.post("/api/replays", {
      stream: "MFG_PRODUCTION",
      durable: PROBE_DURABLE,
      key: order,
      rate: 2,
      dryRun: false,
    });
    assert.equal(started.status, 202, started.text);
    const job = started.body.job as string;
    await until("a first event sent", async () =>
      (await otto.get(`/api/replays/${job}`)).body.sent >= 1 ? true : undefined,
    );
    const stop = await otto.post(`/api/replays/${job}/stop`, {});
    assert.equal(stop.status, 200, stop.text);
    const stopped = await until("the job stopped", async () => {
      const j = await otto.get(`/api/replays/${job}`);
      return j.body.state === "stopped" ? j.body : undefined;
    });
    assert.ok(stopped.sent < 20, `stopped early (${stopped.sent} sent)`);
    await until("the interrupted audit record", async () =>
      (await listAudit(f.nc, { action: "replay" })).find(
        (r) => r.details["job"] === job && r.outcome === "interrupted",
      ),
    );
    const again = await otto.post(`/api/replays/${job}/stop`, {});
    assert.equal(again.status, 400);
    assert.match(again.body.error.message, /is not running \(stopped\)/);
    // Resumed with its id: it goes on from its saved position, nothing is sent twice.
    const resumed = await otto.post("/api/replays", {
      stream: "MFG_PRODUCTION",
      durable: PROBE_DURABLE,
      key: order,
      job,
      dryRun: false,
    });
    assert.equal(resumed.status, 202, resumed.text);
    const done = await until("the resumed job done", async () => {
      const j = await otto.get(`/api/replays/${job}`);
      return j.body.state === "done" ? j.body : undefined;
    });
    assert.equal(done.sent, 20);
    await until("every event replayed once", async () =>
      handledOf(order, "replay") === 20 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(handledOf(order, "replay"), 20, "no event replayed twice");
    const trail = (await listAudit(f.nc, { action: "replay" }))
      .filter((r) => r.details["job"] === job)
      .map((r) => r.outcome);
    assert.deepEqual(trail, ["started", "stopping", "interrupted", "started", "done"]);
  });

  test("a viewer, a selection that is not one, a durable without a channel: refused, nothing starts", async () => {
    const jobsBefore = (await otto.get("/api/replays")).body.items.length;
    const viola = await f.signIn("viola");
    const refused = await viola.post("/api/replays", {
      stream: "MFG_PRODUCTION",
      durable: PROBE_DURABLE,
      dryRun: false,
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "CONSOLE_FORBIDDEN");
    assert.match(refused.body.error.message, /replay needs the operator role/);
    const badTime = await otto.post("/api/replays", {
      stream: "MFG_PRODUCTION",
      durable: PROBE_DURABLE,
      since: "last tuesday",
    });
    assert.equal(badTime.status, 400);
    assert.match(badTime.body.error.message, /since/);
    const noChannel = await otto.post("/api/replays", {
      stream: "MFG_PRODUCTION",
      durable: "nobody-here",
      dryRun: false,
    });
    assert.equal(noChannel.status, 400, noChannel.text);
    assert.equal(noChannel.body.error.code, "CONSOLE_REQUEST_INVALID");
    assert.match(noChannel.body.error.message, /nobody-here/);
    const unknownJob = await otto.get("/api/replays/console-nope");
    assert.equal(unknownJob.status, 404);
    assert.equal((await otto.get("/api/replays")).body.items.length, jobsBefore, "no job was started");
  });
});
