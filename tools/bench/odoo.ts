/**
 * Production postings to Odoo under a fixed latency: the real outbound consumer (`startOutbound`)
 * posts ProductionReported events from MFG_PRODUCTION to the Odoo simulator over HTTP, every Odoo
 * call answered after a fixed 20 ms, the client allowed 8 requests at once. The ideal is what 8
 * requests of 20 ms each allow: 8 ÷ 0.020 s = 400 calls/s, i.e. 400 ÷ (calls per posting)
 * postings/s; the bench reports what is achieved as a ratio to it, and where the rest goes:
 *
 *   calls/s ÷ ideal = (request time ÷ (concurrency × wall)) × (20 ms ÷ mean request time)
 *
 * — how much of the time the client's slots hold a request, and how much of a request is the
 * fixed latency. Slots are idle when fewer postings run than slots (orders serialized, nothing
 * fetched yet) or when a running posting is between two of its calls (client work, the
 * ProductionPosted publish); from the handlers' time and a 5 ms sampling of the consumer.
 *
 * The simulator runs in a child process (`threadline sim odoo`, so its CPU is not the bench's) and
 * is reached only over HTTP on 127.0.0.1, like a real Odoo; nats-server is started here with the
 * declared streams. Each phase has a fresh simulator and its own production orders, publishes its
 * reports round-robin over them (a plant's machines report at the same time), and ends when every
 * report is posted; then Odoo is checked: each report is exactly one done order carrying its event
 * id, with its quantity. Scheduler statistics of both JavaScript threads (running, waiting for a
 * core) show how much of a call's time the shared machine adds.
 */

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/index.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import {
  OUTBOUND_DEFAULTS,
  type Outbound,
  productionPostedId,
  startOutbound,
} from "../../services/odoo-connector/src/outbound/index.js";
import {
  applyPlan,
  connectionOptions,
  createLogger,
  EventPublisher,
  natsSettingsFromEnv,
  planChanges,
  serverFacts,
} from "../../streams/src/index.js";
import { type LocalNatsServer, startNatsServer } from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";
import {
  type LatencyStats,
  latencyStats,
  processCpuMs,
  round1,
  sleep,
  WindowMeter,
  type WindowStats,
} from "./bridge-measure.js";
import { type SimChild, simAdmin, startSim } from "./odoo-sim.js";
import {
  type BenchOrder,
  createOrders,
  type OdooPostings,
  odooPostings,
  postedSince,
  reportsFor,
  reportValue,
} from "./production-orders.js";
import { metricSum } from "./registry-sum.js";

export interface OdooBenchOptions {
  /** Odoo version the simulator behaves as. @default 17 */
  profile?: 16 | 17 | 18 | 19;
  /** ProductionReported events of the main phase. @default 400 */
  events?: number;
  /** Production orders they are spread over (postings of one order run one after the other). @default 50 */
  orders?: number;
  /** Requests in flight at most (the client's `concurrency`), and postings at once. @default 8 */
  concurrency?: number;
  /** Fixed latency of every Odoo call (a simulator fault). @default 20 */
  latencyMs?: number;
  /**
   * The client's `ratePerSecond`: start times 0.1 ms apart, so it never binds below 10 000 calls/s
   * (the connector's default is 20). @default 10000
   */
  ratePerSecond?: number;
  /** Run the comparison phases too (handlers 2× and ½× concurrency, concurrency 1). @default true */
  comparisons?: boolean;
  /** Calls of the baseline: the bare client reading one small record, `concurrency` at a time. @default 1000 */
  baselineCalls?: number;
}

/** The one source of the bench's defaults. */
export const ODOO_BENCH_DEFAULTS: Required<OdooBenchOptions> = {
  profile: 17,
  events: 400,
  orders: 50,
  concurrency: 8,
  latencyMs: 20,
  ratePerSecond: 10_000,
  comparisons: true,
  baselineCalls: 1_000,
};

/**
 * Options from the environment: `BENCH_ODOO_PROFILE`, `BENCH_ODOO_EVENTS`, `BENCH_ODOO_ORDERS`,
 * `BENCH_ODOO_CONCURRENCY`, `BENCH_ODOO_COMPARISONS` (0 skips the comparison phases).
 */
