/**
 * threadline dlq and threadline audit - working the dead-letter stream as the least-privilege ops user
 * (`threadline streams permissions ops`), against a real nats-server with the platform's declarations:
 * dead letters made by real consumers (a handler's PermanentError, a body that is not Avro), listed,
 * shown, counted and purged through the CLI, the purge found in the audit trail; and what the ops user
 * may not do.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos, errors as natsErrors } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/index.js";
import { createEventConsumer, type EventConsumer, PermanentError } from "../../streams/src/consumer.js";
import { newEventId, newTraceparent, sourceUrn, subjectFor, toHeaders } from "../../streams/src/envelope.js";
import { AUDIT_STREAM, DLQ_STREAM, EventPublisher, listAudit, recordAudit } from "../../streams/src/index.js";
import {
  explainOpsPermissions,
  permissionsOf,
  renderAuthorization,
  renderUserConfig,
} from "../../streams/src/permissions.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const REPORTED = "mfg.production.production_reported.v1";
const DOWNTIME = "mfg.machine.downtime_started.v1";
const POSTER = "dlqtest-poster"; // on MFG_PRODUCTION
const OEE = "dlqtest-oee"; // on MFG_MACHINE

const adminPassword = randomBytes(12).toString("hex");
const opsPassword = randomBytes(12).toString("hex");
process.env["THREADLINE_TEST_ADMIN_PASSWORD"] = JSON.stringify(adminPassword);
process.env["OPS_NATS_PASSWORD"] = JSON.stringify(opsPassword);
const decls = platformDeclarations({ profile: "local" });
const grants = explainOpsPermissions(decls);
const server = await startTestServer({
  extraConfig: renderAuthorization([
    `{ user: "admin", password: $THREADLINE_TEST_ADMIN_PASSWORD }`,
    renderUserConfig(permissionsOf(grants), { user: "ops", explain: grants }),
  ]),
});
const nc = await connectTo(server, { user: "admin", pass: adminPassword });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
await applyPlan(jsm, await planChanges(jsm, decls, serverFacts(nc)), { force: false });

/** The CLI as the ops user. */
const env = {
  NATS_URL: server.clientUrl,
  NATS_USER: "ops",
  NATS_PASSWORD: opsPassword,
  NATS_INBOX_PREFIX: "_INBOX_ops",
};
const cli = (...args: string[]) => threadline(args, { env });
const dlqCount = async () => (await jsm.streams.info(DLQ_STREAM)).state.messages;
interface Listed {
  seq: number;
  stream: string;
  consumer: string;
  code: string;
  type: string | null;
  key: string | null;
  message: string;
}
const listJson = async (...filters: string[]): Promise<Listed[]> => {
  const run = await cli("dlq", "list", "--json", ...filters);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Listed[];
};

// Dead letters, made the way production makes them: consumers giving up.
await jsm.consumers.add("MFG_PRODUCTION", {
  durable_name: POSTER,
  ack_policy: AckPolicy.Explicit,
  ack_wait: nanos(5_000),
  max_deliver: 3,
  filter_subject: "mfg.production.production_reported.>",
});
await jsm.consumers.add("MFG_MACHINE", {
  durable_name: OEE,
  ack_policy: AckPolicy.Explicit,
  ack_wait: nanos(5_000),
  max_deliver: 3,
  filter_subject: "mfg.machine.downtime_started.>",
});
const codec = new EventCodec();
const consumers: EventConsumer[] = [
  createEventConsumer(nc, {
    stream: "MFG_PRODUCTION",
    durable: POSTER,
    codec,
    pullExpiresMs: 1_000,
    handlers: {
      [REPORTED]: async (e) => {
        const order = (e.value as { orderRef: string }).orderRef;
        if (order === "WH/MO/00406")
          throw new PermanentError("PAYLOAD_INVALID", `order ${order}: quantity refused`);
        if (order !== "WH/MO/00001")
          throw new PermanentError(
            "CONNECTOR_ORDER_NOT_FOUND",
            `production order ${order} does not exist in Odoo`,
          );
      },
    },
  }),
  createEventConsumer(nc, {
    stream: "MFG_MACHINE",
    durable: OEE,
    codec,
    pullExpiresMs: 1_000,
    handlers: { [DOWNTIME]: async () => {} },
  }),
];
for (const c of consumers) await c.start();

