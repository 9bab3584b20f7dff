/**
 * SDK vs raw client, in one run on one server: publish (Avro encode + validation + CloudEvents
 * headers + dedup id + metrics + PubAck) and consume-with-ack (decode + schema resolution +
 * handler dispatch + metrics + ack), each against the bare @nats-io client doing the same
 * transport work with pre-encoded bytes.
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { Catalog, EventCodec } from "../../contracts/src/index.js";
import {
  type BatchEvent,
  connectionOptions,
  createEventConsumer,
  type EventEnvelope,
  EventPublisher,
  natsSettingsFromEnv,
  toHeaders,
} from "../../streams/src/index.js";
import { startNatsServer } from "../local-nats/index.js";
import { typicalProductionReport } from "./codec.js";

export interface SdkBenchOptions {
  /** Events per phase. @default 200000 */
  events?: number;
  /** Publishes awaiting their PubAck at once, raw and SDK alike. @default 256 */
  window?: number;
  /** Handlers at once in the SDK consumer; the raw consumer acks inline. @default 64 */
  concurrency?: number;
  /** A server to use instead of starting one. @default a local nats-server */
  natsUrl?: string;
}

export interface PhaseResult {
  readonly perSec: number;
  readonly peakRssMiB: number;
}

export interface SdkBenchResult {
  readonly events: number;
  /** `rawWire`: the raw client sending the same bytes with the same CloudEvents headers and dedup id. */
  readonly publish: { raw: PhaseResult; rawWire: PhaseResult; sdk: PhaseResult };
  readonly consume: { raw: PhaseResult; sdk: PhaseResult };
}

const EVENT = "mfg.production.production_reported.v1";

/** Runs `fn`, sampling resident memory; returns events/s and the peak RSS. */
async function measure(n: number, fn: () => Promise<void>): Promise<PhaseResult> {
  globalThis.gc?.();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { perSec: Math.round(n / s), peakRssMiB: Math.round(peak / 2 ** 20) };
}

async function rawPublish(
  nc: NatsConnection,
  n: number,
  window: number,
  body: Uint8Array,
  subject: string,
  withHeaders: boolean,
): Promise<void> {
  const js = jetstream(nc);
  const pending = new Set<Promise<unknown>>();
  const base: Omit<EventEnvelope, "id"> = {
    source: "urn:threadline:bench:plant1",
    type: EVENT,
    time: new Date(),
    subject: "WH/MO/00042",
    dataschema: `urn:threadline:schema:${EVENT}:0000000000000000`,
    traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
  };
  for (let i = 0; i < n; i++) {
    if (pending.size >= window) await Promise.race(pending);
    const id = `bench-${i}`;
    const opts = withHeaders ? { msgID: id, headers: toHeaders({ ...base, id }) } : undefined;
    const p: Promise<unknown> = js.publish(subject, body, opts).then(() => pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
}

async function rawConsume(nc: NatsConnection, stream: string, durable: string, n: number): Promise<void> {
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 1024 });
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    if (++seen >= n) break;
  }
  await messages.close();
}

export async function runSdkBench(options: SdkBenchOptions = {}): Promise<SdkBenchResult> {
  const n = options.events ?? 200_000;
  const window = options.window ?? 256;
  const server = options.natsUrl ? undefined : await startNatsServer({ maxFileStore: 8 * 2 ** 30 });
  // The SDK's connection options (noAsyncTraces among them) for both sides: one client, one comparison.
  const nc = await connect(
    connectionOptions(natsSettingsFromEnv({ NATS_URL: options.natsUrl ?? server?.clientUrl })),
  );
  try {
    const jsm = await jetstreamManager(nc);
    const codec = new EventCodec({ catalog: Catalog.load() });
    await jsm.streams.add({ name: "BENCH_RAW", subjects: ["bench.raw.>"] });
    await jsm.streams.add({ name: "BENCH_WIRE", subjects: ["bench.wire.>"] });
    await jsm.streams.add({ name: "BENCH_SDK", subjects: ["mfg.production.>"] });
    const payloads = Array.from({ length: 1024 }, (_, i) => typicalProductionReport(i));
    const body = codec.encode(EVENT, payloads[0]);

    const rawPub = await measure(n, () => rawPublish(nc, n, window, body, "bench.raw.plant1", false));
    const rawWire = await measure(n, () => rawPublish(nc, n, window, body, "bench.wire.plant1", true));
    const publisher = new EventPublisher(jetstream(nc), codec, {
      service: "bench",
      site: "plant1",
      metrics: new Registry(),
    });
    const sdkPub = await measure(n, async () => {
      const batch = publisher.batch({ maxInFlight: window });
      const target = { site: "plant1", line: "line1", machine: "filler1", key: "WH/MO/00042" };
      for (let i = 0; i < n; i += window) {
        const chunk: BatchEvent[] = [];
        for (let j = i; j < Math.min(n, i + window); j++) {
          chunk.push({ eventType: EVENT, payload: payloads[j & 1023] as (typeof payloads)[number], target });
        }
        await batch.publishMany(chunk);
      }
      await batch.flush();
    });

    await jsm.consumers.add("BENCH_RAW", {
      durable_name: "raw",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 20_000,
    });
    await jsm.consumers.add("BENCH_SDK", {
      durable_name: "sdk",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 20_000,
    });
    const rawCon = await measure(n, () => rawConsume(nc, "BENCH_RAW", "raw", n));
    const sdkCon = await measure(n, async () => {
      let handled = 0;
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const consumer = createEventConsumer(nc, {
        stream: "BENCH_SDK",
        durable: "sdk",
        codec,
        concurrency: options.concurrency ?? 64,
        metrics: new Registry(),
        handler: async () => {
          if (++handled === n) done();
        },
      });
      await consumer.start();
      await finished;
      await consumer.stop();
    });
    return {
      events: n,
      publish: { raw: rawPub, rawWire, sdk: sdkPub },
      consume: { raw: rawCon, sdk: sdkCon },
    };
  } finally {
    await nc.close();
    await server?.dispose();
  }
}

export function formatSdkBench(r: SdkBenchResult): string {
  const wire = r.publish.rawWire;
  const row = (name: string, p: { raw: PhaseResult; sdk: PhaseResult }) =>
    `  ${name.padEnd(8)} raw ${p.raw.perSec.toLocaleString("en")}/s (peak RSS ${p.raw.peakRssMiB} MiB)  sdk ${p.sdk.perSec.toLocaleString("en")}/s (peak RSS ${p.sdk.peakRssMiB} MiB)  sdk/raw ${(p.sdk.perSec / p.raw.perSec).toFixed(2)}`;
  return [
    `sdk vs raw @nats-io client (${r.events.toLocaleString("en")} events each)`,
    row("publish", r.publish),
    `  publish  raw with the same headers + dedup id ${wire.perSec.toLocaleString("en")}/s: sdk/that ${(r.publish.sdk.perSec / wire.perSec).toFixed(2)} (the rest is the server's header and dedup work)`,
    row("consume", r.consume),
  ].join("\n");
}