export function odooBenchOptionsFromEnv(env: Record<string, string | undefined>): OdooBenchOptions {
  const int = (name: string, min: number): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const o: OdooBenchOptions = {};
  const profile = int("BENCH_ODOO_PROFILE", 16);
  if (profile !== undefined) {
    if (![16, 17, 18, 19].includes(profile))
      throw new Error(`BENCH_ODOO_PROFILE must be 16–19, got ${profile}`);
    o.profile = profile as OdooBenchOptions["profile"] & number;
  }
  const events = int("BENCH_ODOO_EVENTS", 1);
  if (events !== undefined) o.events = events;
  const orders = int("BENCH_ODOO_ORDERS", 1);
  if (orders !== undefined) o.orders = orders;
  const concurrency = int("BENCH_ODOO_CONCURRENCY", 1);
  if (concurrency !== undefined) o.concurrency = concurrency;
  const comparisons = int("BENCH_ODOO_COMPARISONS", 0);
  if (comparisons !== undefined) o.comparisons = comparisons > 0;
  return o;
}

/** One run of the outbound consumer over a fresh set of orders. */
export interface OdooPhaseSpec {
  readonly name: string;
  /** The client's concurrency (requests in flight). */
  readonly concurrency: number;
  /** The outbound consumer's concurrency (postings at once). */
  readonly handlers: number;
  readonly events: number;
  readonly orders: number;
}

export interface OdooPhaseResult {
  readonly spec: OdooPhaseSpec;
  /** Publish of the first report → the last ProductionPosted stored. */
  readonly wallMs: number;
  readonly postingsPerSec: number;
  /** Odoo calls the simulator served during the phase (all of them postings' calls). */
  readonly calls: number;
  readonly callsPerSec: number;
  readonly callsPerPosting: number;
  /** Calls that failed (none expected: no fault but latency). */
  readonly failedCalls: number;
  /** concurrency ÷ latency, and that ÷ calls per posting. */
  readonly idealCallsPerSec: number;
  readonly idealPostingsPerSec: number;
  readonly callsRatio: number;
  readonly postingsRatio: number;
  /** Report's ce-time (its publish) → its ProductionPosted stored; the reports are a backlog. */
  readonly latency: LatencyStats;
  /** Σ request time (client-side, answer read) ÷ calls. */
  readonly meanCallMs: number;
  /** Σ request time ÷ (concurrency × wall): how much of the time the client's slots hold a request. */
  readonly slotUtilization: number;
  /** Σ handler time ÷ postings: one posting, start to ack-ready (its calls in sequence + the rest). */
  readonly meanPostingMs: number;
  /** (Σ handler time − Σ request time) ÷ postings: a running posting without a request (or waiting for a slot). */
  readonly gapPerPostingMs: number;
  /** Handlers running, time average (sampled every 5 ms). */
  readonly avgHandlersRunning: number;
  /** Share of the wall time with fewer handlers running than allowed, and reports waiting behind their order. */
  readonly blockedByOrderShare: number;
  /** Share of the wall time with fewer handlers running than allowed and nothing else buffered. */
  readonly starvedShare: number;
  /** Calls per posting by `model.method`. */
  readonly callMix: Readonly<Record<string, number>>;
  /** This process (connector, consumer, publisher of the reports). */
  readonly stats: WindowStats;
  readonly simCpuPct: number | undefined;
  readonly natsCpuPct: number | undefined;
  /** Simulator CPU ÷ calls: the serial work behind every answer (the simulator is single-threaded). */
  readonly simCpuMsPerCall: number | undefined;
  /** The simulator's JavaScript thread: running / waiting for a core (Linux scheduler statistics). */
  readonly simThread: ThreadTime | undefined;
  /** This process's JavaScript thread, the same way. */
  readonly benchThread: ThreadTime | undefined;
  /** This process's CPU ÷ postings. */
  readonly benchCpuMsPerPosting: number;
  /** The machine's 1-minute load average at the end (other processes share the cores). */
  readonly loadAvg: number;
  readonly verified: Verification;
}

/**
 * A process's main (JavaScript) thread over a phase, from /proc/<pid>/schedstat: the share of the
 * wall time it ran on a core and the share it was runnable but waiting for one (the 2 cores are
 * shared with other processes). Running + waiting near 100%: a single-threaded process saturated.
 */
export interface ThreadTime {
  readonly runningShare: number;
  readonly waitingShare: number;
  /** Per call (the simulator) or per posting (this process). */
  readonly runningMs: number;
  readonly waitingMs: number;
}