const publisher = new EventPublisher(js, codec, { service: "machine-bridge", site: "plant1" });
const report = (orderRef: string) => ({
  equipment: { site: "plant1", area: null, line: "line1", cell: null, machine: "filler1" },
  orderRef,
  lot: null,
  goodQuantity: { value: "10.500000", uom: "Units" },
  rejectQuantity: { value: "1.000000", uom: "Units" },
  goodCounterFrom: 0n,
  goodCounterTo: 11n,
  rejectCounterFrom: 0n,
  rejectCounterTo: 1n,
  periodStartAt: new Date("2026-12-05T08:00:00.000Z"),
  reportedAt: new Date("2026-12-05T08:05:00.000Z"),
  countingPoint: true,
  rejectedComponent: null,
  running: [],
});
const target = (key: string) => ({ site: "plant1", line: "line1", machine: "filler1", key });
// First batch: two orders Odoo does not know, one it does, and a downtime whose body is not Avro.
await publisher.publish(REPORTED, report("WH/MO/00404"), target("WH/MO/00404"));
await publisher.publish(REPORTED, report("WH/MO/00001"), target("WH/MO/00001"));
await publisher.publish(REPORTED, report("WH/MO/00405"), target("WH/MO/00405"));
await js.publish(
  subjectFor(DOWNTIME, "plant1", "line1", "filler1"),
  new TextEncoder().encode("this is not avro"),
  {
    headers: toHeaders({
      id: newEventId(),
      source: sourceUrn("machine-bridge", "plant1"),
      type: DOWNTIME,
      time: new Date(),
      subject: "plant1/line1/filler1",
      dataschema: "urn:threadline:schema:test",
      traceparent: newTraceparent(),
    }),
  },
);
await until("3 dead letters", async () => (await dlqCount()) === 3);
await new Promise((r) => setTimeout(r, 50));
const between = new Date();
await new Promise((r) => setTimeout(r, 50));
// Second batch: a refused quantity.
await publisher.publish(REPORTED, report("WH/MO/00406"), target("WH/MO/00406"));
await until("4 dead letters", async () => (await dlqCount()) === 4);
for (const c of consumers) await c.stop({ timeoutMs: 2_000 });

