/**
 * The bridge against a server it was not written for: the plant simulator's generic device (its own
 * namespace, numeric node ids, every OPC UA built-in type, a vendor enumeration, a structure,
 * arrays, an unreadable node, alarms, no PackML), mapped with the skeleton `threadline bridge
 * discover` writes for it — edited as a person would (a line, what is a counter or a running signal).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import YAML from "yaml";
import type { TelemetrySample } from "../../contracts/src/events.generated.js";
import { CONNECTOR_STATE_BUCKET } from "../../services/machine-bridge/src/bridge.js";
import type { BridgeConfigInput } from "../../services/machine-bridge/src/config.js";
import type { PlantSimulator } from "../../tools/sim/plant/server.js";
import { threadline } from "../harness/cli.js";
import { until } from "../harness/wait.js";
import { DEVICE_PLANT } from "../sim/generic-device.js";
import {
  startBridge,
  startSimulator,
  startStreams,
  storedEvents,
  TEST_PKI,
  tempDir,
  units,
} from "./fixture.js";

type Machine = Record<string, unknown> & {
  machine: string;
  signals: Record<string, unknown>;
  telemetry: { tag: string; nodeId: string; dataType?: string; samplingIntervalMs?: number }[];
};

/** `threadline bridge discover` against the simulator: the skeleton's text. */
async function discoverText(sim: PlantSimulator): Promise<string> {
  const run = await threadline([
    "bridge",
    "discover",
    "--endpoint",
    sim.endpointUrl,
    "--pki-folder",
    path.join(TEST_PKI, "client"),
    "--trust-server-certificate",
  ]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

/**
 * The skeleton as a person edits it: the press only, on a line of site lyon, every tag sampled on
 * change; `edit` moves tags to signals and adds settings. Test timings and the test PKI on top.
 */
function edited(skeleton: string, edit: (m: Machine) => void = () => {}): BridgeConfigInput {
  const config = YAML.parse(skeleton) as Omit<BridgeConfigInput, "endpoints"> & {
    endpoints: (Record<string, unknown> & { machines: Machine[] })[];
  };
  const endpoint = config.endpoints[0];
  assert.ok(endpoint);
  const press = endpoint.machines.find((m) => m.machine === "Press7");
  assert.ok(press, "the skeleton maps the press");
  press["line"] = "press-line";
  for (const t of press.telemetry) t.samplingIntervalMs = 0;
  edit(press);
  endpoint.machines = [press];
  return {
    ...config,
    site: "lyon",
    pkiFolder: path.join(TEST_PKI, "client"),
    trustUnknownServerCertificates: true,
    heartbeatMs: 500,
    heartbeatTimeoutMs: 1_000,
    reportIntervalMs: 200,
    recheckNodesMs: 300,
    telemetry: { batchIntervalMs: 200 },
    endpoints: [{ ...endpoint, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } }],
  } as BridgeConfigInput;
}

/** Moves a tag from telemetry to a signal. */
function toSignal(m: Machine, tag: string, signal: string, extra: Record<string, unknown> = {}): void {
  const i = m.telemetry.findIndex((t) => t.tag === tag);
  const t = m.telemetry[i];
  assert.ok(t, `tag ${tag} in the skeleton`);
  m.telemetry.splice(i, 1);
  m.signals[signal] = { nodeId: t.nodeId, ...(t.dataType ? { dataType: t.dataType } : {}), ...extra };
}

async function samplesByTag(nc: NatsConnection): Promise<Map<string, TelemetrySample[]>> {
  const out = new Map<string, TelemetrySample[]>();
  for (const e of await storedEvents(nc, "mfg.machine.telemetry_sampled.v1"))
    for (const s of e.value.samples) out.set(s.tag, [...(out.get(s.tag) ?? []), s]);
  return out;
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (
    metric?.values
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((a, v) => a + v.value, 0) ?? 0
  );
}

const UNTYPED = {
  integerValue: null,
  unsignedValue: null,
  booleanValue: null,
  textValue: null,
  locale: null,
  valueTime: null,
  valueNanos: null,
  index: null,
};

/**
 * The type table: what each of the press's tags is stored as, exactly (its initial value, read when
 * the bridge subscribes). `value` is the double every sample carries.
 */
const TYPE_TABLE: Record<string, { opcua: string; expected: Partial<TelemetrySample>[] }> = {
  Flag: { opcua: "Boolean", expected: [{ dataType: "BOOLEAN", value: 1, booleanValue: true }] },
  SmallSigned: { opcua: "SByte", expected: [{ dataType: "SBYTE", value: -128, integerValue: -128n }] },
  SmallUnsigned: { opcua: "Byte", expected: [{ dataType: "BYTE", value: 255, integerValue: 255n }] },
  ShortSigned: { opcua: "Int16", expected: [{ dataType: "INT16", value: -32768, integerValue: -32768n }] },
  ShortUnsigned: { opcua: "UInt16", expected: [{ dataType: "UINT16", value: 65535, integerValue: 65535n }] },
  WordSigned: {
    opcua: "Int32",
    expected: [{ dataType: "INT32", value: -2147483648, integerValue: -2147483648n }],
  },
  WordUnsigned: {
    opcua: "UInt32",
    expected: [{ dataType: "UINT32", value: 4294967295, integerValue: 4294967295n }],
  },
  LongSigned: {
    opcua: "Int64",
    expected: [{ dataType: "INT64", value: -(2 ** 63), integerValue: -9223372036854775808n }],
  },
  "Counters.ScrapParts": {
    opcua: "Int64 beyond 2^53",
    expected: [{ dataType: "INT64", value: 2 ** 53, integerValue: 9007199254740993n }],
  },
  LongUnsigned: {
    opcua: "UInt64",
    expected: [{ dataType: "UINT64", value: 2 ** 64, unsignedValue: "18446744073709551615" }],
  },
  Temperature: { opcua: "Double (AnalogItem)", expected: [{ dataType: "DOUBLE", value: 182.25 }] },
  Pressure: { opcua: "Float (AnalogItem)", expected: [{ dataType: "FLOAT", value: 210.5 }] },
  CycleTime: { opcua: "Duration (a Double)", expected: [{ dataType: "DOUBLE", value: 1234.5 }] },
  Strokes: { opcua: "Counter (a UInt32)", expected: [{ dataType: "UINT32", value: 77, integerValue: 77n }] },
  Anything: {
    opcua: "BaseDataType holding an Int64",
    expected: [{ dataType: "INT64", value: -42, integerValue: -42n }],
  },
  Recipe: {
    opcua: "String",
    expected: [{ dataType: "STRING", value: Number.NaN, textValue: "Rohling-ß-42" }],
  },
  Operator: {
    opcua: "LocalizedText",
    expected: [{ dataType: "LOCALIZED_TEXT", value: Number.NaN, textValue: "Équipe B", locale: "fr-FR" }],
  },
  BatchStart: {
    opcua: "DateTime",
    expected: [
      {
        dataType: "DATE_TIME",
        value: Number.NaN,
        valueTime: new Date("2026-11-30T07:59:58.123Z"),
        valueNanos: 456_700,
      },
    ],
  },
  "Status.Status": {
    opcua: "enumeration (EnumValues)",
    expected: [{ dataType: "ENUMERATION", value: 0, integerValue: 0n, textValue: "Off" }],
  },
  "Status.Mode": {
    opcua: "enumeration (EnumStrings)",
    expected: [{ dataType: "ENUMERATION", value: 1, integerValue: 1n, textValue: "Manual" }],
  },
  Serial: {
    opcua: "Guid",
    expected: [{ dataType: "GUID", value: Number.NaN, textValue: "72962B91-FA75-4AE6-8D28-B404DC7DAF63" }],
  },
  Health: {
    opcua: "StatusCode",
    expected: [
      {
        dataType: "STATUS_CODE",
        value: 0x40900000,
        integerValue: 0x40900000n,
        textValue: "UncertainLastUsableValue",
      },
    ],
  },
  Program: {
    opcua: "QualifiedName",
    expected: [{ dataType: "QUALIFIED_NAME", value: Number.NaN, textValue: "Stamp" }],
  },
  Source: {
    opcua: "NodeId",
    expected: [{ dataType: "NODE_ID", value: Number.NaN, textValue: "ns=2;i=1001" }],
  },
  Manifest: {
    opcua: "XmlElement",
    expected: [{ dataType: "XML_ELEMENT", value: Number.NaN, textValue: "<m v='1'/>" }],
  },
  Zones: {
    opcua: "Double[3]",
    expected: [
      { dataType: "DOUBLE", value: 180.5, index: 0 },
      { dataType: "DOUBLE", value: 181, index: 1 },
      { dataType: "DOUBLE", value: 179.25, index: 2 },
    ],
  },
};

describe("machine bridge against a generic OPC UA device (mapped from `discover`)", () => {
  describe("every OPC UA type becomes a sample with the right Avro type and its exact value", () => {
    let stored = new Map<string, TelemetrySample[]>();
    let sources: string[] = [];
    let sim: PlantSimulator;
    let nc: NatsConnection;
    const cleanups: (() => Promise<void> | void)[] = [];
    before(async () => {
      const t = { after: (fn: () => Promise<void> | void) => cleanups.push(fn) } as never;
      sim = await startSimulator(t, DEVICE_PLANT);
      ({ nc } = await startStreams(t));
      await startBridge(t, nc, edited(await discoverText(sim)));
      await until(
        "a sample of every tag is stored",
        async () => {
          stored = await samplesByTag(nc);
          return Object.keys(TYPE_TABLE).every((tag) => stored.has(tag));
        },
        { detail: () => `stored: ${[...stored.keys()].join(", ")}` },
      );
      sources = (await storedEvents(nc, "mfg.machine.telemetry_sampled.v1")).map((e) => e.source);
    });
    after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });

    for (const [tag, { opcua, expected }] of Object.entries(TYPE_TABLE))
      test(`${opcua} (${tag}) is stored as ${expected[0]?.dataType} with its exact value`, () => {
        const samples = (stored.get(tag) ?? []).slice(0, expected.length);
        assert.deepEqual(
          samples.map(({ tag: _t, quality, sourceTime: _s, ...rest }) => ({ quality, ...rest })),
          expected.map((e) => ({ quality: "GOOD", ...UNTYPED, ...e })),
        );
      });

    test("a value set on the server arrives exact: UInt64 above 2^63, Int64 -1, a new enumeration member", async () => {
      const d = sim.device("Press7");
      d.set("LongUnsigned", "9223372036854775809");
      d.set("ScrapParts", "-1");
      d.set("Status", 2);
      const last = (tag: string) => stored.get(tag)?.at(-1);
      await until("the new values are stored", async () => {
        stored = await samplesByTag(nc);
        return last("LongUnsigned")?.unsignedValue === "9223372036854775809" &&
          last("Status.Status")?.textValue === "Fault"
          ? true
          : undefined;
      });
      assert.equal(last("Counters.ScrapParts")?.integerValue, -1n);
      assert.deepEqual([last("Status.Status")?.integerValue, last("Status.Status")?.value], [2n, 2]);
    });

    test("ce-source names the site the subjects name (the mapping's), not the process's SITE", () => {
      assert.ok(sources.length > 0);
      assert.deepEqual([...new Set(sources)], ["urn:threadline:machine-bridge:lyon"]);
    });
  });

  test("discover writes a skeleton: node ids, data types, units and ranges, alarms; what cannot be carried is listed with why", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const text = await discoverText(sim);
    const d = sim.device("Press7");
    const config = YAML.parse(text) as { endpoints: { url: string; machines: Machine[] }[] };
    const press = config.endpoints[0]?.machines.find((m) => m.machine === "Press7");
    assert.ok(press);
    assert.equal(config.endpoints[0]?.url, sim.endpointUrl);
    assert.deepEqual(press["alarms"], { notifier: d.objectNodeId });
    const byTag = Object.fromEntries(press.telemetry.map((x) => [x.tag, x]));
    assert.deepEqual(byTag["Counters.GoodParts"], {
      tag: "Counters.GoodParts",
      nodeId: d.nodeId("GoodParts"),
      dataType: "UInt64",
    });
    assert.deepEqual(byTag["Status.Status"], {
      tag: "Status.Status",
      nodeId: d.nodeId("Status"),
      dataType: "PressStatus",
    });
    assert.equal(byTag["CycleTime"]?.dataType, "Duration");
    assert.equal(byTag["Anything"]?.dataType, "BaseDataType");
    for (const refused of ["Limits", "Snapshot", "Secret"])
      assert.equal(byTag[refused], undefined, `${refused} is not a tag`);
    assert.match(text, /Temperature, nodeId: ns=2;i=\d+, dataType: Double \} # Cel, range 0\.\.250/);
    assert.match(text, /Status\.Status.*# Enumeration, 0=Off 1=Running 2=Fault 3=Setup/);
    assert.match(text, /Zones.*# array\[3\]/);
    assert.match(text, /not mapped: Limits ns=2;i=\d+: is a structure \(Range \(Structure\)\)/);
    assert.match(text, /not mapped: Snapshot ns=2;i=\d+: is ByteString/);
    assert.match(text, /not mapped: Secret ns=2;i=\d+: not readable/);
    assert.match(text, /alarms: OverTemperature, DoorOpen/);
    // As written, the skeleton is a valid mapping whose every node a live check finds good.
    const dir = tempDir(t, "threadline-discover-");
    const file = path.join(dir, "plant.yaml");
    fs.writeFileSync(file, YAML.stringify(edited(text)));
    const check = await threadline(["bridge", "--config", file, "--check", "--live"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /ok {3}Press7 telemetry\.LongUnsigned ns=2;i=\d+ Good UInt64/);
    assert.match(check.stdout, /ok {3}Press7 telemetry\.CycleTime ns=2;i=\d+ Good Duration \(Double\)/);
    assert.match(check.stdout, /ok {3}Press7 alarms ns=2;i=100000 Good/);
    assert.match(check.stdout, /every node is good/);
  });

  test("nodes that cannot be used are refused per tag: DEGRADED with each status, in the event, KV, metrics and --check --live", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const { nc } = await startStreams(t);
    const d = sim.device("Press7");
    const config = edited(await discoverText(sim), (m) => {
      m.telemetry = [
        { tag: "temperature", nodeId: d.nodeId("Temperature"), dataType: "Double", samplingIntervalMs: 0 },
        { tag: "limits", nodeId: d.nodeId("Limits") },
        { tag: "snapshot", nodeId: d.nodeId("Snapshot") },
        { tag: "secret", nodeId: d.nodeId("Secret") },
        { tag: "typo", nodeId: "ns=2;i=4242" },
        { tag: "pressure", nodeId: d.nodeId("Pressure"), dataType: "Double" },
      ];
      m.signals = { goodCounter: { nodeId: d.nodeId("Recipe") } };
      delete m["alarms"];
    });
    const registry = new Registry();
    const bridge = await startBridge(t, nc, config, {}, registry);
    await until(
      "the endpoint is DEGRADED",
      () => bridge.endpointStatus()[config.endpoints[0]?.id as string] === "DEGRADED",
    );
    const expected = {
      "telemetry.temperature": "Good",
      "telemetry.limits": "BadTypeMismatch",
      "telemetry.snapshot": "BadTypeMismatch",
      "telemetry.secret": "BadNotReadable",
      "telemetry.typo": "BadNodeIdUnknown",
      "telemetry.pressure": "BadTypeMismatch",
      goodCounter: "BadTypeMismatch",
    };
    const statusOf = () =>
      Object.fromEntries((Object.values(bridge.nodeStatus())[0] ?? []).map((n) => [n.signal, n.status]));
    const sorted = (o: object) => JSON.stringify(Object.entries(o).sort());
    await until("every node checked", () => sorted(statusOf()) === sorted(expected) || undefined, {
      detail: () => JSON.stringify(statusOf()),
    });
    const details = Object.fromEntries(
      (Object.values(bridge.nodeStatus())[0] ?? []).map((n) => [n.signal, n.detail]),
    );
    assert.match(details["telemetry.limits"] ?? "", /structure/);
    assert.match(details["telemetry.pressure"] ?? "", /is Float, the mapping expects Double/);
    assert.match(details["goodCounter"] ?? "", /is String: a counter must be a number/);
    // The good tag still flows.
    await until("temperature samples are stored", async () => (await samplesByTag(nc)).has("temperature"));
    const event = await until("a DEGRADED status event", async () =>
      (await storedEvents(nc, "mfg.machine.connector_status_changed.v1")).find(
        (e) => e.value.status === "DEGRADED",
      ),
    );
    assert.deepEqual(
      event.value.nodes.map((n) => [n.signal, n.status]).sort(),
      Object.entries(expected)
        .filter(([, s]) => s !== "Good")
        .sort(),
    );
    assert.match(event.value.reason ?? "", /6 nodes not good: /);
    const kv = await new Kvm(nc).open(CONNECTOR_STATE_BUCKET);
    const record = (await kv.get(`machine-bridge.${config.connectorId}.${config.endpoints[0]?.id}`))?.json<{
      status: string;
      nodes: { signal: string; status: string; dataType: string | null }[];
    }>();
    assert.equal(record?.status, "DEGRADED");
    assert.deepEqual(Object.fromEntries(record?.nodes.map((n) => [n.signal, n.status]) ?? []), expected);
    assert.equal(record?.nodes.find((n) => n.signal === "telemetry.limits")?.dataType, "Range");
    assert.equal(await metricValue(registry, "threadline_bridge_node_ok", { signal: "telemetry.typo" }), 0);
    assert.equal(
      await metricValue(registry, "threadline_bridge_node_ok", { signal: "telemetry.temperature" }),
      1,
    );
    assert.equal(await metricValue(registry, "threadline_bridge_nodes_not_ok", {}), 6);
    // The same from the command line, without running the bridge.
    const dir = tempDir(t, "threadline-check-live-");
    const file = path.join(dir, "plant.json");
    fs.writeFileSync(file, JSON.stringify(config));
    const check = await threadline(["bridge", "--config", file, "--check", "--live"]);
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stdout, /FAIL Press7 telemetry\.typo ns=2;i=4242 BadNodeIdUnknown/);
    assert.match(
      check.stdout,
      /FAIL Press7 telemetry\.secret ns=2;i=\d+ BadNotReadable Double: its AccessLevel/,
    );
    assert.match(check.stdout, /ok {3}Press7 telemetry\.temperature ns=2;i=\d+ Good Double/);
    assert.match(check.stdout, /6 problem\(s\)/);
  });

  test("a node that goes away makes the endpoint DEGRADED (also after a server restart without it) and ONLINE again when it is back", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const { nc } = await startStreams(t);
    const d = sim.device("Press7");
    const config = edited(await discoverText(sim), (m) => {
      m.telemetry = m.telemetry.filter((x) => x.tag === "Temperature" || x.tag === "Recipe");
    });
    const id = config.endpoints[0]?.id as string;
    const bridge = await startBridge(t, nc, config);
    const temperature = () =>
      (Object.values(bridge.nodeStatus())[0] ?? []).find((n) => n.signal === "telemetry.Temperature");
    await until("ONLINE", () => bridge.endpointStatus()[id] === "ONLINE");
    d.remove("Temperature");
    await until("DEGRADED once the node is gone", () => bridge.endpointStatus()[id] === "DEGRADED");
    assert.match(temperature()?.status ?? "", /^BadNodeId(Invalid|Unknown)$/);
    d.restore("Temperature");
    d.set("Temperature", 190.5);
    await until("ONLINE again", () => bridge.endpointStatus()[id] === "ONLINE");
    await until("the value set after its return is stored", async () =>
      (await samplesByTag(nc)).get("Temperature")?.some((s) => s.value === 190.5),
    );
    // A server that comes back from a restart without the node.
    d.remove("Temperature");
    await until("DEGRADED", () => bridge.endpointStatus()[id] === "DEGRADED");
    await sim.restartServer({ downMs: 300 });
    await until("DEGRADED after the reconnection, the node unknown", () =>
      bridge.endpointStatus()[id] === "DEGRADED" && temperature()?.status === "BadNodeIdUnknown"
        ? true
        : undefined,
    );
    d.restore("Temperature");
    d.set("Temperature", 191.25);
    await until("ONLINE once it is back", () => bridge.endpointStatus()[id] === "ONLINE");
    await until("its new value is stored", async () =>
      (await samplesByTag(nc)).get("Temperature")?.some((s) => s.value === 191.25),
    );
    const statuses = (await storedEvents(nc, "mfg.machine.connector_status_changed.v1")).map(
      (e) => e.value.status,
    );
    const seen = statuses.filter((s) => s !== "OFFLINE");
    assert.deepEqual(
      seen.filter((s, i) => s !== seen[i - 1]),
      ["ONLINE", "DEGRADED", "ONLINE", "DEGRADED", "ONLINE"],
      "the reconnection's OFFLINE aside",
    );
  });

  test("no PackML: a running signal gives downtime and running time, 64-bit counters count exactly at the counting point, alarms name the downtime", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const { nc } = await startStreams(t);
    const d = sim.device("Press7");
    const config = edited(await discoverText(sim), (m) => {
      toSignal(m, "Status.Running", "running");
      toSignal(m, "Counters.GoodParts", "goodCounter");
      toSignal(m, "Counters.ScrapParts", "rejectCounter");
      toSignal(m, "Job.OrderNo", "order");
      toSignal(m, "Job.Lot", "lot");
      m["counters"] = { max: "18446744073709551615" };
      (m["alarms"] as Record<string, unknown>)["downtimeReason"] = { minSeverity: 500 };
      m.telemetry = [];
    });
    config.downtime = { categories: { OverTemperature: "UNPLANNED" } };
    const bridge = await startBridge(t, nc, config);
    await until("the press is baselined", () => bridge.baselined() === 1);
    const t0 = Date.now();
    const at = (ms: number) => new Date(t0 + ms);
    d.set("Running", true, at(100));
    d.set("GoodParts", "384", at(1_000)); // 1000 parts through the UInt64 rollover
    d.set("ScrapParts", "9007199254740996", at(1_000)); // 3 beyond 2^53
    d.raiseAlarm("OverTemperature");
    const raised = await until(
      "AlarmRaised is stored",
      async () => (await storedEvents(nc, "mfg.machine.alarm_raised.v1"))[0],
    );
    d.set("Running", false, at(2_000));
    d.set("Running", true, at(5_000));
    const ended = await until(
      "the downtime ended",
      async () => (await storedEvents(nc, "mfg.machine.downtime_ended.v1"))[0],
    );
    assert.deepEqual(
      [ended.value.durationMillis, { ...ended.value.reason }, ended.value.category],
      [3_000n, { code: "OverTemperature", text: "Ram temperature high" }, "UNPLANNED"],
    );
    d.acknowledgeAlarm("OverTemperature", "ram cooled");
    d.clearAlarm("OverTemperature");
    d.set("OrderNo", "WH/MO/00071", at(6_000));
    const runEnded = await until(
      "the run of the first order ended",
      async () => (await storedEvents(nc, "mfg.production.production_run_ended.v1"))[0],
    );
    assert.deepEqual(
      [runEnded.value.orderRef, runEnded.value.lot, runEnded.value.reason, runEnded.value.nextOrderRef],
      ["WH/MO/00070", "LOT-70A", "ORDER_CHANGE", "WH/MO/00071"],
    );
    const reports = (await storedEvents(nc, "mfg.production.production_reported.v1")).filter(
      (r) => r.value.orderRef === "WH/MO/00070",
    );
    assert.equal(units(reports.map((r) => r.value.goodQuantity)), 1_000);
    assert.equal(units(reports.map((r) => r.value.rejectQuantity)), 3);
    assert.deepEqual(
      [
        reports[0]?.value.goodCounterFrom,
        reports.at(-1)?.value.goodCounterTo,
        reports.at(-1)?.value.rejectCounterTo,
      ],
      // A UInt64 reading above 2^63 - 1 is stored as the long of the same 64 bits.
      [BigInt.asIntN(64, 18446744073709551000n), 384n, 9007199254740996n],
    );
    assert.ok(reports.every((r) => r.value.countingPoint));
    // Ran from 0.1 s to 2 s and from 5 s to the order change at 6 s.
    const ran = reports
      .flatMap((r) => r.value.running)
      .map((p) => [p.startedAt.getTime() - t0, p.endedAt.getTime() - t0]);
    assert.deepEqual(
      ran.reduce((sum, [a, b]) => sum + ((b ?? 0) - (a ?? 0)), 0),
      1_900 + 1_000,
      `running periods ${JSON.stringify(ran)}`,
    );
    assert.equal(
      (await storedEvents(nc, "mfg.machine.machine_state_changed.v1")).length,
      0,
      "no invented PackML state",
    );
    const acked = await until(
      "AlarmAcknowledged",
      async () => (await storedEvents(nc, "mfg.machine.alarm_acknowledged.v1"))[0],
    );
    const cleared = await until(
      "AlarmCleared",
      async () => (await storedEvents(nc, "mfg.machine.alarm_cleared.v1"))[0],
    );
    assert.deepEqual(
      [
        raised.value.alarm.conditionName,
        raised.value.alarm.severity,
        raised.value.alarm.message,
        raised.value.alarm.alarmType,
      ],
      ["OverTemperature", 800, "Ram temperature high", "AlarmConditionType"],
    );
    assert.equal(raised.value.alarm.conditionId, `${d.objectNodeId.replace(/i=\d+$/, "i=100800")}`);
    assert.deepEqual([acked.value.alarmId, acked.value.comment], [raised.value.alarmId, "ram cooled"]);
    assert.deepEqual([cleared.value.alarmId, cleared.value.acknowledged], [raised.value.alarmId, true]);
    assert.equal(
      cleared.value.durationMillis,
      BigInt(cleared.value.clearedAt.getTime() - raised.value.raisedAt.getTime()),
    );
    assert.equal(raised.subject, "mfg.machine.alarm_raised.lyon.press-line.Press7");
  });

  test("a vendor status enumeration as the running signal: its running value runs, another one names the downtime", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const { nc } = await startStreams(t);
    const d = sim.device("Press7");
    const config = edited(await discoverText(sim), (m) => {
      toSignal(m, "Status.Status", "running", { values: ["Running"] });
      m.telemetry = [];
    });
    config.downtime = { categories: { Setup: "PLANNED" } };
    const bridge = await startBridge(t, nc, config);
    await until("the press is baselined", () => bridge.baselined() === 1);
    const t0 = Date.now();
    d.set("Status", 1, new Date(t0 + 100)); // Running
    d.set("Status", 3, new Date(t0 + 700)); // Setup
    d.set("Status", 1, new Date(t0 + 2_700));
    const ended = await until(
      "the downtime ended",
      async () => (await storedEvents(nc, "mfg.machine.downtime_ended.v1"))[0],
    );
    assert.deepEqual(
      [ended.value.durationMillis, ended.value.reason?.code, ended.value.category],
      [2_000n, "Setup", "PLANNED"],
    );
    const started = (await storedEvents(nc, "mfg.machine.downtime_started.v1"))[0];
    assert.deepEqual({ ...started?.value.reason }, { code: "Setup", text: null });
  });

  test("a telemetry-only machine emits telemetry only; a value that cannot be used is dropped with a log line and a metric naming machine, tag and reason", async (t) => {
    const sim = await startSimulator(t, DEVICE_PLANT);
    const { nc } = await startStreams(t);
    const d = sim.device("Press7");
    const config = edited(await discoverText(sim), (m) => {
      m.telemetry = m.telemetry.filter((x) => x.tag === "Anything" || x.tag === "Temperature");
      delete m["alarms"];
    });
    // A second machine: a counter that goes negative.
    const endpoint = config.endpoints[0] as { machines: unknown[] };
    endpoint.machines.push({
      line: "press-line",
      machine: "Stacker",
      signals: { goodCounter: { nodeId: d.nodeId("WordSigned") } },
    });
    d.set("WordSigned", 5);
    const registry = new Registry();
    const bridge = await startBridge(t, nc, config, {}, registry);
    await until("both machines are baselined", () => bridge.baselined() === 2);
    d.set("Anything", "PNG", new Date(), "ByteString");
    d.set("WordSigned", -5);
    d.set("Temperature", 200);
    const machineKey = "lyon/press-line/Press7";
    await until("the ByteString sample is counted as dropped", async () =>
      (await metricValue(registry, "threadline_bridge_samples_dropped_total", {
        machine: machineKey,
        tag: "Anything",
        reason: "unsupported_type",
      })) === 1
        ? true
        : undefined,
    );
    await until("the negative count is counted as dropped", async () =>
      (await metricValue(registry, "threadline_bridge_readings_dropped_total", {
        machine: "lyon/press-line/Stacker",
        signal: "goodCounter",
        reason: "not_a_count",
      })) === 1
        ? true
        : undefined,
    );
    await until("the temperature is stored", async () =>
      (await samplesByTag(nc)).get("Temperature")?.some((s) => s.value === 200),
    );
    await bridge.flush();
    for (const type of [
      "mfg.machine.machine_state_changed.v1",
      "mfg.machine.downtime_started.v1",
      "mfg.production.production_reported.v1",
      "mfg.production.production_run_ended.v1",
    ] as const)
      assert.deepEqual(
        (await storedEvents(nc, type)).filter((e) => e.subject.endsWith(".Press7")),
        [],
        `no ${type} for a machine with telemetry only`,
      );
  });
});