/** Nanoseconds on a core and waiting on a run queue of a thread (Linux); undefined elsewhere. */
function schedstat(pid: number | undefined): [number, number] | undefined {
  if (pid === undefined) return undefined;
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(" ").map(Number);
    return run === undefined || wait === undefined ? undefined : [run, wait];
  } catch {
    return undefined;
  }
}

/** Starts measuring `pid`'s main thread; the returned function ends it: ms running, ms waiting. */
function threadMeter(pid: number | undefined): () => [number, number] | undefined {
  const start = schedstat(pid);
  return () => {
    const end = schedstat(pid);
    return start && end ? [(end[0] - start[0]) / 1e6, (end[1] - start[1]) / 1e6] : undefined;
  };
}

function threadTime(
  measured: [number, number] | undefined,
  wallMs: number,
  per: number,
): ThreadTime | undefined {
  if (!measured) return undefined;
  const [runMs, waitMs] = measured;
  return {
    runningShare: Math.round((runMs / wallMs) * 1000) / 1000,
    waitingShare: Math.round((waitMs / wallMs) * 1000) / 1000,
    runningMs: round1(runMs / Math.max(1, per)),
    waitingMs: round1(waitMs / Math.max(1, per)),
  };
}

/**
 * The bare client against the same simulator and latency, `concurrency` requests at a time, each a
 * read of one small record: what the client, HTTP and the simulator allow before any posting logic.
 */
export interface OdooBaselineResult {
  readonly concurrency: number;
  readonly calls: number;
  readonly callsPerSec: number;
  readonly idealCallsPerSec: number;
  readonly ratio: number;
  readonly meanCallMs: number;
  readonly simCpuMsPerCall: number | undefined;
  readonly benchCpuMsPerCall: number;
  readonly simThread: ThreadTime | undefined;
}

/** What Odoo and the streams hold after the phase. */
export interface Verification extends OdooPostings {
  readonly events: number;
  readonly productionPosted: number;
  readonly applied: number;
  readonly alreadyApplied: number;
  readonly deadLettered: number;
  readonly ok: boolean;
}

export interface OdooBenchResult {
  readonly setup: Required<OdooBenchOptions> & { serverVersion: string; protocol: string };
  readonly baseline: OdooBaselineResult;
  readonly phases: readonly OdooPhaseResult[];
}

const SITE = "bench";
const REPORTED = "mfg.production.production_reported.v1";
const STREAM = "MFG_PRODUCTION";

