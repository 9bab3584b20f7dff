/**
 * The genealogy on a plant-sized history (tools/genealogy/synthetic.ts, seeded), in PostgreSQL (when a
 * server answers) and in the embedded PGlite:
 * - load: the history bulk-loaded into a fresh schema (rows/s, and the indexes built after);
 * - trace: backward traces from produced lots and forward traces from raw and intermediate lots picked
 *   at random (seeded), one at a time, depth 10 → p50/p99 ms;
 * - recall: the recall report of raw lots → p50/p99 ms;
 * - ingest: synthetic events published to a nats-server the bench starts, then projected as the service
 *   does (an SDK consumer per stream → the service's ProjectionWriter, a transaction of up to 256 events,
 *   each message acked once its batch committed), against the raw client's consume-with-ack of the same
 *   messages (the same durables' settings) in the same run → events/s and the ratio.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { Catalog, EventCodec } from "../../contracts/src/index.js";
import { GenealogyQueries } from "../../services/genealogy-builder/src/query/queries.js";
import type { LotRef } from "../../services/genealogy-builder/src/query/types.js";
import { dropSchema, migrate } from "../../services/genealogy-builder/src/store/schema.js";
import { ProjectionWriter } from "../../services/genealogy-builder/src/store/writer.js";
import {
  type BatchEvent,
  connectionOptions,
  createEventConsumer,
  type Database,
  EventPublisher,
  natsSettingsFromEnv,
  openDatabase,
} from "../../streams/src/index.js";
import { bulkLoad } from "../genealogy/bulk-load.js";
import { historyChunks, mulberry32, type SyntheticEvent } from "../genealogy/synthetic.js";
import { startNatsServer } from "../local-nats/index.js";

export interface GenealogyBenchOptions {
  /** Lots loaded into PostgreSQL (≈ 3 edges each). @default 1000000 */
  lots?: number;
  /** Lots loaded into PGlite (1M loads in about 6 minutes and 1.6 GB of memory). @default the same as `lots` */
  pgliteLots?: number;
  /** Traces per direction. @default 500 */
  traces?: number;
  /** Edges followed at most. @default 10 */
  depth?: number;
  /** Recall reports. @default 50 */
  recalls?: number;
  /** Events published and projected in the ingest phase. @default 50000 */
  events?: number;
  /** The history's seed (and the picks'). @default 1 */
  seed?: number;
  /** A PostgreSQL database to use; its schemas genealogy_bench* are replaced. @default DATABASE_URL, else threadline_bench on 127.0.0.1:5432 (created) */
  databaseUrl?: string;
  /** A nats-server to use instead of starting one. */
  natsUrl?: string;
  /** Which databases. @default both */
  databases?: readonly ("postgres" | "pglite")[];
}

export const GENEALOGY_BENCH_DEFAULTS = {
  lots: 1_000_000,
  traces: 500,
  depth: 10,
  recalls: 50,
  events: 50_000,
  seed: 1,
} as const;

const LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432";
const BENCH_DATABASE = "threadline_bench";
const SCHEMA = "genealogy_bench";
const INGEST_SCHEMA = "genealogy_bench_ingest";
/**
 * The service's settings (services/genealogy-builder/src/main.ts and manifest.ts): events per transaction
 * (GENEALOGY_BATCH's default), handlers at once per stream, deliveries unacked per durable.
 */
const GENEALOGY_BATCH = 256;
const CONCURRENCY = 256;
const MAX_ACK_PENDING = 1024;
const STREAMS = ["MFG_INVENTORY", "MFG_PRODUCTION", "MFG_QUALITY", "MFG_SHIPPING", "MFG_MASTERDATA"];

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Lots reached per query, on average. */
  readonly lots: number;
}

export interface DatabaseResult {
  readonly database: "postgres" | "pglite";
  readonly where: string;
  readonly lots: number;
  readonly edges: number;
  readonly rows: number;
  readonly loadSeconds: number;
  readonly indexSeconds: number;
  readonly backward: Latency;
  readonly forward: Latency;
  readonly recall: Latency;
  readonly ingest: { readonly events: number; readonly perSec: number };
}

