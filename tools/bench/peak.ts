/**
 * Peak load: a shift change's backlog of production reports from several plants drains into Odoo.
 *
 * The production setup, on loopback: a hub (JetStream domain `hub`) and 2–3 plant leaf nodes, each
 * with its own JetStream domain (`plant-a`, `plant-b`, …) and its own MFG_PRODUCTION; the leafnode
 * remotes carry deploy/plant/leaf.conf's deny lines (events cross only by sourcing) and the hub's
 * MFG_PRODUCTION sources every plant's over the leaf connections (`external.api` =
 * `$JS.<plant domain>.API`, as deploy/plant/hub-mfg-production.json and the hub overlay's patches).
 * All streams and durables as `streams apply` declares them (local profile).
 *
 * With the connector stopped (its durable declared, nobody consuming), the backlog is published on
 * the plants — reports round-robin over confirmed orders in the Odoo simulator, each order at one
 * plant — and sourced into the hub: timed until the hub holds every report. Then the connector's
 * real outbound consumer (`startOutbound`) starts and drains it through its `OdooClient` into the
 * simulator (a child process, every call answered after a fixed latency). Measured through the
 * drain, every `sampleMs`:
 *
 * - postings done (the connector's `threadline_erp_postings_total{outcome="applied"}`), for the
 *   drain time and postings/s against the ideal: concurrency ÷ latency calls/s, ÷ calls per posting;
 * - this process's RSS and V8 heap: "memory flat" is no growth with the postings done (the slope);
 * - the lag metrics — the SDK's `threadline_consumer_pending` + `_ack_pending` and the connector's
 *   `threadline_erp_backlog_events` — against JetStream's own consumer info (num_pending +
 *   num_ack_pending) read at the same instant. The gauges are refreshed from consumer info every
 *   `infoIntervalMs` (the backlog gauge from those, on the same period), so a gauge is "true" when
 *   it is a value JetStream reported within its refresh window: the largest raw disagreement and the
 *   largest one the window does not explain are both reported.
 *
 * At the end: nothing lost or doubled — the hub holds each report once, Odoo holds exactly one
 * complete posting record per report with its quantity and each order counts the sum of its
 * reports, one ProductionPosted per report, no dead letter — and the gauges read 0 with JetStream.
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
  DLQ_STREAM,
  EventPublisher,
  natsSettingsFromEnv,
  planChanges,
  serverFacts,
} from "../../streams/src/index.js";
import { type LeafzInfo, type LocalNatsServer, startNatsServer } from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";
import { percentile, round1, sleep } from "./bridge-measure.js";
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

export interface PeakBenchOptions {
  /** Production reports in the backlog. @default 50000 */
  reports?: number;
  /** Plant leaf nodes. @default 2 */
  plants?: number;
  /** Confirmed production orders the reports are spread over, dealt out to the plants in turn. @default 100 */
  orders?: number;
  /** The client's requests in flight, and the consumer's postings at once. @default 8 */
  concurrency?: number;
  /** Fixed latency of every Odoo call (a simulator fault). @default 50 */
  latencyMs?: number;
  /** The client's `ratePerSecond`; 10 000 starts calls 0.1 ms apart: it does not bind. @default 10000 */
  ratePerSecond?: number;
  /**
   * The consumer's consumer-info refresh (its lag gauges) and the connector's backlog gauge's. As
   * deployed both are 5 s (the SDK's `infoIntervalMs`, the connector's `backlogIntervalMs`).
   * @default 5000
   */
  infoIntervalMs?: number;
  /** Period of the drain's samples (memory, gauges, consumer info). @default 250 */
  sampleMs?: number;
  /** Odoo version the simulator behaves as. @default 17 */
  profile?: 16 | 17 | 18 | 19;
  /** Reports published at once per plant (the bridge's publishes in flight). @default 500 */
  publishWindow?: number;
}

/** The one source of the bench's defaults. */
export const PEAK_BENCH_DEFAULTS: Required<PeakBenchOptions> = {
  reports: 50_000,
  plants: 2,
  orders: 100,
  concurrency: 8,
  latencyMs: 50,
  ratePerSecond: 10_000,
  infoIntervalMs: OUTBOUND_DEFAULTS.backlogIntervalMs,
  sampleMs: 250,
  profile: 17,
  publishWindow: 500,
};

