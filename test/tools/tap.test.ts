/**
 * threadline tap - a selection of a stream written as NDJSON or CSV by the real CLI, against a real
 * nats-server with the platform's declarations applied: exactly the selected events with exact
 * decimals, the schema's CSV columns quoted per RFC 4180, production consumers' positions and
 * acknowledgements untouched, --follow, events of a newer writer schema, and bad input.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, type ConsumerInfo, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { Catalog, contractFromText } from "../../contracts/src/catalog.js";
import { EventCodec, PACKAGE_ROOT, SchemaRegistry } from "../../contracts/src/index.js";
import {
  applyPlan,
  EventPublisher,
  planChanges,
  type StoredEvent,
  serverFacts,
} from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { parquetColumns } from "../../tools/tap/parquet.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const STREAM = "MFG_PRODUCTION";
const REPORTED = "mfg.production.production_reported.v1";
const COMPLETED = "mfg.production.production_order_completed.v1";

const server = await startTestServer();
const nc = await connectTo(server);
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
  force: false,
});
const codec = new EventCodec();
const registry = await SchemaRegistry.open(nc);
for (const t of [REPORTED, COMPLETED]) await registry.register(t, codec.contract(t).text);
const publisher = new EventPublisher(js, codec, { service: "tap-tester", site: "plant1" });
const env = { NATS_URL: server.clientUrl };
const tap = (args: string[]) => threadline(["tap", ...args], { env });
const target = (key: string) => ({ site: "plant1", line: "line1", machine: "filler1", key });

const equipment = { site: "plant1", area: null, line: "line1", cell: null, machine: "filler1" };
const report = (orderRef: string, good: string) => ({
  equipment,
  orderRef,
  lot: null,
  goodQuantity: { value: good, uom: "Units" },
  rejectQuantity: { value: "0.000000", uom: "Units" },
  goodCounterFrom: 0n,
  goodCounterTo: 1n,
  rejectCounterFrom: 0n,
  rejectCounterTo: 0n,
  periodStartAt: new Date("2026-12-05T08:00:00.000Z"),
  reportedAt: new Date("2026-12-05T08:05:00.000Z"),
  countingPoint: true,
  rejectedComponent: null,
  running: [],
});
const completed = (orderRef: string) => ({
  orderRef,
  odooOrderId: 42n,
  product: { code: "P-1", name: null, odooId: null },
  producedQuantity: { value: "3.000000", uom: "Units" },
  scrappedQuantity: null,
  lot: null,
  equipment,
  completedAt: new Date("2026-12-05T09:00:00.000Z"),
  lots: [],
});
const publishReport = (key: string, good: string) =>
  publisher.publish(REPORTED, report(key, good), target(key));
const lines = (text: string) => text.split("\n").filter((l) => l !== "");

/** A minimal RFC 4180 reader for checking what the CLI wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  assert.equal(field, "", "the last line ends with CRLF");
  return rows;
}

describe("threadline tap", () => {
  test("NDJSON of a selection (type, key, stored-time window) holds exactly the selected events, decimals exact", async () => {
    await publishReport("WH/MO/1", "1.000000");
    await sleep(30);
    const since = new Date();
    const a = await publishReport("WH/MO/1", "123456789012.123456");
    await publishReport("WH/MO/2", "5.000000");
    await publisher.publish(COMPLETED, completed("WH/MO/1"), target("WH/MO/1"));
    const b = await publishReport("WH/MO/1", "0.000001");
    await sleep(30);
    const untilAt = new Date();
    await sleep(30);
    await publishReport("WH/MO/1", "9.000000");

    const run = await tap([
      "--type",
      REPORTED,
      "--key",
      "WH/MO/1",
      "--since",
      since.toISOString(),
      "--until",
      untilAt.toISOString(),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const records = lines(run.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => [r.seq, r.id, r.type, r.subject, r.data.goodQuantity.value]),
      [
        [a.ack.seq, a.envelope.id, REPORTED, "WH/MO/1", "123456789012.123456"],
        [b.ack.seq, b.envelope.id, REPORTED, "WH/MO/1", "0.000001"],
      ],
    );
    const [first] = records;
    assert.deepEqual(Object.keys(first), [
      "seq",
      "storedAt",
      "id",
      "type",
      "subject",
      "time",
      "source",
      "routingSubject",
      "schemaVersion",
      "data",
    ]);
    assert.equal(first.time, a.envelope.time.toISOString());
    assert.match(first.storedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(first.source, "urn:threadline:tap-tester:plant1");
    assert.equal(first.routingSubject, "mfg.production.production_reported.plant1.line1.filler1");
    assert.equal(first.schemaVersion, 1);
    assert.equal(first.data.reportedAt, "2026-12-05T08:05:00.000Z");
    assert.equal(first.data.goodCounterTo, 1);
    assert.equal(run.stderr, `2 events (seq ${a.ack.seq}-${b.ack.seq}) to stdout\n`);
  });

  test("CSV has the schema's columns, envelope first, and quotes a value holding a comma and a quote (RFC 4180)", async () => {
    const key = 'WH/MO/3,"rush"';
    const e = await publishReport(key, "7.250000");
    const dir = mkdtempSync(join(tmpdir(), "tap-"));
    const file = join(dir, "mo3.csv");
    const run = await tap(["--type", REPORTED, "--key", key, "--format", "csv", "--output", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "");
    assert.deepEqual(readdirSync(dir), ["mo3.csv"], "the .partial file was renamed");
    const text = readFileSync(file, "utf8");
    const [header, row, ...rest] = parseCsv(text);
    assert.deepEqual(rest, []);
    assert.deepEqual(header, [
      "seq",
      "storedAt",
      "id",
      "type",
      "subject",
      "time",
      "source",
      "routingSubject",
      "schemaVersion",
      "data.equipment.site",
      "data.equipment.area",
      "data.equipment.line",
      "data.equipment.cell",
      "data.equipment.machine",
      "data.orderRef",
      "data.lot",
      "data.goodQuantity.value",
      "data.goodQuantity.uom",
      "data.rejectQuantity.value",
      "data.rejectQuantity.uom",
      "data.goodCounterFrom",
      "data.goodCounterTo",
      "data.rejectCounterFrom",
      "data.rejectCounterTo",
      "data.periodStartAt",
      "data.reportedAt",
      "data.countingPoint",
      "data.rejectedComponent",
      "data.running",
    ]);
    const cell = Object.fromEntries((header ?? []).map((h, i) => [h, row?.[i]]));
    assert.equal(cell["seq"], String(e.ack.seq));
    assert.equal(cell["subject"], key);
    assert.equal(cell["data.orderRef"], key);
    assert.equal(cell["data.equipment.area"], "", "null is an empty field");
    assert.equal(cell["data.goodQuantity.value"], "7.250000");
    assert.equal(cell["data.periodStartAt"], "2026-12-05T08:00:00.000Z");
    assert.equal(cell["data.countingPoint"], "true");
    assert.equal(cell["data.running"], "[]");
    assert.ok(text.includes(`,"WH/MO/3,""rush""",`), "quoted, its quotes doubled");
    assert.ok(text.endsWith("\r\n"));

    const several = await tap(["--stream", STREAM, "--format", "csv"]);
    assert.equal(several.code, 2);
    assert.match(several.stderr, /--format csv needs exactly one --type/);
  });

  test("a durable consumer's position and acknowledgements are unchanged after a tap reads the whole stream", async () => {
    await jsm.consumers.add(STREAM, {
      durable_name: "tap-bystander",
      ack_policy: AckPolicy.Explicit,
      ack_wait: 600_000_000_000,
    });
    const consumer = await js.consumers.get(STREAM, "tap-bystander");
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 5, expires: 2_000 })) {
      if (n++ < 3) await m.ackAck(); // three acked, two left pending
    }
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for await (const c of jsm.consumers.list(STREAM)) {
        const i: ConsumerInfo = c;
        out[i.name] = {
          delivered: i.delivered.stream_seq,
          consumerSeq: i.delivered.consumer_seq,
          ackFloor: i.ack_floor.stream_seq,
          pending: i.num_pending,
          ackPending: i.num_ack_pending,
          redelivered: i.num_redelivered,
        };
      }
      return out;
    };
    const before = await snapshot();
    assert.deepEqual((before["tap-bystander"] as { ackPending: number }).ackPending, 2);
    const stored = (await jsm.streams.info(STREAM)).state.messages;

    const run = await tap(["--stream", STREAM]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(lines(run.stdout).length, stored);
    assert.deepEqual(await snapshot(), before, "every consumer as it was, and no consumer left behind");
  });

  test("--follow writes what is stored, then an event published after the tap started, and stops on SIGINT", async () => {
    await publishReport("WH/MO/4", "1.000000");
    const child = spawn(
      process.execPath,
      [join(PACKAGE_ROOT, "bin/threadline.js"), "tap", "--type", REPORTED, "--key", "WH/MO/4", "--follow"],
      { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    await until("the stored event", () => lines(stdout).length === 1, {
      timeoutMs: 15_000,
      detail: () => stderr,
    });
    const later = await publishReport("WH/MO/4", "2.500000");
    await until("the new event", () => lines(stdout).length === 2, {
      timeoutMs: 15_000,
      detail: () => stderr,
    });
    child.kill("SIGINT");
    assert.equal(await closed, 0, stderr);
    const records = lines(stdout).map((l) => JSON.parse(l));
    assert.equal(records[1].id, later.envelope.id);
    assert.equal(records[1].data.goodQuantity.value, "2.500000");
    assert.match(stderr, /^2 events \(seq \d+-\d+\) to stdout\n$/);
  });

  test("an event of a newer writer schema (registered, unknown to this program) is read, resolved to this program's schema", async () => {
    const text = JSON.parse(codec.contract(REPORTED).text);
    text.fields.push({ name: "shift", type: ["null", "string"], default: null, doc: "The shift." });
    const newer = JSON.stringify(text);
    await registry.register(REPORTED, newer);
    const writer = new EventCodec({
      catalog: new Catalog([contractFromText("production/ProductionReported.v1.avsc", newer)]),
    });
    const e = await new EventPublisher(js, writer, { service: "tap-tester", site: "plant1" }).publish(
      REPORTED,
      { ...report("WH/MO/5", "3.141592"), shift: "night" } as never,
      target("WH/MO/5"),
    );
    const run = await tap(["--type", REPORTED, "--key", "WH/MO/5"]);
    assert.equal(run.code, 0, run.stderr);
    const [record, ...rest] = lines(run.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(rest, []);
    assert.equal(record.id, e.envelope.id);
    assert.equal(record.schemaVersion, 2);
    assert.equal(record.data.goodQuantity.value, "3.141592");
    assert.equal("shift" in record.data, false, "resolved to the reader's schema");
  });

  test("a message that is not an event is reported with its sequence and skipped, and counted", async () => {
    const raw = await js.publish("mfg.production.production_reported.plant1", new TextEncoder().encode("{}"));
    const e = await publishReport("WH/MO/6", "1.000000");
    const run = await tap(["--stream", STREAM, "--seq", `${raw.seq}-`]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      lines(run.stdout).map((l) => JSON.parse(l).id),
      [e.envelope.id],
    );
    assert.match(run.stderr, new RegExp(`skipped seq=${raw.seq} subject=\\S+: ENVELOPE_INVALID`));
    assert.match(run.stderr, /1 events \(seq \d+-\d+\) to stdout, 1 skipped/);
  });

  test("--dry-run counts and shows first, last and a sample, writing nothing", async () => {
    const run = await tap(["--type", REPORTED, "--key", "WH/MO/1", "--dry-run"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^dry run: 4 events in MFG_PRODUCTION match \(nothing written\)\n/);
    assert.match(run.stdout, /first: seq \d+/);
    assert.match(run.stdout, /last: {2}seq \d+/);
    assert.equal(lines(run.stdout).filter((l) => l.includes("WH/MO/1")).length, 4, "the sample rows");
    const refused = await tap(["--type", REPORTED, "--dry-run", "--output", "never.ndjson"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--dry-run writes nothing/);
  });

  test("bad input: an unknown stream exits 1, a malformed time 2, a selection matching nothing is 0 events and exit 0", async () => {
    const missing = await tap(["--stream", "MFG_NOPE"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /stream MFG_NOPE does not exist/);
    const badTime = await tap(["--type", REPORTED, "--since", "yesterday"]);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--since is not a time: "yesterday"/);
    const none = await tap(["--type", REPORTED, "--key", "WH/MO/none"]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, "");
    assert.equal(none.stderr, "0 events to stdout\n");
    const limited = await tap(["--type", REPORTED, "--key", "WH/MO/1", "--limit", "2"]);
    assert.equal(lines(limited.stdout).length, 2);
  });

  test("Parquet has typed columns: exact decimals as DECIMAL(18,6) on INT64, timestamps as TIMESTAMP_MILLIS, enums and keys as strings, nullable fields optional", async () => {
    await publishReport("WH/MO/PQ", "123456789012.123456");
    await publishReport("WH/MO/PQ", "0.000001");
    const dir = mkdtempSync(join(tmpdir(), "tap-parquet-"));
    const file = join(dir, "reports.parquet");
    const run = await tap(["--type", REPORTED, "--key", "WH/MO/PQ", "--format", "parquet", "--output", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, `2 events to ${file} (Parquet)\n`);
    assert.deepEqual(readdirSync(dir), ["reports.parquet"], "no .partial left behind");
    const buffer = readFileSync(file);
    const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
    const meta = parquetMetadata(arrayBuffer);
    const element = (name: string) => meta.schema.find((e) => e.name === name);
    assert.deepEqual(
      [element("data.goodQuantity.value")?.type, element("data.goodQuantity.value")?.converted_type],
      ["INT64", "DECIMAL"],
    );
    assert.deepEqual(
      [element("data.goodQuantity.value")?.precision, element("data.goodQuantity.value")?.scale],
      [18, 6],
    );
    assert.deepEqual(
      [element("data.reportedAt")?.type, element("data.reportedAt")?.converted_type],
      ["INT64", "TIMESTAMP_MILLIS"],
    );
    assert.equal(element("data.lot")?.repetition_type, "OPTIONAL");
    assert.equal(element("data.orderRef")?.converted_type, "UTF8");
    // The reader (hyparquet) scales DECIMALs into floats; what is stored is the unscaled INT64 (below).
    const rows = (await parquetReadObjects({ file: arrayBuffer })) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => [r["subject"], (r["data.reportedAt"] as Date).toISOString()]),
      [
        ["WH/MO/PQ", "2026-12-05T08:05:00.000Z"],
        ["WH/MO/PQ", "2026-12-05T08:05:00.000Z"],
      ],
    );
    const good = rows.map((r) => r["data.goodQuantity.value"] as number);
    assert.ok(Math.abs((good[0] as number) - 123456789012.1235) < 1e-3 && good[1] === 0.000001, String(good));
    const decimal = parquetColumns(codec.contract(REPORTED).type).find(
      (c) => c.element.name === "data.goodQuantity.value",
    );
    const decoded = { value: report("WH/MO/PQ", "123456789012.123456") } as unknown as StoredEvent;
    assert.equal(decimal?.value(decoded), 123456789012123456n, "the unscaled value, every digit");
    const refused = await tap(["--type", REPORTED, "--format", "parquet"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--format parquet needs --output/);
  });
});