export interface GenealogyBenchResult {
  readonly options: typeof GENEALOGY_BENCH_DEFAULTS;
  readonly rawConsumePerSec: number;
  readonly databases: readonly DatabaseResult[];
  readonly skipped: readonly string[];
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;

async function timed<T>(n: number, fn: (i: number) => Promise<T>, size: (r: T) => number): Promise<Latency> {
  const ms: number[] = [];
  let lots = 0;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = await fn(i);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    lots += size(r);
  }
  ms.sort((a, b) => a - b);
  return {
    n,
    p50: percentile(ms, 0.5),
    p99: percentile(ms, 0.99),
    max: ms[ms.length - 1] ?? 0,
    lots: lots / n,
  };
}

/** The PostgreSQL to use, or why there is none. */
async function postgresTarget(explicit: string | undefined): Promise<{ url: string } | { skip: string }> {
  if (explicit) return { url: explicit };
  let admin: Database;
  try {
    admin = await openDatabase({
      url: `${LOCAL_SERVER}/postgres`,
      dataDir: "",
      connectTimeoutMs: 2000,
      poolSize: 1,
    });
  } catch (err) {
    return { skip: `no PostgreSQL at 127.0.0.1:5432 (${(err as Error).message}); set DATABASE_URL` };
  }
  try {
    const { rows } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [BENCH_DATABASE]);
    if (rows.length === 0) await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  } finally {
    await admin.close();
  }
  return { url: `${LOCAL_SERVER}/${BENCH_DATABASE}` };
}

/** The first `n` events of a history (its own seed, so the ingest does not meet the loaded ids). */
function firstEvents(n: number, seed: number): SyntheticEvent[] {
  const events: SyntheticEvent[] = [];
  const it = historyChunks({ lots: Math.ceil(n / 4), seed, chunkEvents: 10_000 });
  while (events.length < n) {
    const next = it.next();
    if (next.done) break;
    events.push(...next.value);
  }
  return events.slice(0, n);
}

async function publishAll(nc: NatsConnection, events: readonly SyntheticEvent[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of STREAMS)
    await jsm.streams.add({
      name,
      subjects: [`mfg.${name.slice(4).toLowerCase()}.>`],
      max_msg_size: 1 << 20,
    });
  const publisher = new EventPublisher(jetstream(nc), new EventCodec({ catalog: Catalog.load() }), {
    service: "bench",
    site: "plant-synth",
    metrics: new Registry(),
  });
  const batch = publisher.batch({ maxInFlight: 256 });
  for (let i = 0; i < events.length; i += 256)
    await batch.publishMany(
      events
        .slice(i, i + 256)
        .map((e) => ({ eventType: e.event.type, payload: e.event.value, target: e.target }) as BatchEvent),
    );
  await batch.flush();
}

async function durables(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of STREAMS)
    await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: MAX_ACK_PENDING,
    });
}

