import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import { PermanentError } from "../../streams/src/consumer.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import { declarations } from "../../streams/src/declarations.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import { DLQ_STREAM } from "../../streams/src/names.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { REPLAY_HEADERS, REPLAY_STREAM } from "../../streams/src/replay.js";
import { replayToDurable } from "../../streams/src/replay-job.js";
import { parseSelection } from "../../streams/src/selection.js";
import { connectedServerHas } from "../../streams/src/server-features.js";
import { runService } from "../../streams/src/service.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const SITE = "plant1";
const DURABLE = "replay-probe-reports";
const TYPE = "mfg.production.production_reported.v1";
const manifest = serviceManifest({
  service: "replay-probe",
  description: "counts production reports (a replay test's service)",
  consumers: {
    [DURABLE]: {
      stream: "MFG_PRODUCTION",
      description: "replay-probe: production reports",
      filterSubjects: ["mfg.production.production_reported.>"],
      ackWait: "5s",
      backoff: [],
      maxDeliver: 3,
      maxAckPending: 64,
    },
  },
});

interface Seen {
  readonly key: string;
  readonly id: string;
  readonly seq: number;
  readonly delivery: string;
  readonly job: string | undefined;
  readonly redriveCount: number | undefined;
}

/** A server with the shared declarations and the probe's durable (and its replay channel), a running probe service. */
async function setup(t: test.TestContext, options: { broken?: (key: string) => boolean } = {}) {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, declarations({ manifests: [manifest] }), serverFacts(nc)), {
    force: false,
  });
  const publisher = new EventPublisher(
    jetstream(nc),
    new EventCodec({ writers: await SchemaRegistry.open(nc) }),
    {
      service: "test",
      site: SITE,
    },
  );
  const publish = (key: string) =>
    publisher.publish(
      TYPE,
      {
        equipment: { site: SITE, area: null, line: "line1", cell: null, machine: "filler1" },
        orderRef: key,
        lot: null,
        goodQuantity: { value: "10", uom: "Units" },
        rejectQuantity: { value: "0", uom: "Units" },
        goodCounterFrom: 0n,
        goodCounterTo: 10n,
        rejectCounterFrom: 0n,
        rejectCounterTo: 0n,
        periodStartAt: new Date(),
        reportedAt: new Date(),
        countingPoint: true,
        rejectedComponent: null,
        running: [],
      },
      { site: SITE, line: "line1", machine: "filler1", key },
    );
  const seen: Seen[] = [];
  const service = await runService({
    manifest,
    env: {
      NATS_URL: server.clientUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: process.env["DEBUG_LOG"] ? "debug" : "silent",
    },
    handleSignals: false,
    logDestination: process.env["DEBUG_LOG"] ? process.stderr : new PassThrough(),
    setup: () => ({
      consumers: [
        {
          stream: "MFG_PRODUCTION",
          durable: DURABLE,
          retryBackoff: { initialDelayMs: 50, maxDelayMs: 100 },
          handlers: {
            [TYPE]: async (event, ctx) => {
              if (options.broken?.(event.key))
                throw new PermanentError("HANDLER_PERMANENT", `cannot post ${event.key}`);
              seen.push({
                key: event.key,
                id: event.id,
                seq: event.streamSequence,
                delivery: ctx.delivery,
                job: ctx.replay?.job,
                redriveCount: ctx.replay?.redriveCount,
              });
            },
          },
        },
      ],
    }),
  });
  t.after(() => service.stop());
  const S = ["--server", server.clientUrl];
  return { server, nc, jsm, publish, seen, service, S };
}

async function position(nc: NatsConnection) {
  const ci = await (await jetstreamManager(nc)).consumers.info("MFG_PRODUCTION", DURABLE);
  return { delivered: ci.delivered.stream_seq, ackFloor: ci.ack_floor.stream_seq, pending: ci.num_pending };
}

async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
}

