/**
 * threadline publish - one event from JSON on stdin through the SDK's publisher, against a real
 * nats-server with the platform's declarations applied: what lands in the stream, and what is refused.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { EventCodec, SchemaRegistry, toJson } from "../../contracts/src/index.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";

const REPORTED = "mfg.production.production_reported.v1";
/** Decimals at the schema's scale (6), as they decode, so the decoded event is the input as given. */
const report = {
  equipment: { site: "plant1", area: null, line: "line1", cell: null, machine: "filler1" },
  orderRef: "WH/MO/00042",
  lot: null,
  goodQuantity: { value: "10.500000", uom: "Units" },
  rejectQuantity: { value: "1.000000", uom: "Units" },
  goodCounterFrom: 0,
  goodCounterTo: 11,
  rejectCounterFrom: 0,
  rejectCounterTo: 1,
  periodStartAt: "2026-12-05T08:00:00.000Z",
  reportedAt: "2026-12-05T08:05:00.000Z",
  countingPoint: true,
  rejectedComponent: null,
  running: [],
};
const PUBLISHED = /^(published|already stored) (\S+) stream=(\S+) seq=(\d+) subject=(\S+)\n$/;

const server = await startTestServer();
const nc = await connectTo(server);
const jsm = await jetstreamManager(nc);
await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
  force: false,
});
const env = { NATS_URL: server.clientUrl };
const publish = (args: string[], input: unknown) =>
  threadline(["publish", REPORTED, ...args], { input: JSON.stringify(input), env });
const stored = async () => (await jsm.streams.info("MFG_PRODUCTION")).state.messages;
const target = [
  "--key",
  "plant1/line1/filler1",
  "--site",
  "plant1",
  "--line",
  "line1",
  "--machine",
  "filler1",
];

describe("threadline publish", () => {
  test("an event whose schema is not registered is refused with REGISTRY_NOT_FOUND, nothing published", async () => {
    const run = await publish(target, report);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /REGISTRY_NOT_FOUND: mfg\.production\.production_reported\.v1 with fingerprint/);
    assert.match(run.stderr, /threadline contracts register/);
    assert.equal(await stored(), 0);
  });

  test("a valid event is published with its CloudEvents headers and decodes to the input; the same --id again is stored once", async () => {
    const registry = await SchemaRegistry.open(nc);
    const contract = new EventCodec().contract(REPORTED);
    await registry.register(REPORTED, contract.text);

    const run = await publish([...target, "--source", "report-tester"], report);
    assert.equal(run.code, 0, run.stderr);
    const [, verdict, id, stream, seq, subject] = PUBLISHED.exec(run.stdout) ?? [];
    assert.equal(verdict, "published");
    assert.equal(stream, "MFG_PRODUCTION");
    assert.equal(subject, "mfg.production.production_reported.plant1.line1.filler1");
    const msg = await jsm.streams.getMessage("MFG_PRODUCTION", { seq: Number(seq) });
    assert.ok(msg);
    assert.equal(msg.subject, subject);
    assert.equal(msg.header.get("ce-id"), id);
    assert.equal(msg.header.get("Nats-Msg-Id"), id);
    assert.equal(msg.header.get("ce-type"), REPORTED);
    assert.equal(msg.header.get("ce-subject"), "plant1/line1/filler1");
    assert.equal(msg.header.get("ce-source"), "urn:threadline:report-tester:plant1");
    assert.equal(msg.header.get("ce-specversion"), "1.0");
    assert.equal(msg.header.get("content-type"), "application/avro");
    assert.match(msg.header.get("traceparent"), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const decoded = await new EventCodec({ writers: registry }).decode(msg.data);
    assert.deepEqual(toJson(decoded.type, decoded.value), report);
    assert.equal(decoded.writer.version, 1);

    const again = await publish([...target, "--id", id!], report);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(PUBLISHED.exec(again.stdout)?.[1], "already stored");
    assert.equal(await stored(), 1);
  });

  test("a payload that does not fit the schema is refused naming the field, nothing published, exit 1", async () => {
    const before = await stored();
    const run = await publish(target, { ...report, goodQuantity: { value: "ten", uom: "Units" } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /PAYLOAD_INVALID/);
    assert.match(run.stderr, /goodQuantity\.value/);
    const missing = await publish(target, { ...report, reportedAt: undefined });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /reportedAt/);
    assert.equal(await stored(), before);
  });

  test("usage errors exit 2: no --key, an unknown event type, stdin that is not JSON", async () => {
    assert.equal((await publish([], report)).code, 2);
    const unknown = await threadline(["publish", "mfg.nothing.v1", "--key", "k"], { input: "{}", env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown event type mfg\.nothing\.v1/);
    const notJson = await threadline(["publish", REPORTED, "--key", "k"], { input: "{", env });
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /stdin is not valid JSON/);
  });
});
