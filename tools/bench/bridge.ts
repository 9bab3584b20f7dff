/**
 * The machine bridge under plant load: one bridge, 50 machines × 20 telemetry tags updated every
 * 100 ms (10 000 samples/s) plus states, counters and stops, from the plant simulator over OPC UA
 * into JetStream. Measures what the bridge sustains (samples/s in, events and samples/s stored),
 * what it costs (CPU, RSS) and the latency from the OPC UA source timestamp to the event stored in
 * JetStream (p50/p99), against two baselines measured in the same run:
 *
 * - raw: the bare @nats-io client publishing what the bridge stored — same messages/s per event
 *   type, same payload sizes — in its own process (./bridge-raw.ts);
 * - OPC UA alone: the bridge's endpoint connection subscribed to the same monitored items, readings
 *   only counted, in its own process (./bridge-opcua.ts): the share of the bridge's CPU that is
 *   node-opcua's.
 *
 * The simulator runs in a child process (`threadline sim plant`), so its CPU is not the bridge's;
 * the bridge runs in this process. The phases run one after the other (OPC UA alone, bridge, raw),
 * so no two measured processes compete for the 2 cores; nats-server is started here.
 */

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type Counter, Registry } from "prom-client";
import { stringify as toYaml } from "yaml";
import { EventCodec, type TelemetrySampled } from "../../contracts/src/index.js";
import { MachineBridge } from "../../services/machine-bridge/src/bridge.js";
import { parseBridgeConfig } from "../../services/machine-bridge/src/config.js";
import {
  applyPlan,
  connectionOptions,
  createLogger,
  EventPublisher,
  natsSettingsFromEnv,
  planChanges,
  readMessages,
  serverFacts,
} from "../../streams/src/index.js";
import { type LocalNatsServer, startNatsServer } from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";
import { bridgeMappingFor } from "../sim/plant/bridge-mapping.js";
import { type PlantConfigInput, parsePlantConfig } from "../sim/plant/config.js";
import {
  type LatencyStats,
  latencyStats,
  processCpuMs,
  round1,
  sleep,
  WindowMeter,
  type WindowStats,
} from "./bridge-measure.js";
import type { OpcuaInput, OpcuaResult } from "./bridge-opcua.js";
import type { RawFlow, RawInput, RawResult } from "./bridge-raw.js";
import { runChild, tail, terminate, track } from "./children.js";

export interface BridgeBenchOptions {
  /** Production lines of the simulated plant (one site). @default 5 */
  lines?: number;
  /** Machines per line. @default 10 */
  machinesPerLine?: number;
  /** Telemetry tags per machine. @default 20 */
  tags?: number;
  /** How often the simulator updates every telemetry tag (the PLC's sampling). @default 100 */
  sampleIntervalMs?: number;
  /**
   * `samplingIntervalMs` of the bridge's telemetry monitored items. 0: the server reports every
   * change, i.e. every sample the simulator makes. 100 makes node-opcua's server sample each item
   * on its own 100 ms timer; those timers run late under load and miss updates of a source that
   * changes every 100 ms too (13–41% of the samples in our runs), so the bridge would not get the
   * load this bench is about. @default 0
   */
  samplingIntervalMs?: number;
  /** The bridge's `telemetry.batchIntervalMs`. @default 1000 (the bridge's default) */
  batchIntervalMs?: number;
  /** Before each measurement window. @default 5 */
  warmupSeconds?: number;
  /** Each measurement window. @default 25 */
  seconds?: number;
}

/** The one source of the bench's defaults. */
export const BRIDGE_BENCH_DEFAULTS: Required<BridgeBenchOptions> = {
  lines: 5,
  machinesPerLine: 10,
  tags: 20,
  sampleIntervalMs: 100,
  samplingIntervalMs: 0,
  batchIntervalMs: 1_000,
  warmupSeconds: 5,
  seconds: 25,
};

/**
 * Options from the environment: `BENCH_BRIDGE_SECONDS` (window), `BENCH_BRIDGE_BATCH_MS`
 * (`batchIntervalMs`), `BENCH_BRIDGE_SAMPLING_MS` (`samplingIntervalMs`).
 */