describe("replay to one service, beside its live consumer", () => {
  test("a running service runs a replay of past events through its handlers, told apart from live ones, while its durable keeps its position", async (t) => {
    const { nc, publish, seen, S, service } = await setup(t);
    assert.deepEqual(
      service.replayConsumers.map((c) => `${c.stream}/${c.durable}`),
      [`${REPLAY_STREAM}/${DURABLE}-replay`],
    );
    for (const k of ["MO-1", "MO-2", "MO-3", "MO-4", "MO-5"]) await publish(k);
    await until("5 live deliveries", () => seen.length === 5);
    // A handler runs before its ack reaches the server: the position settles just after.
    await until("5 acknowledged", async () => (await position(nc)).ackFloor === 5);
    const before = await position(nc);
    assert.deepEqual(before, { delivered: 5, ackFloor: 5, pending: 0 });

    const dry = await threadline([
      "replay",
      "--to",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--seq",
      "2-4",
      "--dry-run",
      ...S,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry run: 3 event\(s\) of MFG_PRODUCTION would be replayed/m);
    assert.match(dry.stdout, /^first: seq 2 /m);
    assert.match(dry.stdout, /^last: {2}seq 4 /m);
    assert.equal(await streamCount(nc, REPLAY_STREAM), 0, "a dry run delivers nothing");

    const run = await threadline([
      "replay",
      "--to",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--seq",
      "2-4",
      "--job",
      "after-outage",
      "--json",
      ...S,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(summary["sentTotal"], 3);
    assert.equal(summary["handled"], 3);
    assert.equal(summary["deadLettered"], 0);
    // Progress lines on stderr (not a terminal), JSON.
    assert.match(run.stderr, /"progress":"after-outage","sent":3,"total":3/);

    const replayed = seen.filter((s) => s.delivery === "replay");
    assert.deepEqual(
      replayed.map((s) => [s.key, s.seq, s.job]),
      [
        ["MO-2", 2, "after-outage"],
        ["MO-3", 3, "after-outage"],
        ["MO-4", 4, "after-outage"],
      ],
    );
    // The same events (same ce-id) as the live deliveries.
    for (const r of replayed)
      assert.equal(r.id, seen.find((s) => s.delivery === "live" && s.seq === r.seq)?.id);
    // The live durable did not move, and still takes new events as live ones.
    assert.deepEqual(await position(nc), before);
    await publish("MO-6");
    await until("MO-6 handled", () => seen.some((s) => s.key === "MO-6"));
    assert.equal(seen.find((s) => s.key === "MO-6")?.delivery, "live");
    assert.equal(seen.filter((s) => s.delivery === "live").length, 6);
    // Acknowledged deliveries leave the work queue.
    assert.equal(await streamCount(nc, REPLAY_STREAM), 0);

    // The same command again: the job is done, nothing is sent twice.
    const again = await threadline([
      "replay",
      "--to",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--seq",
      "2-4",
      "--job",
      "after-outage",
      ...S,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /job after-outage was already done \(3 event\(s\) sent/);
    assert.equal(seen.filter((s) => s.delivery === "replay").length, 3);
  });

  test("a replay interrupted half-way and run again delivers each selected event exactly once", async (t) => {
    const { nc, publish, seen } = await setup(t);
    for (let i = 1; i <= 10; i++) await publish(`MO-${i}`);
    await until("10 live deliveries", () => seen.length === 10);
    const selection = parseSelection({ stream: "MFG_PRODUCTION", seq: "3-9" });
    const ac = new AbortController();
    const first = await replayToDurable(nc, {
      selection,
      durable: DURABLE,
      job: "half",
      signal: ac.signal,
      onProgress: (p) => {
        if (p.sent === 3) ac.abort();
      },
    });
    assert.equal(first.complete, false);
    assert.equal(first.sent, 3);
    assert.equal(first.lastSequence, 5);
    // Events published meanwhile are not part of the job (its end was fixed when it started).
    await publish("MO-11");
    const second = await replayToDurable(nc, { selection, durable: DURABLE, job: "half" });
    assert.deepEqual(
      { complete: second.complete, sent: second.sent, sentTotal: second.sentTotal },
      { complete: true, sent: 4, sentTotal: 7 },
    );
    await until("7 replayed deliveries", () => seen.filter((s) => s.delivery === "replay").length >= 7);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      seen
        .filter((s) => s.delivery === "replay")
        .map((s) => s.seq)
        .sort((a, b) => a - b),
      [3, 4, 5, 6, 7, 8, 9],
    );
  });

  test("rewind is refused without --force (exit 2, the position printed); with --force the running service's durable redelivers from the sequence", async (t) => {
    const { nc, publish, seen, S } = await setup(t);
    for (const k of ["MO-1", "MO-2", "MO-3", "MO-4", "MO-5"]) await publish(k);
    await until("5 live deliveries", () => seen.length === 5);
    // A handler runs before its ack reaches the server: the position settles just after.
    await until("5 acknowledged", async () => (await position(nc)).ackFloor === 5);

    const refused = await threadline([
      "replay",
      "rewind",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--to-seq",
      "3",
      ...S,
    ]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stdout,
      /position: MFG_PRODUCTION\/replay-probe-reports: delivered 5, ack floor 5, pending 0/,
    );
    assert.match(refused.stderr, /refused without --force \(nothing changed\)/);
    assert.deepEqual(await position(nc), { delivered: 5, ackFloor: 5, pending: 0 });

    const forced = await threadline([
      "replay",
      "rewind",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--to-seq",
      "3",
      "--force",
      ...S,
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /rewound MFG_PRODUCTION\/replay-probe-reports to sequence 3/);
    await until("3 redeliveries after the rewind", () => seen.length === 8, {
      detail: () => JSON.stringify(seen.slice(5)),
    });
    assert.deepEqual(
      seen.slice(5).map((s) => [s.seq, s.delivery]),
      [
        [3, "live"],
        [4, "live"],
        [5, "live"],
      ],
    );
    await until("the ack floor back at 5", async () => (await position(nc)).ackFloor === 5);
    // It keeps consuming.
    await publish("MO-6");
    await until("MO-6 handled", () => seen.some((s) => s.key === "MO-6"));
  });

  test("copy to a subject keeps each event's id; copied again, nothing is stored twice", async (t) => {
    const { nc, jsm, publish, seen, S } = await setup(t);
    for (const k of ["MO-1", "MO-2", "MO-3"]) await publish(k);
    await until("3 live deliveries", () => seen.length === 3);
    await jsm.streams.add({ name: "COPY_TEST", subjects: ["copy.>"] });
    const args = [
      "replay",
      "copy",
      "--stream",
      "MFG_PRODUCTION",
      "--seq",
      "1-2",
      "--to-subject",
      "copy.test",
      ...S,
    ];
    const dry = await threadline([...args, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(await streamCount(nc, "COPY_TEST"), 0);
    const run = await threadline(args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^copied 2 event\(s\) of MFG_PRODUCTION to copy\.test, ids kept/m);
    for (const seq of [1, 2]) {
      const original = await jsm.streams.getMessage("MFG_PRODUCTION", { seq });
      const copied = await jsm.streams.getMessage("COPY_TEST", { seq });
      assert.ok(original && copied);
      assert.equal(copied.header.get("ce-id"), original.header.get("ce-id"));
      assert.equal(copied.header.get("Nats-Msg-Id"), original.header.get("Nats-Msg-Id"));
      assert.deepEqual(copied.data, original.data);
    }
    const again = await threadline(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /copied 0 event\(s\).*; 2 already there/);
    assert.equal(await streamCount(nc, "COPY_TEST"), 2);
  });

  test("bad input: an unknown durable exits 1 delivering nothing, a malformed time exits 2", async (t) => {
    const { nc, publish, seen, S } = await setup(t);
    await publish("MO-1");
    await until("1 live delivery", () => seen.length === 1);
    await until("1 acknowledged", async () => (await position(nc)).ackFloor === 1);
    const unknown = await threadline(["replay", "--to", "nope", "--stream", "MFG_PRODUCTION", ...S]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /REPLAY_TARGET_MISSING: consumer nope does not exist on stream MFG_PRODUCTION/,
    );
    const badTime = await threadline([
      "replay",
      "--to",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--since",
      "yesterday-ish",
      ...S,
    ]);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--since is not a time/);
    const badRewind = await threadline([
      "replay",
      "rewind",
      DURABLE,
      "--stream",
      "MFG_PRODUCTION",
      "--to-time",
      "soon",
      "--force",
      ...S,
    ]);
    assert.equal(badRewind.code, 2);
    assert.equal(await streamCount(nc, REPLAY_STREAM), 0);
    assert.deepEqual(await position(nc), { delivered: 1, ackFloor: 1, pending: 0 });
  });
});

describe("replay rewind of a partition durable", () => {
  test("a rewound partition durable keeps what streams apply gave it on this server: pinned to its owner where the server has priority groups", async (t) => {
    const server = await startTestServer({}, t);
    const nc = await connectTo(server, {}, t);
    const jsm = await jetstreamManager(nc);
    const platform = platformDeclarations({ profile: "local" });
    await applyPlan(jsm, await planChanges(jsm, platform, serverFacts(nc)), { force: false });
    const durable = "odoo-connector-production-reported-p0";
    assert.equal(platform.consumers[durable]?.partitionOf?.index, 0, "a partition durable of the platform");
    const policy = async () =>
      (await jsm.consumers.info("MFG_PRODUCTION", durable)).config.priority_policy ?? "none";
    const expected = connectedServerHas(nc, "priorityGroups") ? "pinned_client" : "none";
    assert.equal(await policy(), expected, "as streams apply created it");
    const rewound = await threadline([
      "replay",
      "rewind",
      durable,
      "--stream",
      "MFG_PRODUCTION",
      "--to-seq",
      "1",
      "--force",
      "--server",
      server.clientUrl,
    ]);
    assert.equal(rewound.code, 0, rewound.stderr);
    assert.equal(await policy(), expected, "the same after the rewind");
    const plan = await planChanges(jsm, platform, serverFacts(nc));
    assert.deepEqual(
      plan.items.filter((item) => item.name === `MFG_PRODUCTION/${durable}` && item.action !== "unchanged"),
      [],
      "streams plan finds nothing to change on it",
    );
  });
});

describe("dlq redrive", () => {
  test("a dead-lettered event is brought once through the fixed handler and leaves the DLQ; one failing again comes back with its count; past --max-redrives it is skipped", async (t) => {
    const broken = new Set(["MO-BAD", "MO-WORSE"]);
    const { nc, jsm, publish, seen, S } = await setup(t, { broken: (k) => broken.has(k) });
    await publish("MO-OK");
    await publish("MO-BAD");
    await until("one dead letter", async () => (await streamCount(nc, DLQ_STREAM)) === 1);
    assert.deepEqual(
      seen.map((s) => s.key),
      ["MO-OK"],
    );

    const dry = await threadline(["dlq", "redrive", "--consumer", DURABLE, "--dry-run", ...S]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry run: 1 dead letter\(s\) would be redriven, 0 skipped/m);

    broken.delete("MO-BAD"); // the fix is deployed
    const run = await threadline(["dlq", "redrive", "--consumer", DURABLE, "--wait", "30", ...S]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /redriven 1 dead letter\(s\) .*; 0 skipped; 1 handled and removed, 0 failed again/,
    );
    assert.deepEqual(
      seen.filter((s) => s.key === "MO-BAD").map((s) => [s.delivery, s.redriveCount, s.seq]),
      [["redrive", 1, 2]],
    );
    assert.equal(await streamCount(nc, DLQ_STREAM), 0);

    // Still broken: the redrive fails again and is dead-lettered again with its count.
    await publish("MO-WORSE");
    await until("one dead letter", async () => (await streamCount(nc, DLQ_STREAM)) === 1);
    const failing = await threadline(["dlq", "redrive", "--stream", "MFG_PRODUCTION", "--wait", "30", ...S]);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /1 redriven dead letter\(s\) failed again/);
    assert.equal(await streamCount(nc, DLQ_STREAM), 1, "the old dead letter is replaced, not doubled");
    const info = await jsm.streams.info(DLQ_STREAM);
    const stored = await jsm.streams.getMessage(DLQ_STREAM, { seq: info.state.last_seq });
    assert.ok(stored);
    const letter = readDeadLetter(stored);
    assert.deepEqual([letter.stream, letter.sequence, letter.consumer], ["MFG_PRODUCTION", 3, DURABLE]);
    assert.equal(stored.header.get(REPLAY_HEADERS.redriveCount), "1");

    const limited = await threadline(["dlq", "redrive", "--consumer", DURABLE, "--max-redrives", "1", ...S]);
    assert.equal(limited.code, 0, limited.stderr);
    assert.match(limited.stdout, /redriven 0 dead letter\(s\) .*; 1 skipped/);
    assert.match(limited.stdout, /redriven 1 time\(s\) already \(--max-redrives 1\)/);
    assert.equal(seen.filter((s) => s.key === "MO-WORSE").length, 0);
  });
});
