/**
 * SDK vs raw client, in one run on one server: publish (Avro encode + validation + CloudEvents
 * headers + dedup id + metrics + PubAck) and consume-with-ack (envelope + decode + schema resolution +
 * handler dispatch + metrics + ack), each against the bare @nats-io client doing the same transport
 * work with pre-encoded bytes. Each phase runs in its own process (./sdk-phase.ts), and the phases
 * take turns for several rounds: throughput on a shared machine moves by a third from one minute to
 * the next, so a ratio is taken between neighbouring phases of a round, and the median is reported.
 */
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../local-nats/index.js";
import { percentile } from "./bridge-measure.js";
import { runChild } from "./children.js";
import type { PhaseResult, SdkPhase, SdkPhaseInput } from "./sdk-phase.js";

export type { PhaseResult } from "./sdk-phase.js";

export interface SdkBenchOptions {
  /** Events per phase. @default 200000 */
  events?: number;
  /** Rounds of every phase, taking turns. @default 3 */
  rounds?: number;
  /** Publishes awaiting their PubAck at once, raw and SDK alike. @default 256 */
  window?: number;
  /** Handlers at once in the SDK consumer; the raw consumer acks inline. @default 64 */
  concurrency?: number;
  /** A server to use instead of starting one. @default a local nats-server */
  natsUrl?: string;
}

/**
 * One round's phases. `publishHeaders`: the raw client sending the SDK's CloudEvents headers without
 * a dedup id; `publishWire`: with the dedup id too (the SDK's wire).
 */
export interface SdkRound {
  readonly publishRaw: PhaseResult;
  readonly publishHeaders: PhaseResult;
  readonly publishWire: PhaseResult;
  readonly publishSdk: PhaseResult;
  readonly consumeRaw: PhaseResult;
  readonly consumeSdk: PhaseResult;
}

export interface SdkBenchResult {
  readonly events: number;
  readonly server: string;
  readonly rounds: readonly SdkRound[];
}

/** Options from the environment: `BENCH_SDK_EVENTS`, `BENCH_SDK_ROUNDS`, `NATS_URL` (a server to use). */
export function sdkBenchOptionsFromEnv(env: Record<string, string | undefined>): SdkBenchOptions {
  const o: SdkBenchOptions = {};
  for (const [key, name] of [
    ["events", "BENCH_SDK_EVENTS"],
    ["rounds", "BENCH_SDK_ROUNDS"],
  ] as const) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    const n = Number(v.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be an integer ≥ 1, got ${v}`);
    o[key] = n;
  }
  if (env["NATS_URL"]) o.natsUrl = env["NATS_URL"];
  return o;
}

const PHASE_FILE = fileURLToPath(new URL("./sdk-phase.js", import.meta.url));

export async function runSdkBench(options: SdkBenchOptions = {}): Promise<SdkBenchResult> {
  const events = options.events ?? 200_000;
  const rounds = options.rounds ?? 3;
  const server = options.natsUrl ? undefined : await startNatsServer({ maxFileStore: 8 * 2 ** 30 });
  const natsUrl = options.natsUrl ?? (server?.clientUrl as string);
  try {
    const nc = await connect({ servers: natsUrl });
    const version = nc.info?.version ?? "unknown";
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BENCH_RAW", subjects: ["bench.raw.>"] });
    await jsm.streams.add({ name: "BENCH_WIRE", subjects: ["bench.wire.>"] });
    await jsm.streams.add({ name: "BENCH_SDK", subjects: ["mfg.production.>"] });
    await nc.close();
    const run = (phase: SdkPhase, extra: Partial<SdkPhaseInput>, round: number) =>
      runChild<SdkPhaseInput, PhaseResult>(
        PHASE_FILE,
        `${phase} (round ${round + 1})`,
        {
          natsUrl,
          phase,
          events,
          window: options.window ?? 256,
          concurrency: options.concurrency ?? 64,
          ...extra,
        },
        10 * 60_000,
      );
    const published: Pick<SdkRound, "publishRaw" | "publishHeaders" | "publishWire" | "publishSdk">[] = [];
    for (let r = 0; r < rounds; r++)
      published.push({
        publishRaw: await run("publish-raw", { subject: "bench.raw.plant1" }, r),
        publishHeaders: await run("publish-headers", { subject: "bench.wire.plant1" }, r),
        publishWire: await run("publish-wire", { subject: "bench.wire.plant1" }, r),
        publishSdk: await run("publish-sdk", {}, r),
      });
    // Both consumers read the same messages: the first `events` the SDK published, with its headers.
    const result: SdkRound[] = [];
    for (let r = 0; r < rounds; r++)
      result.push({
        ...(published[r] as (typeof published)[number]),
        consumeRaw: await run("consume-raw", { stream: "BENCH_SDK", durable: `raw-${r}` }, r),
        consumeSdk: await run("consume-sdk", { stream: "BENCH_SDK", durable: `sdk-${r}` }, r),
      });
    return { events, server: version, rounds: result };
  } finally {
    await server?.dispose();
  }
}

export function formatSdkBench(r: SdkBenchResult): string {
  const n = (v: number) => v.toLocaleString("en");
  const phase = (p: PhaseResult) => `${n(p.perSec)}/s ${p.cpuUsPerEvent} µs CPU ${p.peakRssMiB} MiB`;
  const ratios = (of: (x: SdkRound) => number) => {
    const each = r.rounds.map(of);
    // The middle round of three (nearest rank): the median the bench reports.
    return `${percentile([...each], 50).toFixed(2)} (${each.map((v) => v.toFixed(2)).join(", ")})`;
  };
  const lines = [
    `sdk vs raw @nats-io client, nats-server ${r.server} (${n(r.events)} events per phase, each phase its own process, ${r.rounds.length} rounds)`,
  ];
  r.rounds.forEach((x, i) => {
    lines.push(
      `  round ${i + 1}: publish raw ${phase(x.publishRaw)} | raw + headers ${phase(x.publishHeaders)}`,
      `           publish raw + headers + dedup id ${phase(x.publishWire)} | sdk ${phase(x.publishSdk)}`,
      `           consume raw ${phase(x.consumeRaw)} | sdk ${phase(x.consumeSdk)}`,
    );
  });
  lines.push(
    "  median over rounds (each round's ratio):",
    `    publish sdk/raw ${ratios((x) => x.publishSdk.perSec / x.publishRaw.perSec)}, sdk/raw same wire ${ratios((x) => x.publishSdk.perSec / x.publishWire.perSec)}, raw same wire/raw ${ratios((x) => x.publishWire.perSec / x.publishRaw.perSec)}`,
    `    publish raw + headers/raw ${ratios((x) => x.publishHeaders.perSec / x.publishRaw.perSec)}, raw + headers + id/raw + headers ${ratios((x) => x.publishWire.perSec / x.publishHeaders.perSec)}`,
    `    consume sdk/raw ${ratios((x) => x.consumeSdk.perSec / x.consumeRaw.perSec)}`,
    `    peak RSS sdk/raw: publish ${ratios((x) => x.publishSdk.peakRssMiB / x.publishRaw.peakRssMiB)}, consume ${ratios((x) => x.consumeSdk.peakRssMiB / x.consumeRaw.peakRssMiB)}`,
    `    CPU per event sdk/raw: publish ${ratios((x) => x.publishSdk.cpuUsPerEvent / x.publishRaw.cpuUsPerEvent)}, consume ${ratios((x) => x.consumeSdk.cpuUsPerEvent / x.consumeRaw.cpuUsPerEvent)}`,
  );
  return lines.join("\n");
}