export function bridgeBenchOptionsFromEnv(env: Record<string, string | undefined>): BridgeBenchOptions {
  const pick = (key: keyof BridgeBenchOptions, name: string, min: number): BridgeBenchOptions => {
    const v = env[name];
    if (v === undefined || v === "") return {};
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}`);
    return { [key]: n };
  };
  return {
    ...pick("seconds", "BENCH_BRIDGE_SECONDS", 1),
    ...pick("batchIntervalMs", "BENCH_BRIDGE_BATCH_MS", 1),
    ...pick("samplingIntervalMs", "BENCH_BRIDGE_SAMPLING_MS", 0),
  };
}

/** One event type as stored during the bridge's window. */
export interface StoredType {
  readonly perSec: number;
  readonly avgBytes: number;
  /** Stored time (JetStream) − event time (`ce-time`: the source time of the change or last count). */
  readonly latency: LatencyStats;
}

export interface BridgeBenchResult {
  readonly setup: Required<BridgeBenchOptions> & { machines: number; monitoredItems: number };
  readonly bridge: {
    /** OPC UA value changes handed to the bridge (telemetry and signals), per second. */
    readonly readingsPerSec: number;
    readonly samplesStoredPerSec: number;
    readonly eventsStoredPerSec: number;
    readonly byType: Readonly<Record<string, StoredType>>;
    /** Per telemetry sample taken in the window: stored time of its TelemetrySampled − its source time. */
    readonly sampleLatency: LatencyStats;
    readonly samplesDropped: number;
    readonly stats: WindowStats;
    /** CPU of the simulator and of nats-server during the bridge's window (% of one core), Linux only. */
    readonly simCpuPct: number | undefined;
    readonly natsCpuPct: number | undefined;
  };
  readonly opcua: OpcuaResult;
  readonly raw: RawResult;
}

const GiB = 2 ** 30;
const TELEMETRY = "mfg.machine.telemetry_sampled.v1";
const ENDPOINT_ID = "plant-sim";
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = path.join(REPO, "bin", "threadline.js");
const CHILD = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
/** node-opcua's certificates, kept between runs (making them takes seconds). */
const PKI = path.join(tmpdir(), "threadline-bench-pki");
/** Loaded into the simulator: it exits when this process goes away (its stdin closes). */
const EXIT_WITH_PARENT =
  "data:text/javascript,process.stdin.on('end',()=>process.exit(1));process.stdin.resume();";

const progress = (line: string) => process.stderr.write(`bench bridge: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// The plant

const TAG_KINDS = [
  { name: "temperature", unit: "Cel", mean: 80, sd: 0.4, driftPerHour: 0.5 },
  { name: "pressure", unit: "bar", mean: 4.2, sd: 0.05, driftPerHour: 0 },
  { name: "speed", unit: "1/min", mean: 50, sd: 0.8, driftPerHour: 0 },
  { name: "current", unit: "A", mean: 12, sd: 0.2, driftPerHour: 0 },
  { name: "vibration", unit: "mm/s", mean: 2.5, sd: 0.1, driftPerHour: 0 },
] as const;

/**
 * One site, `lines` × `machinesPerLine` machines with cycle times spread over 1–2 s, 2% rejects,
 * and stops: a jam (hold, 3–10 s) after 1% of cycles, a guard door (stop, 5–15 s) after 0.2%.
 */
export function benchPlant(o: Required<BridgeBenchOptions>): PlantConfigInput {
  const telemetry = Array.from({ length: o.tags }, (_, i) => {
    const kind = TAG_KINDS[i % TAG_KINDS.length] as (typeof TAG_KINDS)[number];
    return { ...kind, name: `${kind.name}-${Math.floor(i / TAG_KINDS.length) + 1}` };
  });
  const stopReasons = [
    { code: "E-104", text: "Infeed jam", probability: 0.01, durationMs: [3_000, 10_000] as [number, number] },
    {
      code: "E-200",
      text: "Guard door open",
      probability: 0.002,
      durationMs: [5_000, 15_000] as [number, number],
      kind: "stop" as const,
    },
  ];
  let n = 0;
  return {
    seed: 7,
    sites: [
      {
        id: "bench",
        lines: Array.from({ length: o.lines }, (_, l) => ({
          id: `line-${l + 1}`,
          machines: Array.from({ length: o.machinesPerLine }, (_, m) => {
            const i = n++;
            return {
              id: `l${l + 1}-m${String(m + 1).padStart(2, "0")}`,
              cycleTimeMs: 1_000 + ((i * 379) % 1_001),
              rejectRate: 0.02,
              sampleIntervalMs: o.sampleIntervalMs,
              telemetry,
              stopReasons,
              order: `WH/MO/${String(100 + l).padStart(5, "0")}`,
              lot: `LOT-BENCH-${l + 1}`,
            };
          }),
        })),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface SimChild {
  readonly endpointUrl: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** `threadline sim plant` on a free port; resolves with its endpoint URL once it serves. */
async function startSim(configFile: string, timeoutMs: number): Promise<SimChild> {
  const args = ["sim", "plant", "--config", configFile, "--port", "0", "--host", "127.0.0.1", "--speed", "1"];
  const child = spawn(
    process.execPath,
    ["--import", EXIT_WITH_PARENT, BIN, ...args, "--pki", `${PKI}/server`],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  track(child);
  let shown = 0;
  const errLines = tail(child.stderr as NodeJS.ReadableStream, 30, (line) => {
    if (shown++ < 10) process.stderr.write(`  sim: ${line}\n`);
  });
  const stop = () => terminate(child, 10_000);
  try {
    const endpointUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the simulator did not serve within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = (err: Error | undefined, url?: string) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(url as string);
      };
      tail(child.stdout as NodeJS.ReadableStream, 5, (line) => {
        const m = /^OPC UA endpoint: (opc\.tcp:\/\/\S+)/.exec(line);
        if (m) done(undefined, m[1]);
      });
      child.once("exit", (code, signal) =>
        done(new Error(`the simulator exited (${code ?? signal}) before serving:\n${errLines.join("\n")}`)),
      );
      child.once("error", (err) => done(err));
    });
    return { endpointUrl, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading back what the bridge stored

interface TypeAcc {
  count: number;
  bytes: number;
  latencies: number[];
}

/**
 * What a stream stored from `t0` on, read with the SDK's stream reader: per event type, the messages
 * stored in [t0, t1) (JetStream timestamp): count, size and stored − event time; per telemetry
 * sample taken in [t0, t1) (source time), wherever it was stored: stored − source time. Counting
 * samples by source time keeps the window's edges from cutting batches.
 */
async function readStored(
  nc: NatsConnection,
  codec: EventCodec,
  stream: string,
  t0: number,
  t1: number,
  into: { types: Map<string, TypeAcc>; sampleLatencies: number[] },
): Promise<void> {
  for await (const m of readMessages(nc, { stream, since: new Date(t0), batch: 1_000 })) {
    const stored = Number(m.timestampNanos / 1_000n) / 1_000;
    const type = m.headers?.get("ce-type") ?? "unknown";
    if (stored >= t0 && stored < t1) {
      const acc = into.types.get(type) ?? { count: 0, bytes: 0, latencies: [] };
      into.types.set(type, acc);
      acc.count++;
      acc.bytes += m.data.length;
      acc.latencies.push(stored - Date.parse(m.headers?.get("ce-time") ?? ""));
    }
    if (type === TELEMETRY) {
      const { value } = codec.decodeKnown<TelemetrySampled>(m.data, { as: TELEMETRY });
      for (const s of value.samples) {
        const source = s.sourceTime.getTime();
        if (source >= t0 && source < t1) into.sampleLatencies.push(stored - source);
      }
    }
  }
}

async function counterTotal(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name) as Counter | undefined;
  const data = await metric?.get();
  return data?.values.reduce((s, v) => s + v.value, 0) ?? 0;
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------

export async function runBridgeBench(options: BridgeBenchOptions = {}): Promise<BridgeBenchResult> {
  const o: Required<BridgeBenchOptions> = { ...BRIDGE_BENCH_DEFAULTS, ...options };
  const machines = o.lines * o.machinesPerLine;
  const work = mkdtempSync(path.join(tmpdir(), "threadline-bench-bridge-"));
  mkdirSync(PKI, { recursive: true });
  const phaseTimeoutMs = (o.warmupSeconds + o.seconds) * 1000 + 120_000;
  let server: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let sim: SimChild | undefined;
  let bridge: MachineBridge | undefined;
  try {
    progress("starting nats-server");
    server = await startNatsServer({ maxFileStore: 4 * GiB });
    nc = await connect(connectionOptions(natsSettingsFromEnv({ NATS_URL: server.clientUrl })));
    const jsm = await jetstreamManager(nc);
    await applyPlan(
      jsm,
      await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)),
      {
        force: false,
      },
    );
    // The baseline's stream: file storage like MFG_MACHINE, no duplicate tracking (raw sends no ids).
    await jsm.streams.add({ name: "BENCH_RAW", subjects: ["bench.raw.>"], max_bytes: GiB });

    const plant = benchPlant(o);
    const plantFile = path.join(work, "plant.yaml");
    writeFileSync(plantFile, toYaml(plant));
    progress(
      `starting the plant simulator (${machines} machines × ${o.tags} tags @ ${o.sampleIntervalMs} ms)`,
    );
    sim = await startSim(plantFile, 120_000);
    const bridgeInput = bridgeMappingFor(parsePlantConfig(plant), sim.endpointUrl, {
      endpointId: ENDPOINT_ID,
      samplingIntervalMs: o.samplingIntervalMs,
      overrides: {
        pkiFolder: `${PKI}/client`,
        telemetry: { batchIntervalMs: o.batchIntervalMs },
      },
    });
    const config = parseBridgeConfig(bridgeInput);

    progress("phase 1/3: OPC UA client alone (child process)");
    const opcua = await runChild<OpcuaInput, OpcuaResult>(
      CHILD("bridge-opcua.js"),
      "the OPC UA client",
      { bridgeConfig: bridgeInput, warmupSeconds: o.warmupSeconds, seconds: o.seconds },
      phaseTimeoutMs,
    );

    progress("phase 2/3: the bridge (this process)");
    const registry = new Registry();
    const codec = new EventCodec();
    const logger = createLogger({ service: "machine-bridge", level: "warn", destination: process.stderr });
    const publisher = new EventPublisher(jetstream(nc), codec, {
      service: "machine-bridge",
      site: config.site,
      metrics: registry,
      logger,
    });
    bridge = await MachineBridge.start({ config, publisher, jsm, codec, logger, registry });
    const started = bridge;
    await waitFor("bridge endpoint ONLINE", () => started.endpointStatus()[ENDPOINT_ID] === "ONLINE", 60_000);
    progress(`bridge ONLINE, warm-up ${o.warmupSeconds} s, then ${o.seconds} s measured`);
    await sleep(o.warmupSeconds * 1000);
    globalThis.gc?.();
    const readings0 = await counterTotal(registry, "threadline_bridge_readings_total");
    const simCpu0 = processCpuMs(sim.pid);
    const natsCpu0 = processCpuMs(server.pid);
    const t0 = Date.now();
    const meter = WindowMeter.start();
    // Monotonic µs, the clock of a --cpu-prof profile: to keep only the window's samples.
    progress(`window starts (monotonic ${process.hrtime.bigint() / 1_000n} µs)`);
    await sleep(o.seconds * 1000);
    const stats = meter.stop();
    const t1 = Date.now();
    progress(`window ends (monotonic ${process.hrtime.bigint() / 1_000n} µs)`);
    const readings = (await counterTotal(registry, "threadline_bridge_readings_total")) - readings0;
    const cpuShare = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : round1(((b - a) / stats.wallMs) * 100);
    const simCpuPct = cpuShare(simCpu0, processCpuMs(sim.pid));
    const natsCpuPct = cpuShare(natsCpu0, processCpuMs(server.pid));
    // The window's last samples go out with the next batches: let them, then stop.
    await sleep(o.batchIntervalMs + 2_000);
    await bridge.stop({ timeoutMs: 10_000 });
    bridge = undefined;
    const samplesDropped = await counterTotal(registry, "threadline_bridge_samples_dropped_total");
    await sim.stop();
    sim = undefined;

    progress("reading back what was stored in the window");
    const acc = { types: new Map<string, TypeAcc>(), sampleLatencies: [] as number[] };
    for (const stream of ["MFG_MACHINE", "MFG_PRODUCTION"]) await readStored(nc, codec, stream, t0, t1, acc);
    const windowS = (t1 - t0) / 1000;
    const byType: Record<string, StoredType> = {};
    for (const [type, a] of [...acc.types].sort(([x], [y]) => x.localeCompare(y)))
      byType[type] = {
        perSec: round1(a.count / windowS),
        avgBytes: Math.round(a.bytes / a.count),
        latency: latencyStats(a.latencies),
      };
    const eventsStored = [...acc.types.values()].reduce((s, a) => s + a.count, 0);

    progress("phase 3/3: raw @nats-io publisher, same messages/s and sizes (child process)");
    const flows: RawFlow[] = Object.entries(byType).map(([type, t]) => ({
      subject: `bench.raw.${type.split(".")[2]}`,
      bytes: t.avgBytes,
      perSec: t.perSec,
    }));
    const raw = await runChild<RawInput, RawResult>(
      CHILD("bridge-raw.js"),
      "the raw publisher",
      { natsUrl: server.clientUrl, flows, warmupSeconds: o.warmupSeconds, seconds: o.seconds },
      phaseTimeoutMs,
    );

    return {
      setup: { ...o, machines, monitoredItems: opcua.monitoredItems },
      bridge: {
        readingsPerSec: Math.round(readings / windowS),
        samplesStoredPerSec: Math.round(acc.sampleLatencies.length / windowS),
        eventsStoredPerSec: round1(eventsStored / windowS),
        byType,
        sampleLatency: latencyStats(acc.sampleLatencies),
        samplesDropped,
        stats,
        simCpuPct,
        natsCpuPct,
      },
      opcua,
      raw,
    };
  } finally {
    await bridge?.stop({ timeoutMs: 5_000 }).catch(() => undefined);
    await sim?.stop();
    await nc?.close().catch(() => undefined);
    await server?.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en");
const lat = (l: LatencyStats) =>
  `p50 ${fmt(l.p50Ms)} ms, p99 ${fmt(l.p99Ms)} ms (max ${fmt(l.maxMs)}, n=${fmt(l.count)})`;
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(a / b >= 10 ? 0 : 1) : "—");

export function formatBridgeBench(r: BridgeBenchResult): string {
  const s = r.setup;
  const b = r.bridge;
  const target = s.machines * s.tags * (1000 / s.sampleIntervalMs);
  const short = (type: string) => type.split(".")[2] ?? type;
  const row = (name: string, w: WindowStats) =>
    `  ${name.padEnd(14)} ${`${w.cpuPct}%`.padStart(7)} (user ${w.userPct}, sys ${w.systemPct}, GC ${w.gcPct})  RSS ${w.rssStartMiB} → ${w.rssEndMiB} MiB (peak ${w.rssPeakMiB}), heap ${w.heapUsedStartMiB} → ${w.heapUsedEndMiB} MiB  loop delay p99 ${w.loopDelayP99Ms} ms, max ${w.loopDelayMaxMs} ms`;
  const lines = [
    `bridge: ${s.machines} machines × ${s.tags} tags updated every ${s.sampleIntervalMs} ms (target ${fmt(target)} samples/s), ${fmt(s.monitoredItems)} monitored items, telemetry sampling ${s.samplingIntervalMs === 0 ? "0 (every change)" : `${s.samplingIntervalMs} ms`}, batch ${s.batchIntervalMs} ms; warm-up ${s.warmupSeconds} s, window ${s.seconds} s`,
    `  OPC UA in      ${fmt(b.readingsPerSec)} readings/s (client alone: ${fmt(r.opcua.samplesPerSec)} samples/s + ${r.opcua.signalsPerSec} signal changes/s)`,
    `  stored         ${fmt(b.samplesStoredPerSec)} samples/s in ${fmt(b.eventsStoredPerSec)} events/s${b.samplesDropped > 0 ? `; ${fmt(b.samplesDropped)} samples DROPPED` : ""}`,
    ...Object.entries(b.byType).map(
      ([type, t]) =>
        `    ${short(type).padEnd(24)} ${String(t.perSec).padStart(6)}/s  ${fmt(t.avgBytes).padStart(6)} B  stored − event time ${lat(t.latency)}`,
    ),
    `  latency source → stored, per sample: ${lat(b.sampleLatency)}`,
    `  latency source → received by the OPC UA client alone: ${lat(r.opcua.sourceToReceived)}`,
    `  raw publish → PubAck: ${lat(r.raw.ack)} (raw sent ${fmt(r.raw.perSec)} msgs/s, ${fmt(Math.round(r.raw.bytesPerSec / 1024))} KiB/s)`,
    `  CPU (% of one core) and memory over the window:`,
    row("bridge", b.stats),
    row("OPC UA alone", r.opcua.stats),
    row("raw NATS", r.raw.stats),
    `  bridge/raw: CPU ×${ratio(b.stats.cpuPct, r.raw.stats.cpuPct)}, peak RSS ×${ratio(b.stats.rssPeakMiB, r.raw.stats.rssPeakMiB)}; OPC UA alone = ${Math.round((r.opcua.stats.cpuPct / b.stats.cpuPct) * 100)}% of the bridge's CPU`,
    `  alongside the bridge: simulator ${b.simCpuPct ?? "?"}% of a core, nats-server ${b.natsCpuPct ?? "?"}%`,
  ];
  return lines.join("\n");
}
