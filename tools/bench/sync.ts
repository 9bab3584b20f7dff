/**
 * What `sync_interval: always` (deploy/nats/hub-values.yaml: an fsync before every acknowledgement)
 * costs against the server's default (an fsync every 2 minutes), in the same run on the same disk: two
 * single nats-servers of the binary under test, one per setting, each with a file stream of its own.
 *
 * - pipelined: N JetStream publishes of a 256-byte payload with up to `window` acknowledgements
 *   outstanding (as the bridge's outbox and the connector publish), → messages per second;
 * - one at a time: publish, await the acknowledgement, next (a publisher that waits for each) → latency.
 *
 * The figure the hub's sizing needs is the ratio of the two servers' rates. sync_interval needs
 * nats-server 2.10 or later; on the 2.9 floor the bench says so and measures nothing.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { findNatsServerBinary, startNatsServer } from "../local-nats/index.js";

export interface SyncBenchOptions {
  /** Messages published pipelined. @default 20000 */
  readonly messages?: number;
  /** Acknowledgements outstanding at most. @default 256 */
  readonly window?: number;
  /** Messages published one at a time. @default 1000 */
  readonly sequential?: number;
}

export const SYNC_BENCH_DEFAULTS = { messages: 20_000, window: 256, sequential: 1_000 } as const;

export interface SyncRun {
  readonly setting: "default" | "always";
  /** Pipelined publishes per second. */
  readonly rate: number;
  /** One-at-a-time publish → acknowledgement, ms. */
  readonly p50: number;
  readonly p99: number;
}

export type SyncBenchResult =
  | { readonly skipped: string; readonly version: string }
  | {
      readonly version: string;
      readonly messages: number;
      readonly window: number;
      readonly runs: readonly SyncRun[];
    };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(setting: SyncRun["setting"], o: Required<SyncBenchOptions>): Promise<SyncRun> {
  const server = await startNatsServer({
    maxFileStore: 4 * 1024 ** 3,
    ...(setting === "always" ? { syncInterval: "always" } : {}),
  });
  const nc = await connect({ servers: server.clientUrl, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BENCH_SYNC", subjects: ["bench.sync.>"] });
    const js = jetstream(nc);
    const payload = new Uint8Array(256).fill(7);
    let sent = 0;
    const started = performance.now();
    const lane = async () => {
      while (sent < o.messages) {
        sent += 1;
        await js.publish(`bench.sync.${sent % 64}`, payload);
      }
    };
    await Promise.all(Array.from({ length: o.window }, lane));
    const rate = o.messages / ((performance.now() - started) / 1000);
    const latencies: number[] = [];
    for (let i = 0; i < o.sequential; i += 1) {
      const t0 = performance.now();
      await js.publish("bench.sync.one", payload);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    return { setting, rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await nc.close();
    await server.dispose();
  }
}

export async function runSyncBench(
  options: SyncBenchOptions = {},
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<SyncBenchResult> {
  const o = { ...SYNC_BENCH_DEFAULTS, ...options };
  const version = execFileSync(await findNatsServerBinary(), ["--version"], { encoding: "utf8" }).trim();
  const [major, minor] = (/v(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  if (!(Number(major) > 2 || Number(minor) >= 10))
    return { skipped: "sync_interval needs nats-server 2.10 or later", version };
  const runs: SyncRun[] = [];
  for (const setting of ["default", "always"] as const) {
    log(`sync: ${setting}: ${o.messages} publishes, ${o.window} in flight`);
    runs.push(await measure(setting, o));
  }
  return { version, messages: o.messages, window: o.window, runs };
}

export function formatSyncBench(r: SyncBenchResult): string {
  if ("skipped" in r)
    return `## sync: fsync before every acknowledgement\n\nskipped on ${r.version}: ${r.skipped}\n`;
  const base = r.runs.find((x) => x.setting === "default") as SyncRun;
  const rows = r.runs.map(
    (x) =>
      `| ${x.setting === "always" ? "sync_interval: always" : "default (2 min)"} | ${Math.round(x.rate)} | ${(x.rate / base.rate).toFixed(2)} | ${x.p50.toFixed(2)} | ${x.p99.toFixed(2)} |`,
  );
  return [
    `## sync: fsync before every acknowledgement (${r.version}, ${r.messages} publishes, ${r.window} in flight)`,
    "",
    "| setting | publishes/s | × default | one at a time p50 ms | p99 ms |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
