/**
 * What the bridge bench measures in each process it compares (the bridge, the bare OPC UA client,
 * the raw NATS publisher), the same way in all three: CPU from `process.cpuUsage()` over the wall
 * time of the window, resident memory sampled every 200 ms, event-loop delay and GC pauses. Also
 * the child-process protocol of the bench. Node built-ins only, so a child that imports this loads
 * nothing it would not load anyway (its RSS stays its own).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

/** One process over one measurement window. */
export interface WindowStats {
  readonly wallMs: number;
  /** CPU time (user + system, every thread of the process) / wall time, in % of one core. */
  readonly cpuPct: number;
  readonly userPct: number;
  readonly systemPct: number;
  /** GC pause time / wall time, in %. */
  readonly gcPct: number;
  /** RSS and heap at the start of the window: with the end values, whether memory grows. */
  readonly rssStartMiB: number;
  readonly heapUsedStartMiB: number;
  readonly rssPeakMiB: number;
  readonly rssEndMiB: number;
  readonly heapUsedEndMiB: number;
  /** Event-loop delay (timer lateness at 10 ms resolution). */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

/** Measures this process from `start()` to `stop()`. */
export class WindowMeter {
  readonly #t0 = performance.now();
  readonly #cpu0 = process.cpuUsage();
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });
  readonly #gc: PerformanceObserver;
  readonly #sampler: NodeJS.Timeout;
  #gcMs = 0;
  readonly #mem0 = process.memoryUsage();
  #rssPeak = this.#mem0.rss;

  private constructor() {
    this.#loop.enable();
    this.#gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#gcMs += e.duration;
    });
    this.#gc.observe({ entryTypes: ["gc"] });
    this.#sampler = setInterval(() => {
      this.#rssPeak = Math.max(this.#rssPeak, process.memoryUsage.rss());
    }, 200);
  }

  static start(): WindowMeter {
    return new WindowMeter();
  }

  stop(): WindowStats {
    const cpu = process.cpuUsage(this.#cpu0);
    const wallMs = performance.now() - this.#t0;
    clearInterval(this.#sampler);
    this.#gc.disconnect();
    this.#loop.disable();
    const mem = process.memoryUsage();
    const pct = (us: number) => round1((us / 1000 / wallMs) * 100);
    return {
      wallMs: Math.round(wallMs),
      cpuPct: pct(cpu.user + cpu.system),
      userPct: pct(cpu.user),
      systemPct: pct(cpu.system),
      gcPct: round1((this.#gcMs / wallMs) * 100),
      rssStartMiB: mib(this.#mem0.rss),
      heapUsedStartMiB: mib(this.#mem0.heapUsed),
      rssPeakMiB: mib(Math.max(this.#rssPeak, mem.rss)),
      rssEndMiB: mib(mem.rss),
      heapUsedEndMiB: mib(mem.heapUsed),
      loopDelayP99Ms: round1(this.#loop.percentile(99) / 1e6),
      loopDelayMaxMs: round1(this.#loop.max / 1e6),
    };
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
export const round1 = (n: number) => Math.round(n * 10) / 10;

let clockTicks: number | undefined;

/**
 * CPU time (user + system) another process has used so far, in ms, from /proc (Linux); undefined
 * elsewhere or when the process is gone. Used for the simulator's and nats-server's share.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

/** Nearest-rank percentile of unsorted values (sorted in place); NaN when empty. */
export function percentile(values: number[] | Float64Array, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values instanceof Float64Array ? values.sort() : values.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** p50/p99/max of latencies in ms. */
export interface LatencyStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function latencyStats(values: number[]): LatencyStats {
  if (values.length === 0) return { count: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, maxMs: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50Ms: Math.round(percentile(sorted, 50)),
    p99Ms: Math.round(percentile(sorted, 99)),
    maxMs: Math.round(sorted[sorted.length - 1] as number),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Child-process protocol: the parent writes one JSON line (the input) on the child's stdin and
// keeps stdin open; the child answers `RESULT <json>` on stdout, progress goes to stderr. When the
// parent dies its end of the pipe closes and the child exits, so no child outlives a bench.

export const RESULT_PREFIX = "RESULT ";

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Runs a child's main: reads its input, runs `fn`, prints the result, exits. */
export function childMain<I, R>(label: string, fn: (input: I) => Promise<R>): void {
  const lines = createInterface({ input: process.stdin });
  let started = false;
  lines.on("line", (line) => {
    if (started) return;
    started = true;
    fn(JSON.parse(line) as I).then(
      (result) => {
        process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(0));
      },
      (err: unknown) => {
        process.stderr.write(`${label}: failed: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  });
  // The parent went away: stop at once.
  lines.on("close", () => {
    process.stderr.write(`${label}: parent closed stdin, exiting\n`);
    process.exit(started ? 1 : 2);
  });
}