describe("threadline dlq - list, show, stats", () => {
  test("list shows every dead letter with its source, code, event type and key; the table has one row each", async () => {
    const all = await listJson();
    assert.equal(all.length, 4);
    // Sequence order; the two consumers ran side by side, so compare as sorted rows.
    assert.deepEqual(all.map((d) => [d.stream, d.consumer, d.code, d.type, d.key]).sort(), [
      ["MFG_MACHINE", OEE, "BAD_MARKER", DOWNTIME, "plant1/line1/filler1"],
      ["MFG_PRODUCTION", POSTER, "CONNECTOR_ORDER_NOT_FOUND", REPORTED, "WH/MO/00404"],
      ["MFG_PRODUCTION", POSTER, "CONNECTOR_ORDER_NOT_FOUND", REPORTED, "WH/MO/00405"],
      ["MFG_PRODUCTION", POSTER, "PAYLOAD_INVALID", REPORTED, "WH/MO/00406"],
    ]);
    assert.deepEqual(
      all.map((d) => d.seq),
      all.map((d) => d.seq).sort((a, b) => a - b),
    );
    const table = await cli("dlq", "list");
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^SEQ\s+WHEN\s+SOURCE\s+CODE\s+TYPE\s+KEY\s+MESSAGE$/);
    assert.equal(lines.length, 5);
    assert.match(
      table.stdout,
      /MFG_PRODUCTION\/dlqtest-poster\s+CONNECTOR_ORDER_NOT_FOUND\s+mfg\.production\.production_reported\.v1\s+WH\/MO\/00404\s+production order WH\/MO\/00404 does not exist/,
    );
  });

  test("filters by consumer, source stream, code, event type and time window", async () => {
    const keys = (ds: Listed[]) => ds.map((d) => d.key).sort();
    assert.deepEqual(keys(await listJson("--consumer", POSTER)), [
      "WH/MO/00404",
      "WH/MO/00405",
      "WH/MO/00406",
    ]);
    assert.deepEqual(keys(await listJson("--stream", "MFG_MACHINE")), ["plant1/line1/filler1"]);
    assert.deepEqual(keys(await listJson("--stream", "MFG_MACHINE", "--consumer", POSTER)), []);
    assert.deepEqual(keys(await listJson("--code", "CONNECTOR_ORDER_NOT_FOUND")), [
      "WH/MO/00404",
      "WH/MO/00405",
    ]);
    assert.deepEqual(keys(await listJson("--code", "BAD_MARKER,PAYLOAD_INVALID")), [
      "WH/MO/00406",
      "plant1/line1/filler1",
    ]);
    assert.deepEqual(keys(await listJson("--type", DOWNTIME)), ["plant1/line1/filler1"]);
    assert.deepEqual(keys(await listJson("--since", between.toISOString())), ["WH/MO/00406"]);
    assert.deepEqual(keys(await listJson("--until", between.toISOString())), [
      "WH/MO/00404",
      "WH/MO/00405",
      "plant1/line1/filler1",
    ]);
    assert.equal((await listJson("--since", "1h")).length, 4);
  });

  test("show decodes an Avro payload with its writer schema and dumps a body that is not Avro as hex", async () => {
    const all = await listJson();
    const avro = all.find((d) => d.key === "WH/MO/00404");
    const garbage = all.find((d) => d.code === "BAD_MARKER");
    assert.ok(avro && garbage);

    const shown = await cli("dlq", "show", String(avro.seq));
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /reason {4}CONNECTOR_ORDER_NOT_FOUND: production order WH\/MO\/00404 does not exist in Odoo/,
    );
    assert.match(shown.stdout, new RegExp(`consumer  ${POSTER} gave up after 1 attempt`));
    assert.match(shown.stdout, /^ {2}ce-type: mfg\.production\.production_reported\.v1$/m);
    assert.match(shown.stdout, /^ {2}Threadline-Dlq-Stream: MFG_PRODUCTION$/m);
    assert.match(shown.stdout, /payload \(mfg\.production\.production_reported\.v1, writer [0-9a-f]+/);
    assert.match(shown.stdout, /"orderRef": "WH\/MO\/00404"/);
    const json = JSON.parse((await cli("dlq", "show", String(avro.seq), "--json")).stdout) as {
      payload: { orderRef: string; goodQuantity: { value: string } };
    };
    assert.deepEqual([json.payload.orderRef, json.payload.goodQuantity.value], ["WH/MO/00404", "10.500000"]);

    const hex = await cli("dlq", "show", String(garbage.seq));
    assert.equal(hex.code, 0, hex.stderr);
    assert.match(hex.stdout, /payload: does not decode \(BAD_MARKER: .*\); 16 byte\(s\):/);
    assert.match(
      hex.stdout,
      /^00000000 {2}74 68 69 73 20 69 73 20 6e 6f 74 20 61 76 72 6f {2}\|this is not avro\|$/m,
    );

    const missing = await cli("dlq", "show", "99999");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /MFG_DLQ has no message with sequence 99999/);
  });

  test("stats counts by reason code and by consumer, filtered like list", async () => {
    const run = await cli("dlq", "stats", "--json");
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      total: 4,
      byCode: { CONNECTOR_ORDER_NOT_FOUND: 2, BAD_MARKER: 1, PAYLOAD_INVALID: 1 },
      byConsumer: { [`MFG_PRODUCTION/${POSTER}`]: 3, [`MFG_MACHINE/${OEE}`]: 1 },
    });
    const filtered = JSON.parse((await cli("dlq", "stats", "--json", "--stream", "MFG_MACHINE")).stdout);
    assert.deepEqual(filtered, {
      total: 1,
      byCode: { BAD_MARKER: 1 },
      byConsumer: { [`MFG_MACHINE/${OEE}`]: 1 },
    });
    const table = await cli("dlq", "stats");
    assert.match(table.stdout, /^4 dead letter\(s\)$/m);
    assert.match(table.stdout, /^CONNECTOR_ORDER_NOT_FOUND\s+2$/m);
  });
});

describe("threadline dlq - bad input changes nothing", () => {
  test("an unknown --stream, a malformed --since, a bad <seq>: a clear message and exit 2", async () => {
    const unknown = await cli("dlq", "list", "--stream", "MFG_NOPE");
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /--stream MFG_NOPE is not a stream of Threadline \(declared: MFG_MACHINE, MFG_PRODUCTION/,
    );
    const since = await cli("dlq", "purge", "--yes", "--since", "yesterday");
    assert.equal(since.code, 2);
    assert.match(since.stderr, /--since is not a time: "yesterday"/);
    const seq = await cli("dlq", "show", "abc");
    assert.equal(seq.code, 2);
    assert.equal(await dlqCount(), 4);
  });

  test("purge without --yes and without a terminal refuses with exit 2 and deletes nothing", async () => {
    const run = await cli("dlq", "purge", "--code", "BAD_MARKER");
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /refusing to purge 1 dead letter\(s\) without --yes: there is no terminal to confirm on/,
    );
    assert.equal(await dlqCount(), 4);
  });

  test("purge --dry-run lists what it would delete and deletes nothing", async () => {
    const run = await cli("dlq", "purge", "--dry-run", "--code", "CONNECTOR_ORDER_NOT_FOUND");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^would delete 2 dead letter\(s\) \(dry run: nothing deleted\)$/m);
    assert.match(run.stdout, /WH\/MO\/00404/);
    assert.match(run.stdout, /WH\/MO\/00405/);
    assert.equal(await dlqCount(), 4);
    assert.equal((await listAudit(nc)).length, 0);
  });
});