const progress = (line: string) => process.stderr.write(`bench odoo: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Measuring

/** Time-weighted handler occupancy of one consumer, sampled every 5 ms. */
class ConsumerSampler {
  #last = performance.now();
  #running = 0;
  #blocked = 0;
  #starved = 0;
  #total = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    stats: () => { inFlight: number; held: number },
    private readonly handlers: number,
  ) {
    this.#timer = setInterval(() => {
      const now = performance.now();
      const dt = now - this.#last;
      this.#last = now;
      const s = stats();
      this.#total += dt;
      this.#running += s.inFlight * dt;
      if (s.inFlight < this.handlers) {
        if (s.held > s.inFlight) this.#blocked += dt;
        else this.#starved += dt;
      }
    }, 5);
  }

  stop(): { avgRunning: number; blockedShare: number; starvedShare: number } {
    clearInterval(this.#timer);
    const t = this.#total || 1;
    return {
      avgRunning: this.#running / t,
      blockedShare: this.#blocked / t,
      starvedShare: this.#starved / t,
    };
  }
}

interface BenchContext {
  readonly o: Required<OdooBenchOptions>;
  readonly sim: SimChild;
  readonly nats: LocalNatsServer;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly codec: EventCodec;
  /** Setup and verification (not measured). */
  readonly admin: OdooClient;
}

async function runPhase(
  ctx: BenchContext,
  spec: OdooPhaseSpec,
  orders: readonly BenchOrder[],
): Promise<OdooPhaseResult> {
  const { o, sim, nc, jsm, codec } = ctx;
  const registry = new Registry();
  const logger = createLogger({ service: "odoo-connector", level: "warn", destination: process.stderr });
  const client = await OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: sim.login,
    apiKey: sim.apiKey,
    concurrency: spec.concurrency,
    ratePerSecond: o.ratePerSecond,
    registry,
    logger,
  });
  let outbound: Outbound | undefined;
  try {
    outbound = await startOutbound({
      nc,
      client,
      publisher: new EventPublisher(jetstream(nc), codec, {
        service: "odoo-connector",
        site: SITE,
        metrics: registry,
      }),
      site: SITE,
      codec,
      logger,
      registry,
      only: ["production"],
      consumer: { concurrency: spec.handlers },
    });
    const consumer = outbound.consumers[0];
    if (!consumer) throw new Error("startOutbound started no production consumer");
    const floor = new EventPublisher(jetstream(nc), codec, {
      service: "machine-bridge",
      site: SITE,
      metrics: new Registry(),
    });
    const reports = reportsFor(orders, spec.events);
    const startSeq = (await jsm.streams.info(STREAM)).state.last_seq;
    const callsBefore = (await sim.calls()).length;
    const simCpu0 = processCpuMs(sim.pid);
    const natsCpu0 = processCpuMs(ctx.nats.pid);
    const simThreadEnd = threadMeter(sim.pid);
    const benchThreadEnd = threadMeter(process.pid);

    globalThis.gc?.();
    const meter = WindowMeter.start();
    const sampler = new ConsumerSampler(() => consumer.stats(), spec.handlers);
    const t0 = Date.now();
    const published = await Promise.all(
      reports.map(({ order, good }) => {
        const at = new Date();
        return floor
          .publish(REPORTED, reportValue(order, good, at, SITE), {
            site: SITE,
            line: order.line,
            machine: order.machine,
            key: `${SITE}/${order.line}/${order.machine}`,
            time: at,
          })
          .then((p) => ({ id: p.envelope.id, at: at.getTime(), good, order: order.name }));
      }),
    );
    const deadline = Date.now() + Math.max(60_000, spec.events * 1_000);
    for (;;) {
      const done = await metricSum(registry, "threadline_erp_postings_total", undefined, [
        "outcome",
        "applied",
      ]);
      if (done >= spec.events) break;
      const dead = await metricSum(registry, "threadline_erp_postings_total", undefined, [
        "outcome",
        "dead_lettered",
      ]);
      if (dead > 0) throw new Error(`${dead} posting(s) dead-lettered (see the warnings above)`);
      if (Date.now() > deadline)
        throw new Error(`only ${done} of ${spec.events} postings after ${Date.now() - t0} ms`);
      await sleep(20);
    }
    const occupancy = sampler.stop();
    const stats = meter.stop();
    const cpuShare = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : round1(((b - a) / stats.wallMs) * 100);
    const simThread = simThreadEnd();
    const benchThread = benchThreadEnd();
    const simCpu1 = processCpuMs(sim.pid);
    const simCpuPct = cpuShare(simCpu0, simCpu1);
    const simCpuMs = simCpu0 === undefined || simCpu1 === undefined ? undefined : simCpu1 - simCpu0;
    const natsCpuPct = cpuShare(natsCpu0, processCpuMs(ctx.nats.pid));
    const calls = (await sim.calls()).slice(callsBefore);

    const stored = await postedSince(nc, startSeq, spec.events);
    const latencies: number[] = [];
    let last = t0;
    for (const p of published) {
      const at = stored.get(productionPostedId(p.id));
      if (at === undefined) continue;
      latencies.push(at - p.at);
      last = Math.max(last, at);
    }
    const wallS = (last - t0) / 1000;
    const requestS = await metricSum(registry, "threadline_odoo_request_duration_seconds", "sum");
    const requests = await metricSum(registry, "threadline_odoo_request_duration_seconds", "count");
    const handlerS = await metricSum(registry, "threadline_handler_duration_seconds", "sum");
    const postings = await metricSum(registry, "threadline_handler_duration_seconds", "count");
    const outcome = (name: string) =>
      metricSum(registry, "threadline_erp_postings_total", undefined, ["outcome", name]);
    const [applied, alreadyApplied, deadLettered] = [
      await outcome("applied"),
      await outcome("already_applied"),
      await outcome("dead_lettered"),
    ];
    await outbound.stop({ timeoutMs: 5_000 });
    outbound = undefined;

    // Odoo afterwards: every report exactly one done order carrying its id, with its quantity.
    const odoo = await odooPostings(ctx.admin, published);
    const verified: Verification = {
      events: spec.events,
      ...odoo,
      productionPosted: stored.size,
      applied,
      alreadyApplied,
      deadLettered,
      ok:
        odoo.postings === spec.events &&
        odoo.distinctIds === spec.events &&
        odoo.pending === 0 &&
        odoo.quantityMismatches === 0 &&
        odoo.orderMismatches === 0 &&
        stored.size === spec.events &&
        applied === spec.events &&
        alreadyApplied === 0 &&
        deadLettered === 0,
    };

    const mix: Record<string, number> = {};
    for (const c of calls) {
      const key = c.model ? `${c.model}.${c.method}` : c.method;
      mix[key] = (mix[key] ?? 0) + 1;
    }
    const callMix = Object.fromEntries(
      Object.entries(mix)
        .sort(([, a], [, b]) => b - a)
        .map(([k, n]) => [k, Math.round((n / spec.events) * 100) / 100]),
    );
    const callsPerPosting = calls.length / spec.events;
    const idealCallsPerSec = spec.concurrency / (o.latencyMs / 1000);
    const idealPostingsPerSec = idealCallsPerSec / callsPerPosting;
    const postingsPerSec = spec.events / wallS;
    const callsPerSec = calls.length / wallS;
    return {
      spec,
      wallMs: Math.round(wallS * 1000),
      postingsPerSec: round1(postingsPerSec),
      calls: calls.length,
      callsPerSec: round1(callsPerSec),
      callsPerPosting: Math.round(callsPerPosting * 100) / 100,
      failedCalls: calls.filter((c) => !c.ok).length,
      idealCallsPerSec: round1(idealCallsPerSec),
      idealPostingsPerSec: round1(idealPostingsPerSec),
      callsRatio: Math.round((callsPerSec / idealCallsPerSec) * 1000) / 1000,
      postingsRatio: Math.round((postingsPerSec / idealPostingsPerSec) * 1000) / 1000,
      latency: latencyStats(latencies),
      meanCallMs: round1((requestS / Math.max(1, requests)) * 1000),
      slotUtilization: Math.round((requestS / (spec.concurrency * wallS)) * 1000) / 1000,
      meanPostingMs: round1((handlerS / Math.max(1, postings)) * 1000),
      gapPerPostingMs: round1(((handlerS - requestS) / Math.max(1, postings)) * 1000),
      avgHandlersRunning: Math.round(occupancy.avgRunning * 100) / 100,
      blockedByOrderShare: Math.round(occupancy.blockedShare * 1000) / 1000,
      starvedShare: Math.round(occupancy.starvedShare * 1000) / 1000,
      callMix,
      stats,
      simCpuPct,
      natsCpuPct,
      simCpuMsPerCall: simCpuMs === undefined ? undefined : round1(simCpuMs / Math.max(1, calls.length)),
      simThread: threadTime(simThread, stats.wallMs, calls.length),
      benchThread: threadTime(benchThread, stats.wallMs, spec.events),
      benchCpuMsPerPosting: round1((stats.cpuPct / 100) * (stats.wallMs / spec.events)),
      loadAvg: round1(loadavg()[0] ?? 0),
      verified,
    };
  } finally {
    await outbound?.stop({ timeoutMs: 2_000 }).catch(() => undefined);
    await client.close();
  }
}

async function runBaseline(ctx: BenchContext): Promise<OdooBaselineResult> {
  const { o, sim } = ctx;
  const registry = new Registry();
  const client = await OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: sim.login,
    apiKey: sim.apiKey,
    concurrency: o.concurrency,
    ratePerSecond: o.ratePerSecond,
    registry,
  });
  try {
    const uid = client.uid;
    const simCpu0 = processCpuMs(sim.pid);
    const simThreadEnd = threadMeter(sim.pid);
    const meter = WindowMeter.start();
    let left = o.baselineCalls;
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (left-- > 0) await client.read("res.users", [uid], ["name"]);
      }),
    );
    const stats = meter.stop();
    const simThread = threadTime(simThreadEnd(), stats.wallMs, o.baselineCalls);
    const simCpu1 = processCpuMs(sim.pid);
    const requestS = await metricSum(registry, "threadline_odoo_request_duration_seconds", "sum");
    const callsPerSec = o.baselineCalls / (stats.wallMs / 1000);
    const idealCallsPerSec = o.concurrency / (o.latencyMs / 1000);
    return {
      concurrency: o.concurrency,
      calls: o.baselineCalls,
      callsPerSec: round1(callsPerSec),
      idealCallsPerSec: round1(idealCallsPerSec),
      ratio: Math.round((callsPerSec / idealCallsPerSec) * 1000) / 1000,
      meanCallMs: round1((requestS / o.baselineCalls) * 1000),
      simCpuMsPerCall:
        simCpu0 === undefined || simCpu1 === undefined
          ? undefined
          : round1((simCpu1 - simCpu0) / o.baselineCalls),
      benchCpuMsPerCall: round1(((stats.cpuPct / 100) * stats.wallMs) / o.baselineCalls),
      simThread,
    };
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** The main phase, then (with `comparisons`) handlers 2× and the outbound default, and concurrency 1. */
export function odooBenchPhases(o: Required<OdooBenchOptions>): OdooPhaseSpec[] {
  const phase = (
    name: string,
    concurrency: number,
    handlers: number,
    events: number,
    orders: number,
  ): OdooPhaseSpec => ({
    name,
    concurrency,
    handlers,
    events,
    orders: Math.max(1, Math.min(orders, events)),
  });
  const c = o.concurrency;
  const phases = [phase(`concurrency ${c}`, c, c, o.events, o.orders)];
  if (!o.comparisons) return phases;
  // Fewer reports over as many orders: the same room for parallel postings, a shorter run.
  const quarter = Math.max(1, Math.round(o.events / 4));
  phases.push(phase(`concurrency ${c}, ${2 * c} postings at once`, c, 2 * c, quarter, o.orders));
  if (OUTBOUND_DEFAULTS.concurrency !== c)
    phases.push(
      phase(
        `concurrency ${c}, ${OUTBOUND_DEFAULTS.concurrency} postings at once (outbound default)`,
        c,
        OUTBOUND_DEFAULTS.concurrency,
        quarter,
        o.orders,
      ),
    );
  // One request at a time: as many reports per order as the main phase, an eighth of them.
  const perOrder = Math.max(1, Math.round(o.events / o.orders));
  const eighth = Math.max(1, Math.round(o.events / 8));
  if (c !== 1) phases.push(phase("concurrency 1", 1, 1, eighth, Math.ceil(eighth / perOrder)));
  return phases;
}

export async function runOdooBench(options: OdooBenchOptions = {}): Promise<OdooBenchResult> {
  const o: Required<OdooBenchOptions> = { ...ODOO_BENCH_DEFAULTS, ...options };
  const specs = odooBenchPhases(o);
  let nats: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let sim: SimChild | undefined;
  let admin: OdooClient | undefined;
  try {
    progress("starting nats-server (declared streams)");
    nats = await startNatsServer();
    nc = await connect(connectionOptions(natsSettingsFromEnv({ NATS_URL: nats.clientUrl })));
    const jsm = await jetstreamManager(nc);
    await applyPlan(
      jsm,
      await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)),
      {
        force: false,
      },
    );
    const codec = new EventCodec();
    let baseline: OdooBaselineResult | undefined;
    let server: { serverVersion: string; protocol: string } | undefined;
    const phases: OdooPhaseResult[] = [];
    // A fresh simulator per phase: its work per call grows with the rows it holds (it scans them).
    for (const [i, spec] of specs.entries()) {
      progress(
        `phase ${i + 1}/${specs.length}: ${spec.name}: starting the Odoo simulator (profile ${o.profile})`,
      );
      sim = await startSim(o.profile, 60_000);
      admin = await simAdmin(sim);
      server ??= { serverVersion: admin.version.serverVersion, protocol: admin.protocol };
      const orders = await createOrders(admin, spec.orders, `P${i + 1}`);
      await sim.addFault({ kind: "latency", latencyMs: o.latencyMs });
      const ctx: BenchContext = { o, sim, nats, nc, jsm, codec, admin };
      if (!baseline) {
        progress(
          `baseline: the bare client, ${o.baselineCalls} reads of one record, ${o.concurrency} at a time`,
        );
        baseline = await runBaseline(ctx);
        progress(`  ${baseline.callsPerSec} calls/s (${baseline.ratio} of ${baseline.idealCallsPerSec})`);
      }
      progress(
        `  ${spec.events} reports over ${spec.orders} orders, ${spec.handlers} postings at once, every call +${o.latencyMs} ms`,
      );
      const r = await runPhase(ctx, spec, orders);
      progress(
        `  ${r.postingsPerSec} postings/s, ${r.callsPerSec} calls/s (${r.callsRatio} of ${r.idealCallsPerSec}), verified ${r.verified.ok ? "ok" : "FAILED"}`,
      );
      phases.push(r);
      await admin.close();
      admin = undefined;
      await sim.stop();
      sim = undefined;
    }
    if (!baseline || !server) throw new Error("no phase ran");
    return { setup: { ...o, ...server }, baseline, phases };
  } finally {
    await admin?.close().catch(() => undefined);
    await sim?.stop();
    await nc?.close().catch(() => undefined);
    await nats?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en");
const pct = (share: number) => `${round1(share * 100)}%`;
const thread = (name: string, t: ThreadTime | undefined, per: string) =>
  t
    ? `${name} JS thread running ${pct(t.runningShare)} + waiting for a core ${pct(t.waitingShare)} of the time (${t.runningMs} + ${t.waitingMs} ms per ${per})`
    : `${name} JS thread: no scheduler statistics`;

export function formatOdooBench(r: OdooBenchResult): string {
  const s = r.setup;
  const b = r.baseline;
  const lines = [
    `odoo: production postings through the outbound consumer, Odoo ${s.serverVersion} simulator (${s.protocol}, child process), every call +${s.latencyMs} ms, rate limit ${fmt(s.ratePerSecond)}/s (not binding)`,
    `  baseline, the bare client reading one record, ${b.concurrency} at a time: ${b.callsPerSec} calls/s = ${b.ratio.toFixed(3)} of ${b.idealCallsPerSec}, mean call ${b.meanCallMs} ms; CPU per call: simulator ${b.simCpuMsPerCall ?? "?"} ms, client ${b.benchCpuMsPerCall} ms; ${thread("simulator", b.simThread, "call")}`,
  ];
  for (const p of r.phases) {
    const v = p.verified;
    lines.push(
      `  ${p.spec.name}: ${p.spec.events} reports over ${p.spec.orders} orders, ${p.spec.handlers} postings at once, ${p.spec.concurrency} requests at once`,
      `    ${p.postingsPerSec} postings/s, ${p.callsPerSec} Odoo calls/s, ${p.callsPerPosting} calls/posting (${fmt(p.calls)} calls, ${p.failedCalls} failed) in ${fmt(p.wallMs)} ms`,
      `    ideal ${p.idealCallsPerSec} calls/s = ${p.idealPostingsPerSec} postings/s: ratio calls ${p.callsRatio.toFixed(3)}, postings ${p.postingsRatio.toFixed(3)}`,
      `    = slots busy ${pct(p.slotUtilization)} × ${s.latencyMs} ms / mean call ${p.meanCallMs} ms; posting ${p.meanPostingMs} ms of which ${p.gapPerPostingMs} ms between calls`,
      `    handlers running ${p.avgHandlersRunning} of ${p.spec.handlers}; fewer with reports waiting behind their order ${pct(p.blockedByOrderShare)}, with nothing buffered ${pct(p.starvedShare)} of the time`,
      `    report → ProductionPosted stored (a backlog: waiting included) p50 ${fmt(p.latency.p50Ms)} ms, p99 ${fmt(p.latency.p99Ms)} ms (max ${fmt(p.latency.maxMs)})`,
      `    ${thread("simulator", p.simThread, "call")}; ${thread("bench", p.benchThread, "posting")}`,
      `    CPU: bench process ${p.stats.cpuPct}% of one core (${p.benchCpuMsPerPosting} ms per posting; GC ${p.stats.gcPct}%, loop delay p99 ${p.stats.loopDelayP99Ms} ms), simulator ${p.simCpuPct ?? "?"}% (${p.simCpuMsPerCall ?? "?"} ms per call), nats-server ${p.natsCpuPct ?? "?"}%; machine load ${p.loadAvg}`,
      `    verified: ${v.postings} posting records carry ${v.distinctIds} distinct event ids of ${v.events} reports (${v.pending} pending), ${v.quantityMismatches} quantity mismatches, ${v.orderMismatches} orders not counting the sum of their reports, ${v.productionPosted} ProductionPosted, postings applied ${v.applied} / already applied ${v.alreadyApplied} / dead-lettered ${v.deadLettered}: ${v.ok ? "exactly once" : "FAILED"}`,
    );
  }
  const main = r.phases[0];
  if (main)
    lines.push(
      `  calls per posting (${main.spec.name}): ${Object.entries(main.callMix)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
    );
  return lines.join("\n");
}
