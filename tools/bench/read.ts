/**
 * Reading a stream as ops and analysts do, against the raw client in the same run on one server:
 * - raw: an ordered consumer fetching every message of the stream (the transport alone);
 * - replay read: the selection by type and key (a tenth of the events) matched on each message's
 *   headers, as `threadline replay` and `copy` read (they send the stored bytes, never decoded);
 * - select: the same selection with each selected event decoded and resolved (`tap`);
 * - decode-all: the same with no filter, every event decoded (the worst case of a replay);
 * - parquet: `tap --format parquet`'s writer fed every decoded event (events/s into the file).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { Catalog, EventCodec } from "../../contracts/src/index.js";
import {
  type BatchEvent,
  connectionOptions,
  EventPublisher,
  natsSettingsFromEnv,
  parseSelection,
  readMessages,
  type StoredEvent,
  selectEvents,
  selectMessages,
} from "../../streams/src/index.js";
import { startNatsServer } from "../local-nats/index.js";
import { ParquetTap } from "../tap/parquet.js";
import { typicalProductionReport } from "./codec.js";

export interface ReadBenchOptions {
  /** Events in the stream. @default 100000 */
  events?: number;
  natsUrl?: string;
}

export interface ReadBenchResult {
  readonly events: number;
  readonly raw: number;
  /** The selection (a tenth by key) as replay reads it, headers matched, not decoded. */
  readonly replay: number;
  /** The selection (a tenth by key), decoded: read rate over the whole stream. */
  readonly select: number;
  readonly decodeAll: number;
  readonly parquet: number;
  readonly parquetBytesPerEvent: number;
}

const EVENT = "mfg.production.production_reported.v1";

async function rate(n: number, fn: () => Promise<number>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const seen = await fn();
  if (seen <= 0) throw new Error("bench: nothing was read");
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function runReadBench(options: ReadBenchOptions = {}): Promise<ReadBenchResult> {
  const n = options.events ?? 100_000;
  const server = options.natsUrl ? undefined : await startNatsServer({ maxFileStore: 4 * 2 ** 30 });
  const nc = await connect(
    connectionOptions(natsSettingsFromEnv({ NATS_URL: options.natsUrl ?? server?.clientUrl })),
  );
  const dir = mkdtempSync(join(tmpdir(), "threadline-read-bench-"));
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "MFG_PRODUCTION", subjects: ["mfg.production.>"] });
    const codec = new EventCodec({ catalog: Catalog.load() });
    const publisher = new EventPublisher(jetstream(nc), codec, {
      service: "bench",
      site: "plant1",
      metrics: new Registry(),
    });
    const batch = publisher.batch({ maxInFlight: 256 });
    for (let i = 0; i < n; i += 256) {
      const chunk: BatchEvent[] = [];
      for (let j = i; j < Math.min(n, i + 256); j++)
        chunk.push({
          eventType: EVENT,
          payload: typicalProductionReport(j),
          target: { site: "plant1", line: "line1", machine: "filler1", key: `WH/MO/${j % 10}` },
        });
      await batch.publishMany(chunk);
    }
    await batch.flush();

    const raw = await rate(n, async () => {
      let read = 0;
      for await (const _ of readMessages(nc, { stream: "MFG_PRODUCTION" })) read++;
      return read;
    });
    const replay = await rate(n, async () => {
      let read = 0;
      for await (const _ of selectMessages(nc, parseSelection({ type: EVENT, key: "WH/MO/3" }))) read++;
      return read;
    });
    const select = await rate(n, async () => {
      let read = 0;
      for await (const _ of selectEvents(nc, parseSelection({ type: EVENT, key: "WH/MO/3" }), { codec }))
        read++;
      return read;
    });
    const decodeAll = await rate(n, async () => {
      let read = 0;
      for await (const _ of selectEvents(nc, parseSelection({ type: EVENT }), { codec })) read++;
      return read;
    });
    const file = join(dir, "reports.parquet");
    const events: StoredEvent[] = [];
    for await (const e of selectEvents(nc, parseSelection({ type: EVENT }), { codec })) events.push(e);
    const parquet = await rate(n, async () => {
      const tap = new ParquetTap(file, codec.contract(EVENT).type);
      for (const e of events) tap.add(e);
      tap.finish();
      return events.length;
    });
    return {
      events: n,
      raw,
      replay,
      select,
      decodeAll,
      parquet,
      parquetBytesPerEvent: statSync(file).size / n,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await nc.close();
    await server?.dispose();
  }
}

export function formatReadBench(r: ReadBenchResult): string {
  const k = (v: number) => `${Math.round(v).toLocaleString("en-US")}/s`;
  return [
    `## read (replay, tap): ${r.events.toLocaleString("en-US")} production reports in one stream`,
    "",
    "| read | events/s over the stream | vs raw |",
    "|---|---|---|",
    `| raw ordered read (no decode) | ${k(r.raw)} | 1.00 |`,
    `| replay's read: by type and key (a tenth), headers matched | ${k(r.replay)} | ${(r.replay / r.raw).toFixed(2)} |`,
    `| selection by key (a tenth), decoded (tap) | ${k(r.select)} | ${(r.select / r.raw).toFixed(2)} |`,
    `| every event decoded | ${k(r.decodeAll)} | ${(r.decodeAll / r.raw).toFixed(2)} |`,
    `| tap to Parquet (decoded events into the writer) | ${k(r.parquet)} | — (${r.parquetBytesPerEvent.toFixed(1)} bytes/event) |`,
  ].join("\n");
}