describe("threadline dlq purge and threadline audit", () => {
  test("purge --yes deletes exactly the matching dead letters and the audit trail records who, when, what and the outcome", async () => {
    const before = Date.now();
    const run = await cli(
      "dlq",
      "purge",
      "--yes",
      "--consumer",
      POSTER,
      "--code",
      "CONNECTOR_ORDER_NOT_FOUND",
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "deleted 2 dead letter(s) from MFG_DLQ\n");
    assert.deepEqual((await listJson()).map((d) => d.key).sort(), ["WH/MO/00406", "plant1/line1/filler1"]);

    const records = await listAudit(nc, { action: "purge" });
    assert.equal(records.length, 1);
    const [r] = records;
    assert.ok(r);
    assert.match(r.who, /^ops@[^@]+@[^@]+$/);
    assert.ok(r.at.getTime() >= before - 1_000 && r.at.getTime() <= Date.now());
    assert.deepEqual(r.selection, { consumer: POSTER, codes: ["CONNECTOR_ORDER_NOT_FOUND"] });
    assert.equal(r.outcome, "done");
    assert.equal(r.details["deleted"], 2);
    assert.equal(r.details["matched"], 2);

    const listed = await cli("audit", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const [entry] = JSON.parse(listed.stdout) as {
      action: string;
      who: string;
      outcome: string;
      selection: unknown;
    }[];
    assert.deepEqual(
      [entry?.action, entry?.who, entry?.outcome, entry?.selection],
      ["purge", r.who, "done", { consumer: POSTER, codes: ["CONNECTOR_ORDER_NOT_FOUND"] }],
    );
    const text = await cli("audit", "--since", "1h", "--action", "purge");
    assert.match(
      text.stdout,
      /^\d{4}-\d\d-\d\dT\S+Z {2}purge {4}done {9}ops@\S+ {2}selection=\{"consumer":"dlqtest-poster","codes":\["CONNECTOR_ORDER_NOT_FOUND"\]\}/,
    );
    assert.equal((await cli("audit", "--action", "replay", "--json")).stdout.trim(), "[]");
    assert.equal((await cli("audit", "--since", "soon")).code, 2);
  });
});

describe("the ops user - least privilege", () => {
  test("it may record audits and read and delete dead letters, but not publish a domain event, delete a domain message or a stream", async () => {
    const ops = await connectTo(server, { user: "ops", pass: opsPassword, inboxPrefix: "_INBOX_ops" });
    await recordAudit(ops, {
      action: "replay",
      selection: { stream: "MFG_PRODUCTION" },
      outcome: "interrupted",
      details: {},
    });
    assert.equal((await listAudit(ops, { action: "replay" }))[0]?.outcome, "interrupted");
    assert.equal((await jsm.streams.info(AUDIT_STREAM)).state.messages, 2);

    const opsJs = jetstream(ops);
    const refused = async (what: Promise<unknown>, subject: string) => {
      const err = await what.then(
        () => assert.fail(`expected a permissions violation on ${subject}`),
        (e: unknown) => e,
      );
      const pv = err instanceof natsErrors.PermissionViolationError ? err : (err as Error)?.cause;
      assert.ok(
        pv instanceof natsErrors.PermissionViolationError,
        `expected PermissionViolationError, got ${String(err)}`,
      );
      assert.equal(pv.subject, subject);
    };
    const domain = "mfg.production.production_reported.plant1.line1.filler1";
    await refused(opsJs.publish(domain, new Uint8Array([1])), domain);
    await refused(opsJs.publish("mfg.dlq.MFG_PRODUCTION.x", new Uint8Array([1])), "mfg.dlq.MFG_PRODUCTION.x");
    const opsJsm = await jetstreamManager(ops);
    await refused(
      opsJsm.streams.deleteMessage("MFG_PRODUCTION", 1),
      "$JS.API.STREAM.MSG.DELETE.MFG_PRODUCTION",
    );
    await refused(opsJsm.streams.purge(DLQ_STREAM), `$JS.API.STREAM.PURGE.${DLQ_STREAM}`);
    await refused(opsJsm.streams.delete(AUDIT_STREAM), `$JS.API.STREAM.DELETE.${AUDIT_STREAM}`);
    assert.equal((await jsm.streams.info("MFG_PRODUCTION")).state.messages, 4);
  });

  test("threadline streams permissions ops prints the ops user with a reason for each grant", async () => {
    const run = await threadline(["streams", "permissions", "ops"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /user: "ops"/);
    assert.match(run.stdout, /"\$JS\.API\.STREAM\.MSG\.DELETE\.MFG_DLQ"/);
    assert.match(run.stdout, /"threadline\.audit\.>"/);
    assert.doesNotMatch(run.stdout, /"mfg\./);
  });
});