/**
 * Options from the environment: `BENCH_PEAK_REPORTS`, `BENCH_PEAK_PLANTS` (2–3),
 * `BENCH_PEAK_ORDERS`, `BENCH_PEAK_CONCURRENCY`, `BENCH_PEAK_LATENCY_MS`.
 */
export function peakBenchOptionsFromEnv(env: Record<string, string | undefined>): PeakBenchOptions {
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in ${min}–${max}, got ${v}`);
    return n;
  };
  const o: PeakBenchOptions = {};
  const set = <K extends keyof PeakBenchOptions>(key: K, value: PeakBenchOptions[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set("reports", int("BENCH_PEAK_REPORTS", 1));
  set("plants", int("BENCH_PEAK_PLANTS", 2, 3));
  set("orders", int("BENCH_PEAK_ORDERS", 1));
  set("concurrency", int("BENCH_PEAK_CONCURRENCY", 1));
  set("latencyMs", int("BENCH_PEAK_LATENCY_MS", 0));
  return o;
}

/** min / median / max of a series, and its least-squares slope against postings done. */
export interface SeriesStats {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** Growth per 1 000 postings (same unit as the values) over the second half of the drain. */
  readonly slopePer1000: number;
}

/** A lag gauge against JetStream's consumer info over the drain. */
export interface GaugeAgreement {
  readonly metric: string;
  /** How stale the gauge may be by design: its refresh period(s) plus one sample. */
  readonly windowMs: number;
  /** Largest |gauge − consumer info| at the same instant. */
  readonly maxRawDiff: number;
  /** Largest distance from the range JetStream reported within the window before the sample. */
  readonly maxUnexplained: number;
  /** The gauge after the drain, once refreshed (with JetStream's 0). */
  readonly final: number;
}

export interface PeakVerification extends OdooPostings {
  readonly reports: number;
  /** Reports the hub held once sourced (before the connector started). */
  readonly hubReports: number;
  /** The durable's num_pending when the connector started. */
  readonly pendingAtStart: number;
  /** Reports with their ProductionPosted stored. */
  readonly productionPosted: number;
  readonly applied: number;
  readonly alreadyApplied: number;
  readonly deadLettered: number;
  readonly dlqMessages: number;
  /** Nothing lost or doubled. */
  readonly exactlyOnce: boolean;
  /** Every gauge within its window (± the postings at once) throughout, and 0 with JetStream at the end. */
  readonly metricsTrue: boolean;
}

export interface PeakBenchResult {
  readonly setup: Required<PeakBenchOptions> & { serverVersion: string; odooVersion: string };
  /** Publishing the backlog on the plants. */
  readonly publishMs: number;
  /** First publish → the hub holds every report. */
  readonly sourcedMs: number;
  /** Last publish acknowledged → the hub holds every report. */
  readonly sourcingTailMs: number;
  /** Connector started → last posting applied. */
  readonly drainMs: number;
  readonly postingsPerSec: number;
  /** Postings/s in each quarter of the drain (the simulator slows as its tables grow). */
  readonly quarterRates: readonly number[];
  /**
   * JetStream's num_pending + num_ack_pending for the durable as each quarter of the postings is
   * done. Its filter (mfg.production.>) takes in the ProductionPosted events the postings append
   * behind the backlog, so it falls only once the last reports are delivered.
   */
  readonly quarterBacklog: readonly number[];
  readonly calls: number;
  readonly failedCalls: number;
  readonly callsPerPosting: number;
  readonly callsPerSec: number;
  readonly idealCallsPerSec: number;
  readonly idealPostingsPerSec: number;
  readonly ratio: number;
  readonly samples: number;
  readonly rssMb: SeriesStats;
  readonly heapMb: SeriesStats;
  readonly gauges: readonly GaugeAgreement[];
  readonly loadAvg: readonly [number, number];
  readonly verified: PeakVerification;
}

const HUB_DOMAIN = "hub";
const STREAM = "MFG_PRODUCTION";
const REPORTED = "mfg.production.production_reported.v1";
const DURABLE = OUTBOUND_DEFAULTS.durables.production;
const LEAF_CONF = new URL("../../../deploy/plant/leaf.conf", import.meta.url);

const progress = (line: string) => process.stderr.write(`bench peak: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// The topology: plants' leaf nodes into one hub

interface Plant {
  readonly domain: string;
  readonly server: LocalNatsServer;
  readonly nc: NatsConnection;
}

interface Topology {
  readonly hub: LocalNatsServer;
  readonly hubNc: NatsConnection;
  readonly plants: readonly Plant[];
  dispose(): Promise<void>;
}

/** The leafnode remote's `deny_exports` / `deny_imports` lines of deploy/plant/leaf.conf. */
function remoteDenyLines(): string {
  const lines = readFileSync(LEAF_CONF, "utf8").match(/^\s*deny_(exports|imports)\s*:\s*\[[^\]]*\]/gm) ?? [];
  if (lines.length !== 2) throw new Error("deploy/plant/leaf.conf: expected deny_exports and deny_imports");
  return lines.map((l) => l.trim()).join("\n");
}

