/**
 * The bridge bench's baseline, run as a child process: the bare @nats-io client (no SDK, no Avro,
 * no OPC UA) publishing to JetStream what the bridge stored — the same messages per second per
 * event type, with the same payload sizes — and awaiting every PubAck. Started by ./bridge.ts
 * (`node bridge-raw.js`, input as one JSON line on stdin).
 */
import { randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  childMain,
  isMain,
  type LatencyStats,
  latencyStats,
  sleep,
  WindowMeter,
  type WindowStats,
} from "./bridge-measure.js";

/** One kind of message: a subject, its payload size and its rate. */
export interface RawFlow {
  readonly subject: string;
  readonly bytes: number;
  readonly perSec: number;
}

export interface RawInput {
  readonly natsUrl: string;
  readonly flows: readonly RawFlow[];
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Publishing tick: each flow sends what its rate has accumulated. @default 100 */
  readonly tickMs?: number;
}

export interface RawResult {
  /** Messages acknowledged in the window, per second. */
  readonly perSec: number;
  readonly bytesPerSec: number;
  /** Publish → PubAck, for messages sent in the window. */
  readonly ack: LatencyStats;
  readonly stats: WindowStats;
}

export async function runRawPublisher(input: RawInput): Promise<RawResult> {
  const tickMs = input.tickMs ?? 100;
  const nc = await connect({ servers: input.natsUrl, noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    const flows = input.flows.map((f) => ({ ...f, body: randomBytes(Math.max(1, f.bytes)), due: 0 }));
    const pending = new Set<Promise<unknown>>();
    let measuring = false;
    let acked = 0;
    let bytes = 0;
    let failures = 0;
    const acks: number[] = [];
    const tick = () => {
      for (const f of flows) {
        f.due += (f.perSec * tickMs) / 1000;
        for (; f.due >= 1; f.due--) {
          const t = performance.now();
          const counted = measuring;
          const p: Promise<unknown> = js.publish(f.subject, f.body).then(
            () => {
              pending.delete(p);
              if (!counted) return;
              acked++;
              bytes += f.body.length;
              acks.push(performance.now() - t);
            },
            () => {
              pending.delete(p);
              failures++;
            },
          );
          pending.add(p);
        }
      }
    };
    const timer = setInterval(tick, tickMs);
    process.stderr.write(`raw: publishing ${flows.length} flows, warm-up ${input.warmupSeconds} s\n`);
    await sleep(input.warmupSeconds * 1000);
    measuring = true;
    const meter = WindowMeter.start();
    await sleep(input.seconds * 1000);
    measuring = false;
    const stats = meter.stop();
    clearInterval(timer);
    await Promise.all(pending);
    if (failures > 0) throw new Error(`${failures} raw publishes failed`);
    const s = stats.wallMs / 1000;
    return {
      perSec: Math.round(acked / s),
      bytesPerSec: Math.round(bytes / s),
      ack: latencyStats(acks),
      stats,
    };
  } finally {
    await nc.close();
  }
}

if (isMain(import.meta.url)) childMain("raw", runRawPublisher);
