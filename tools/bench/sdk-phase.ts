/**
 * One phase of the SDK bench (./sdk.ts), run as a child process so that each phase's memory and CPU
 * are its own: a process that has just published 200 000 events carries that heap into the next
 * phase, which made the old single-process figures say little about memory. Input as one JSON line on
 * stdin, `RESULT <json>` on stdout (`childMain`).
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
import { childMain, isMain } from "./bridge-measure.js";
import { typicalProductionReport } from "./codec.js";

export type SdkPhase =
  | "publish-raw"
  | "publish-headers"
  | "publish-wire"
  | "publish-sdk"
  | "consume-raw"
  | "consume-sdk";

export interface SdkPhaseInput {
  readonly natsUrl: string;
  readonly phase: SdkPhase;
  readonly events: number;
  /** Publishes awaiting their PubAck at once. */
  readonly window: number;
  /** Handlers at once in the SDK consumer. */
  readonly concurrency: number;
  /** Publish: the subject; consume: the stream and a durable made for this phase. */
  readonly subject?: string;
  readonly stream?: string;
  readonly durable?: string;
}

export interface PhaseResult {
  readonly perSec: number;
  /** Peak resident memory of the phase's process, sampled every 20 ms. */
  readonly peakRssMiB: number;
  /** CPU time of the phase's process (all threads) per event, µs. */
  readonly cpuUsPerEvent: number;
}

export const BENCH_EVENT = "mfg.production.production_reported.v1";

/** Runs `fn`, sampling resident memory and CPU. */
async function measure(n: number, fn: () => Promise<void>): Promise<PhaseResult> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return {
    perSec: Math.round(n / s),
    peakRssMiB: Math.round(peak / 2 ** 20),
    cpuUsPerEvent: Math.round(((cpu.user + cpu.system) / n) * 10) / 10,
  };
}

/**
 * `js.publish` of pre-encoded bytes, `window` awaiting their PubAck: bare, with our CloudEvents
 * headers, or with the headers and the dedup id (what the SDK sends).
 */
async function rawPublish(
  nc: NatsConnection,
  i: SdkPhaseInput,
  body: Uint8Array,
  wire: "bare" | "headers" | "headers+id",
) {
  const js = jetstream(nc);
  const base: Omit<EventEnvelope, "id"> = {
    source: "urn:threadline:bench:plant1",
    type: BENCH_EVENT,
    time: new Date(),
    subject: "WH/MO/00042",
    dataschema: `urn:threadline:schema:${BENCH_EVENT}:0000000000000000`,
    traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
  };
  // Unique per process: every round publishes into the same stream's duplicate window.
  const run = `${process.pid}-${Date.now()}`;
  // A counted window, woken by each PubAck (a Promise.race over the window each time piles up
  // reactions: the first version of this baseline spent ~300 MiB and much of its time on them).
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const settled = () => {
    inFlight--;
    wake?.();
  };
  for (let k = 0; k < i.events && failure === undefined; k++) {
    while (inFlight >= i.window)
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    const id = `bench-${run}-${k}`;
    let opts: { msgID?: string; headers?: ReturnType<typeof toHeaders> } | undefined;
    if (wire !== "bare") {
      opts =
        wire === "headers+id"
          ? { msgID: id, headers: toHeaders({ ...base, id }) }
          : { headers: toHeaders({ ...base, id }, { dedupId: false }) };
    }
    inFlight++;
    js.publish(i.subject as string, body, opts).then(settled, (err: unknown) => {
      failure ??= err;
      settled();
    });
  }
  while (inFlight > 0)
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  if (failure !== undefined) throw failure;
}

async function sdkPublish(nc: NatsConnection, i: SdkPhaseInput, codec: EventCodec) {
  const payloads = Array.from({ length: 1024 }, (_, k) => typicalProductionReport(k));
  const publisher = new EventPublisher(jetstream(nc), codec, {
    service: "bench",
    site: "plant1",
    metrics: new Registry(),
  });
  const batch = publisher.batch({ maxInFlight: i.window });
  const target = { site: "plant1", line: "line1", machine: "filler1", key: "WH/MO/00042" };
  for (let k = 0; k < i.events; k += i.window) {
    const chunk: BatchEvent[] = [];
    for (let j = k; j < Math.min(i.events, k + i.window); j++)
      chunk.push({
        eventType: BENCH_EVENT,
        payload: payloads[j & 1023] as (typeof payloads)[number],
        target,
      });
    await batch.publishMany(chunk);
  }
  await batch.flush();
}

/** `consume({ max_messages: 1024 })`, `m.ack()` each, nothing decoded. */
async function rawConsume(nc: NatsConnection, i: SdkPhaseInput) {
  const consumer = await jetstream(nc).consumers.get(i.stream as string, i.durable as string);
  const messages = await consumer.consume({ max_messages: 1024 });
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    if (++seen >= i.events) break;
  }
  await messages.close();
}

/** The SDK consumer: envelope, Avro decode and resolution, dispatch, metrics, ack. */
async function sdkConsume(nc: NatsConnection, i: SdkPhaseInput, codec: EventCodec) {
  let handled = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = createEventConsumer(nc, {
    stream: i.stream as string,
    durable: i.durable as string,
    codec,
    concurrency: i.concurrency,
    metrics: new Registry(),
    handler: async () => {
      if (++handled === i.events) done();
    },
  });
  await consumer.start();
  await finished;
  await consumer.stop();
}

export async function runSdkPhase(i: SdkPhaseInput): Promise<PhaseResult> {
  // The SDK's connection options (noAsyncTraces among them) for both sides: one client, one comparison.
  const nc = await connect(connectionOptions(natsSettingsFromEnv({ NATS_URL: i.natsUrl })));
  try {
    const codec = new EventCodec({ catalog: Catalog.load() });
    const body = codec.encode(BENCH_EVENT, typicalProductionReport(0));
    if (i.phase.startsWith("consume"))
      await (await jetstreamManager(nc)).consumers.add(i.stream as string, {
        durable_name: i.durable as string,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: 20_000,
      });
    switch (i.phase) {
      case "publish-raw":
        return await measure(i.events, () => rawPublish(nc, i, body, "bare"));
      case "publish-headers":
        return await measure(i.events, () => rawPublish(nc, i, body, "headers"));
      case "publish-wire":
        return await measure(i.events, () => rawPublish(nc, i, body, "headers+id"));
      case "publish-sdk":
        return await measure(i.events, () => sdkPublish(nc, i, codec));
      case "consume-raw":
        return await measure(i.events, () => rawConsume(nc, i));
      case "consume-sdk":
        return await measure(i.events, () => sdkConsume(nc, i, codec));
    }
  } finally {
    await nc.close();
  }
}

if (isMain(import.meta.url)) childMain<SdkPhaseInput, PhaseResult>("sdk bench phase", runSdkPhase);