async function declareStreams(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const plan = await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc));
  await applyPlan(jsm, plan, { force: false });
  return jsm;
}

async function startTopology(plants: number): Promise<Topology> {
  const servers: LocalNatsServer[] = [];
  const conns: NatsConnection[] = [];
  const dispose = async () => {
    await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
    await Promise.all(servers.map((s) => s.dispose().catch(() => undefined)));
  };
  const connectTo = async (s: LocalNatsServer) => {
    const nc = await connect(connectionOptions(natsSettingsFromEnv({ NATS_URL: s.clientUrl })));
    conns.push(nc);
    return nc;
  };
  try {
    const hub = await startNatsServer({ domain: HUB_DOMAIN, leafnodeListen: true });
    servers.push(hub);
    const deny = remoteDenyLines();
    const leaves = await Promise.all(
      Array.from({ length: plants }, async (_, i) => {
        const domain = `plant-${String.fromCharCode(97 + i)}`;
        const server = await startNatsServer({
          domain,
          leafnodeRemotes: [{ url: hub.leafnodeUrl as string, extraConfig: deny }],
        });
        servers.push(server);
        return { domain, server };
      }),
    );
    await waitForLeaves(hub, plants);
    const hubNc = await connectTo(hub);
    const out: Plant[] = [];
    for (const l of leaves) {
      const nc = await connectTo(l.server);
      await declareStreams(nc);
      out.push({ ...l, nc });
    }
    const hubJsm = await declareStreams(hubNc);
    // One source per plant leaf, as the hub overlay's patch of mfg-production lists them.
    await hubJsm.streams.update(STREAM, {
      sources: out.map((p) => ({ name: STREAM, external: { api: `$JS.${p.domain}.API`, deliver: "" } })),
    });
    return { hub, hubNc, plants: out, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Until the hub sees every leaf connection with its subscriptions (so `$JS.<plant>.API` routes). */
async function waitForLeaves(hub: LocalNatsServer, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leafz = await hub.monitor<LeafzInfo>("leafz").catch(() => undefined);
    const leafs = leafz?.leafs ?? [];
    if (leafs.length >= count && leafs.every((l) => (l.subscriptions ?? 0) > 0)) return;
    if (Date.now() > deadline) throw new Error(`${leafs.length} of ${count} plant leaf nodes connected`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// The backlog

interface Published {
  readonly id: string;
  readonly good: number;
  readonly order: string;
}

/** Each report on its order's plant, `window` publishes in flight per plant. */
async function publishBacklog(
  top: Topology,
  codec: EventCodec,
  reports: readonly { order: BenchOrder; good: number }[],
  plantOf: ReadonlyMap<string, number>,
  window: number,
): Promise<Published[]> {
  const out: Published[] = [];
  await Promise.all(
    top.plants.map(async (plant, p) => {
      const publisher = new EventPublisher(jetstream(plant.nc), codec, {
        service: "machine-bridge",
        site: plant.domain,
        metrics: new Registry(),
      });
      const mine = reports.filter((r) => plantOf.get(r.order.name) === p);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(window, mine.length) }, async () => {
          while (next < mine.length) {
            const { order, good } = mine[next++] as { order: BenchOrder; good: number };
            const at = new Date();
            const r = await publisher.publish(REPORTED, reportValue(order, good, at, plant.domain), {
              site: plant.domain,
              line: order.line,
              machine: order.machine,
              key: `${plant.domain}/${order.line}/${order.machine}`,
              time: at,
            });
            out.push({ id: r.envelope.id, good, order: order.name });
          }
        }),
      );
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Sample {
  readonly t: number;
  readonly done: number;
  readonly rss: number;
  readonly heap: number;
  /** JetStream: num_pending + num_ack_pending. */
  readonly server: number;
  /** threadline_consumer_pending + threadline_consumer_ack_pending. */
  readonly sdk: number;
  /** threadline_erp_backlog_events. */
  readonly erp: number;
}

async function gauge(registry: Registry, name: string): Promise<number> {
  return metricSum(registry, name, undefined, ["consumer", DURABLE]);
}

async function sample(registry: Registry, jsm: JetStreamManager): Promise<Sample> {
  const info = await jsm.consumers.info(STREAM, DURABLE);
  const m = process.memoryUsage();
  return {
    t: performance.now(),
    done: await metricSum(registry, "threadline_erp_postings_total", undefined, ["outcome", "applied"]),
    rss: m.rss,
    heap: m.heapUsed,
    server: info.num_pending + info.num_ack_pending,
    sdk:
      (await gauge(registry, "threadline_consumer_pending")) +
      (await gauge(registry, "threadline_consumer_ack_pending")),
    erp: await gauge(registry, "threadline_erp_backlog_events"),
  };
}

/**
 * min / median / max of `pick` in MB over the drain, and its slope against postings done (MB per
 * 1 000) over the second half: the start (connections, code compiled, the heap and buffers growing
 * to their working size) is growth that does not recur, whatever the backlog.
 */
function seriesStats(samples: readonly Sample[], pick: (s: Sample) => number, total: number): SeriesStats {
  const all = samples.map((s) => pick(s) / 2 ** 20);
  const steady = samples.filter((s) => s.done >= total / 2);
  const mb = steady.map((s) => pick(s) / 2 ** 20);
  const n = mb.length;
  const xs = steady.map((s) => s.done);
  const mx = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const my = mb.reduce((a, b) => a + b, 0) / Math.max(1, n);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((mb[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return {
    min: r2(Math.min(...all)),
    median: r2(percentile(all, 50)),
    max: r2(Math.max(...all)),
    slopePer1000: sxx === 0 ? 0 : Math.round((sxy / sxx) * 1000 * 1000) / 1000,
  };
}

/**
 * A gauge against consumer info: the raw difference at each sample, and how far the gauge lies
 * outside what JetStream reported over the `windowMs` before it (0: a value JetStream held then).
 */
function agreement(
  metric: string,
  samples: readonly Sample[],
  pick: (s: Sample) => number,
  windowMs: number,
  final: number,
): GaugeAgreement {
  let maxRawDiff = 0;
  let maxUnexplained = 0;
  for (const s of samples) {
    const g = pick(s);
    maxRawDiff = Math.max(maxRawDiff, Math.abs(g - s.server));
    const seen = samples.filter((o) => o.t <= s.t && o.t >= s.t - windowMs).map((o) => o.server);
    const lo = Math.min(...seen);
    const hi = Math.max(...seen);
    maxUnexplained = Math.max(maxUnexplained, g < lo ? lo - g : g > hi ? g - hi : 0);
  }
  return { metric, windowMs, maxRawDiff, maxUnexplained, final };
}

/**
 * Postings/s in each quarter of the drain, from the samples' postings-done curve, and JetStream's
 * backlog for the durable as each quarter ends.
 */
function quarters(
  samples: readonly Sample[],
  t0: number,
  total: number,
): { rates: number[]; backlog: number[] } {
  const rates: number[] = [];
  const backlog: number[] = [];
  let from = { t: t0, done: 0 };
  for (let q = 1; q <= 4; q++) {
    const target = Math.ceil((total * q) / 4);
    const at = samples.find((s) => s.done >= target);
    if (!at) break;
    rates.push(round1((at.done - from.done) / Math.max(0.001, (at.t - from.t) / 1000)));
    backlog.push(at.server);
    from = at;
  }
  return { rates, backlog };
}

// ---------------------------------------------------------------------------------------------

export async function runPeakBench(options: PeakBenchOptions = {}): Promise<PeakBenchResult> {
  const o: Required<PeakBenchOptions> = { ...PEAK_BENCH_DEFAULTS, ...options };
  const load0 = round1(loadavg()[0] ?? 0);
  let top: Topology | undefined;
  let sim: SimChild | undefined;
  let admin: OdooClient | undefined;
  let client: OdooClient | undefined;
  let outbound: Outbound | undefined;
  try {
    progress(
      `starting a hub and ${o.plants} plant leaf nodes, declared streams, the hub sourcing the plants`,
    );
    top = await startTopology(o.plants);
    const hubJsm = await jetstreamManager(top.hubNc);
    const serverVersion = top.hubNc.info?.version ?? "?";
    progress(`starting the Odoo simulator (profile ${o.profile}), ${o.orders} confirmed orders`);
    sim = await startSim(o.profile, 60_000);
    admin = await simAdmin(sim);
    const orders = await createOrders(admin, Math.min(o.orders, o.reports), "PEAK");
    const plantOf = new Map(orders.map((order, i) => [order.name, i % o.plants]));
    await sim.addFault({ kind: "latency", latencyMs: o.latencyMs });
    const codec = new EventCodec();

    progress(`publishing ${o.reports} reports on the plants, the connector stopped`);
    const t0 = performance.now();
    const published = await publishBacklog(
      top,
      codec,
      reportsFor(orders, o.reports),
      plantOf,
      o.publishWindow,
    );
    const t1 = performance.now();
    let hubReports = 0;
    for (const deadline = Date.now() + Math.max(60_000, o.reports * 10); ; await sleep(50)) {
      hubReports = (await hubJsm.streams.info(STREAM)).state.messages;
      if (hubReports >= o.reports) break;
      if (Date.now() > deadline) throw new Error(`the hub holds ${hubReports} of ${o.reports} reports`);
    }
    const t2 = performance.now();
    // The manifest partitions the durable; the bench's one process reads it unpartitioned, so it is
    // declared here with the partitions' own settings.
    const partition = await hubJsm.consumers.info(STREAM, `${DURABLE}-p0`);
    await hubJsm.consumers.add(STREAM, { ...partition.config, durable_name: DURABLE, name: DURABLE });
    const pendingAtStart = (await hubJsm.consumers.info(STREAM, DURABLE)).num_pending;
    progress(`  sourced to the hub in ${Math.round(t2 - t0)} ms; ${pendingAtStart} pending for ${DURABLE}`);

    const registry = new Registry();
    // The connector's warnings by default; LOG_LEVEL=debug shows each consume's start and stop.
    const logger = createLogger({
      service: "odoo-connector",
      level: process.env["LOG_LEVEL"] ?? "warn",
      destination: process.stderr,
    });
    client = await OdooClient.connect({
      url: sim.url,
      db: sim.db,
      login: sim.login,
      apiKey: sim.apiKey,
      concurrency: o.concurrency,
      ratePerSecond: o.ratePerSecond,
      registry,
      logger,
    });
    const callsBefore = (await sim.calls()).length;
    progress(`draining: ${o.concurrency} postings at once, every Odoo call +${o.latencyMs} ms`);
    const d0 = performance.now();
    outbound = await startOutbound({
      // One connector process on the durable itself (declared above), as a one-replica deployment
      // could run: the figures are the drain's, not the partitions' hand-over.
      partitions: false,
      nc: top.hubNc,
      client,
      publisher: new EventPublisher(jetstream(top.hubNc), codec, {
        service: "odoo-connector",
        site: HUB_DOMAIN,
        metrics: registry,
      }),
      site: HUB_DOMAIN,
      codec,
      logger,
      registry,
      only: ["production"],
      consumer: { concurrency: o.concurrency, infoIntervalMs: o.infoIntervalMs },
    });
    const samples: Sample[] = [];
    const deadline = Date.now() + Math.max(120_000, o.reports * 1_000);
    let lastProgress = Date.now();
    for (;;) {
      const s = await sample(registry, hubJsm);
      samples.push(s);
      if (s.done >= o.reports) break;
      const dead = await metricSum(registry, "threadline_erp_postings_total", undefined, [
        "outcome",
        "dead_lettered",
      ]);
      if (dead > 0) throw new Error(`${dead} posting(s) dead-lettered (see the warnings above)`);
      if (Date.now() > deadline) throw new Error(`only ${s.done} of ${o.reports} postings`);
      if (Date.now() - lastProgress > 30_000) {
        lastProgress = Date.now();
        progress(`  ${s.done} of ${o.reports} posted, rss ${Math.round(s.rss / 2 ** 20)} MB`);
      }
      await sleep(o.sampleMs);
    }
    const d1 = (samples.at(-1) as Sample).t;
    const drainMs = d1 - d0;
    const calls = (await sim.calls()).slice(callsBefore);

    // After the drain: the ProductionPosted events are consumed too (acknowledged, not for Odoo);
    // then both refreshes go by and the gauges must read JetStream's 0.
    for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
      const info = await hubJsm.consumers.info(STREAM, DURABLE);
      if (info.num_pending + info.num_ack_pending === 0) break;
    }
    await sleep(2 * o.infoIntervalMs + 500);
    const end = await sample(registry, hubJsm);
    const outcome = (name: string) =>
      metricSum(registry, "threadline_erp_postings_total", undefined, ["outcome", name]);
    const [applied, alreadyApplied, deadLettered] = [
      await outcome("applied"),
      await outcome("already_applied"),
      await outcome("dead_lettered"),
    ];
    await outbound.stop({ timeoutMs: 5_000 });
    outbound = undefined;

    // A gauge is its last refresh: the SDK's every infoIntervalMs, the backlog gauge copies those on
    // the same period (so up to two behind); plus one sample period for the clocks not lining up.
    const gauges = [
      agreement(
        "threadline_consumer_pending + _ack_pending",
        samples,
        (s) => s.sdk,
        o.infoIntervalMs + o.sampleMs,
        end.sdk,
      ),
      agreement(
        "threadline_erp_backlog_events",
        samples,
        (s) => s.erp,
        2 * o.infoIntervalMs + o.sampleMs,
        end.erp,
      ),
    ];

    const posted = await postedSince(top.hubNc, 0, o.reports);
    const productionPosted = published.filter((p) => posted.has(productionPostedId(p.id))).length;
    const odoo = await odooPostings(admin, published);
    const dlqMessages = (await hubJsm.streams.info(DLQ_STREAM)).state.messages;
    const n = o.reports;
    const verified: PeakVerification = {
      reports: n,
      hubReports,
      pendingAtStart,
      productionPosted,
      applied,
      alreadyApplied,
      deadLettered,
      dlqMessages,
      ...odoo,
      exactlyOnce:
        published.length === n &&
        hubReports === n &&
        pendingAtStart === n &&
        odoo.postings === n &&
        odoo.distinctIds === n &&
        odoo.pending === 0 &&
        odoo.quantityMismatches === 0 &&
        odoo.orderMismatches === 0 &&
        productionPosted === n &&
        applied === n &&
        alreadyApplied === 0 &&
        deadLettered === 0 &&
        dlqMessages === 0,
      // ± the postings at once: each publishes a ProductionPosted the same durable then consumes,
      // a brief +1 between two samples that neither sample need show.
      metricsTrue:
        end.server === 0 && gauges.every((g) => g.final === 0 && g.maxUnexplained <= o.concurrency),
    };

    const quarterly = quarters(samples, d0, n);
    const callsPerPosting = calls.length / n;
    const idealCallsPerSec = o.concurrency / (o.latencyMs / 1000);
    const postingsPerSec = n / (drainMs / 1000);
    return {
      setup: { ...o, serverVersion, odooVersion: admin.version.serverVersion },
      publishMs: Math.round(t1 - t0),
      sourcedMs: Math.round(t2 - t0),
      sourcingTailMs: Math.round(t2 - t1),
      drainMs: Math.round(drainMs),
      postingsPerSec: round1(postingsPerSec),
      quarterRates: quarterly.rates,
      quarterBacklog: quarterly.backlog,
      calls: calls.length,
      failedCalls: calls.filter((c) => !c.ok).length,
      callsPerPosting: Math.round(callsPerPosting * 100) / 100,
      callsPerSec: round1(calls.length / (drainMs / 1000)),
      idealCallsPerSec: round1(idealCallsPerSec),
      idealPostingsPerSec: round1(idealCallsPerSec / callsPerPosting),
      ratio: Math.round((postingsPerSec / (idealCallsPerSec / callsPerPosting)) * 1000) / 1000,
      samples: samples.length,
      rssMb: seriesStats(samples, (s) => s.rss, n),
      heapMb: seriesStats(samples, (s) => s.heap, n),
      gauges,
      loadAvg: [load0, round1(loadavg()[0] ?? 0)],
      verified,
    };
  } finally {
    await outbound?.stop({ timeoutMs: 2_000 }).catch(() => undefined);
    await client?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await sim?.stop();
    await top?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en");
const series = (s: SeriesStats) =>
  `${s.min} / ${s.median} / ${s.max} MB, slope over the second half ${s.slopePer1000} MB per 1 000 postings`;

export function formatPeakBench(r: PeakBenchResult): string {
  const s = r.setup;
  const v = r.verified;
  const minutes = (n: number) => round1(n / r.postingsPerSec / 60);
  return [
    `peak: a backlog of ${fmt(s.reports)} production reports from ${s.plants} plant leaf nodes drains through the connector into the Odoo ${s.odooVersion} simulator (every call +${s.latencyMs} ms); nats-server ${s.serverVersion}; load ${r.loadAvg[0]} → ${r.loadAvg[1]}`,
    `  backlog: published on the plants in ${fmt(r.publishMs)} ms; the hub held all ${fmt(v.hubReports)} (sourced over the leaf links) ${fmt(r.sourcedMs)} ms after the first publish, ${fmt(r.sourcingTailMs)} ms after the last; ${fmt(v.pendingAtStart)} pending for the connector's durable`,
    `  drain: ${fmt(r.drainMs)} ms, ${r.postingsPerSec.toFixed(1)} postings/s (by quarter: ${r.quarterRates.join(", ")}), ${r.callsPerSec} calls/s, ${r.callsPerPosting} calls/posting (${fmt(r.calls)} calls, ${r.failedCalls} failed)`,
    `  ideal: ${s.concurrency} ÷ ${s.latencyMs} ms = ${r.idealCallsPerSec} calls/s = ${r.idealPostingsPerSec.toFixed(1)} postings/s: ratio ${r.ratio.toFixed(3)}; 50,000 reports at the measured rate ≈ ${minutes(50_000)} min`,
    `  memory over ${r.samples} samples (min / median / max): RSS ${series(r.rssMb)}; heap ${series(r.heapMb)}`,
    `  JetStream's backlog for the durable (num_pending + num_ack_pending) as each quarter of the postings is done: ${r.quarterBacklog.join(", ")} (its ProductionPosted events queue behind the reports)`,
    ...r.gauges.map(
      (g) =>
        `  ${g.metric} vs consumer info (num_pending + num_ack_pending): largest difference ${g.maxRawDiff}, outside what JetStream reported within ${fmt(g.windowMs)} ms ${g.maxUnexplained}; after the drain ${g.final}`,
    ),
    `  verified: ${v.postings} posting records, ${v.distinctIds} distinct event ids of ${v.reports} reports (${v.pending} pending, ${v.quantityMismatches} quantity mismatches, ${v.orderMismatches} orders off the sum of their reports), ${v.productionPosted} ProductionPosted, applied ${v.applied} / already applied ${v.alreadyApplied} / dead-lettered ${v.deadLettered}, ${v.dlqMessages} in ${DLQ_STREAM}: ${v.exactlyOnce ? "nothing lost or doubled" : "FAILED"}; metrics ${v.metricsTrue ? "true throughout" : "NOT TRUE"}`,
  ].join("\n");
}