/** The raw client: every message of every stream consumed and acked (the streams side by side). */
async function rawConsume(nc: NatsConnection, perStream: ReadonlyMap<string, number>): Promise<number> {
  await durables(nc, "raw");
  const t0 = process.hrtime.bigint();
  await Promise.all(
    STREAMS.map(async (stream) => {
      const n = perStream.get(stream) ?? 0;
      if (n === 0) return;
      const consumer = await jetstream(nc).consumers.get(stream, "raw");
      const messages = await consumer.consume({ max_messages: 1024 });
      let seen = 0;
      for await (const m of messages) {
        m.ack();
        if (++seen >= n) break;
      }
      await messages.close();
    }),
  );
  const total = [...perStream.values()].reduce((a, b) => a + b, 0);
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function projectAll(nc: NatsConnection, db: Database, durable: string, total: number): Promise<number> {
  await dropSchema(db, INGEST_SCHEMA);
  await migrate(db, INGEST_SCHEMA);
  await durables(nc, durable);
  const writer = new ProjectionWriter(db, INGEST_SCHEMA, { maxBatch: GENEALOGY_BATCH });
  const codec = new EventCodec({ catalog: Catalog.load() });
  let handled = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const t0 = process.hrtime.bigint();
  const consumers = STREAMS.map((stream) =>
    createEventConsumer(nc, {
      stream,
      durable,
      codec,
      concurrency: CONCURRENCY,
      metrics: new Registry(),
      handler: async (e) => {
        await writer.write({
          id: e.id,
          stream: e.stream,
          seq: e.streamSequence,
          type: e.type,
          value: e.value,
        });
        if (++handled === total) finish();
      },
    }),
  );
  for (const c of consumers) await c.start();
  await finished;
  const perSec = total / (Number(process.hrtime.bigint() - t0) / 1e9);
  for (const c of consumers) await c.stop();
  return perSec;
}

async function benchDatabase(
  database: "postgres" | "pglite",
  db: Database,
  lots: number,
  o: typeof GENEALOGY_BENCH_DEFAULTS,
  nc: NatsConnection,
  events: number,
  log: (line: string) => void,
): Promise<DatabaseResult> {
  await dropSchema(db, SCHEMA);
  await migrate(db, SCHEMA);
  log(`${database}: loading ${lots.toLocaleString("en-US")} lots into ${db.where}`);
  let shown = Date.now();
  const loaded = await bulkLoad(db, SCHEMA, {
    lots,
    seed: o.seed,
    progress: (n, rows) => {
      if (Date.now() - shown < 30_000) return;
      shown = Date.now();
      log(`${database}:   ${n.toLocaleString("en-US")} lots, ${rows.toLocaleString("en-US")} rows`);
    },
  });
  const rows = Object.values(loaded.rows).reduce((a, b) => a + b, 0);
  log(`${database}: loaded in ${loaded.seconds.toFixed(0)} s (indexes ${loaded.indexSeconds.toFixed(0)} s)`);

  const random = mulberry32(o.seed ^ 0x5eed);
  const pick = (from: readonly LotRef[]): LotRef => from[Math.floor(random() * from.length)] as LotRef;
  const { raw, intermediate, finished } = loaded.summary.samples;
  const produced = [...intermediate, ...finished];
  const upstream = [...raw, ...intermediate];
  const queries = new GenealogyQueries(db, SCHEMA);
  // Warm-up: the first queries pay for plans and cold pages.
  for (let i = 0; i < 20; i++) await queries.trace(pick(produced), { direction: "backward", depth: o.depth });
  const backward = await timed(
    o.traces,
    () => queries.trace(pick(produced), { direction: "backward", depth: o.depth }),
    (r) => r.lots.length,
  );
  log(`${database}: backward traces p50 ${backward.p50.toFixed(1)} ms, p99 ${backward.p99.toFixed(1)} ms`);
  const forward = await timed(
    o.traces,
    () => queries.trace(pick(upstream), { direction: "forward", depth: o.depth }),
    (r) => r.lots.length,
  );
  log(`${database}: forward traces p50 ${forward.p50.toFixed(1)} ms, p99 ${forward.p99.toFixed(1)} ms`);
  const recall = await timed(
    o.recalls,
    () => queries.recall(pick(raw), { depth: o.depth }),
    (r) => r.lotsAffected,
  );
  log(`${database}: recall p50 ${recall.p50.toFixed(1)} ms, p99 ${recall.p99.toFixed(1)} ms`);

  const perSec = await projectAll(nc, db, `projection_${database}`, events);
  log(`${database}: projection ${Math.round(perSec).toLocaleString("en-US")} events/s`);
  await dropSchema(db, INGEST_SCHEMA);
  return {
    database,
    where: db.where,
    lots: loaded.rows.lots,
    edges: loaded.rows.lot_edges,
    rows,
    loadSeconds: loaded.seconds,
    indexSeconds: loaded.indexSeconds,
    backward,
    forward,
    recall,
    ingest: { events, perSec },
  };
}

export async function runGenealogyBench(
  options: GenealogyBenchOptions = {},
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<GenealogyBenchResult> {
  const o = { ...GENEALOGY_BENCH_DEFAULTS, ...withoutUndefined(options) } as typeof GENEALOGY_BENCH_DEFAULTS;
  const wanted = options.databases ?? ["postgres", "pglite"];
  const skipped: string[] = [];
  const server = options.natsUrl ? undefined : await startNatsServer({ maxFileStore: 8 * 2 ** 30 });
  const nc = await connect(
    connectionOptions(natsSettingsFromEnv({ NATS_URL: options.natsUrl ?? server?.clientUrl })),
  );
  const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-bench-"));
  try {
    const events = firstEvents(o.events, o.seed + 1);
    log(`ingest: publishing ${events.length.toLocaleString("en-US")} events`);
    await publishAll(nc, events);
    const perStream = new Map<string, number>();
    for (const e of events) perStream.set(e.event.stream, (perStream.get(e.event.stream) ?? 0) + 1);
    const rawConsumePerSec = await rawConsume(nc, perStream);
    log(`ingest: raw consume-with-ack ${Math.round(rawConsumePerSec).toLocaleString("en-US")} events/s`);

    const databases: DatabaseResult[] = [];
    if (wanted.includes("postgres")) {
      const target = await postgresTarget(options.databaseUrl ?? process.env["DATABASE_URL"]);
      if ("skip" in target) skipped.push(`postgres: ${target.skip}`);
      else {
        const db = await openDatabase({ url: target.url, dataDir: dir, poolSize: 4 });
        try {
          databases.push(await benchDatabase("postgres", db, o.lots, o, nc, events.length, log));
        } finally {
          await dropSchema(db, SCHEMA).catch(() => undefined);
          await db.close();
        }
      }
    }
    if (wanted.includes("pglite")) {
      const db = await openDatabase({ dataDir: join(dir, "pglite") });
      try {
        databases.push(
          await benchDatabase("pglite", db, options.pgliteLots ?? o.lots, o, nc, events.length, log),
        );
      } finally {
        await db.close();
      }
    }
    return { options: o, rawConsumePerSec, databases, skipped };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await nc.close();
    await server?.dispose();
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function formatGenealogyBench(r: GenealogyBenchResult): string {
  const n = (v: number) => Math.round(v).toLocaleString("en-US");
  const ms = (l: Latency) => `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} ms (${l.lots.toFixed(1)} lots)`;
  const head = r.databases.map((d) => d.database);
  const row = (name: string, f: (d: DatabaseResult) => string) =>
    `| ${name} | ${r.databases.map(f).join(" | ")} |`;
  return [
    `## genealogy: traces, recall and ingest (seed ${r.options.seed}, depth ≤ ${r.options.depth})`,
    "",
    `| | ${head.join(" | ")} |`,
    `|---|${head.map(() => "---").join("|")}|`,
    row("lots / edges / rows", (d) => `${n(d.lots)} / ${n(d.edges)} / ${n(d.rows)}`),
    row(
      "bulk load (of which indexes)",
      (d) =>
        `${d.loadSeconds.toFixed(0)} s (${d.indexSeconds.toFixed(0)} s), ${n(d.rows / d.loadSeconds)} rows/s`,
    ),
    row(`backward trace p50 / p99 (${r.options.traces}, from produced lots)`, (d) => ms(d.backward)),
    row(`forward trace p50 / p99 (${r.options.traces}, from raw and intermediate lots)`, (d) =>
      ms(d.forward),
    ),
    row(`recall report p50 / p99 (${r.options.recalls}, raw lots)`, (d) => ms(d.recall)),
    row(
      `ingest: SDK consumer → batched applyEvents, events/s (raw consume-with-ack ${n(r.rawConsumePerSec)}/s)`,
      (d) => `${n(d.ingest.perSec)}/s = ${(d.ingest.perSec / r.rawConsumePerSec).toFixed(3)} × raw`,
    ),
    ...r.skipped.map((s) => `\nskipped: ${s}`),
  ].join("\n");
}
