/**
 * Reading what a stream holds, once, from a point up to its end as it is when the read starts:
 * reconciliation, replays, reports, tests. An ephemeral ordered consumer does the reading and is
 * deleted when the read ends, whatever happened.
 *
 * Why delete: nats.js gives ordered consumers a five-minute inactive threshold (and overrides any
 * other), so a reader left to expire holds a consumer slot that long; a periodic reconciliation
 * every few seconds, or a test polling a stream, piles up hundreds, and current nats-server refuses
 * new consumers past its limit ("maximum consumers limit reached") — the durables of every
 * service on the stream included.
 */
import {
  type Consumer,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JsMsg,
  jetstream,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/** How long a reader's consumer outlives its last pull. */
const INACTIVE_THRESHOLD_MS = 10_000;

export interface StreamReadOptions {
  /** The stream to read. */
  readonly stream: string;
  /** One subject filter (nats-server 2.9 has no multi-filter consumers). @default every subject */
  readonly filter?: string;
  /** Start at the first message stored at or after this time. @default the stream's first message */
  readonly since?: Date;
  /** Headers only, no payloads (counting, ids). @default false */
  readonly headersOnly?: boolean;
  /** Messages per pull. @default 500 */
  readonly batch?: number;
  /**
   * After the read: `"delete"` the consumer (needs `$JS.API.CONSUMER.DELETE`), or let it `"expire"`
   * ten seconds later — what a least-privilege service does (`reads` in its access file), since the
   * right to delete its own consumers would be the right to delete every durable on the stream.
   * @default "delete"
   */
  readonly cleanup?: "delete" | "expire";
  /** A stream that does not exist: `"empty"` reads nothing, `"throw"` rejects. @default "throw" */
  readonly ifMissing?: "empty" | "throw";
}

/**
 * Hands every message from `since` (or the start) to the end of the stream as it is now to `fn`,
 * in stream order, then deletes the consumer. Resolves to the number of messages read.
 */
export async function readStream(
  nc: NatsConnection,
  options: StreamReadOptions,
  fn: (m: JsMsg) => Promise<void> | void,
): Promise<number> {
  const consumer = await jetstream(nc)
    .consumers.get(options.stream, {
      ...(options.filter ? { filter_subjects: options.filter } : {}),
      ...(options.since
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
        : { deliver_policy: DeliverPolicy.All }),
      ...(options.headersOnly ? { headers_only: true } : {}),
      // Left to expire (or should the reader die mid-read), it goes in seconds, not nats.js's five minutes.
      inactive_threshold: INACTIVE_THRESHOLD_MS,
    })
    .catch((err: unknown) => {
      const missing = err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
      if (missing && options.ifMissing === "empty") return undefined;
      throw err;
    });
  if (!consumer) return 0;
  try {
    return await readToEnd(consumer, options.batch ?? 500, fn);
  } finally {
    // Best effort: a consumer whose delete is lost still expires.
    if ((options.cleanup ?? "delete") === "delete") await consumer.delete().catch(() => undefined);
  }
}

async function readToEnd(
  consumer: Consumer,
  batch: number,
  fn: (m: JsMsg) => Promise<void> | void,
): Promise<number> {
  // Pending at creation bounds the read: messages stored while reading are left for the next one.
  const total = (await consumer.info(true)).num_pending;
  let read = 0;
  while (read < total) {
    const messages = await consumer.fetch({ max_messages: Math.min(batch, total - read), expires: 2_000 });
    let got = 0;
    for await (const m of messages) {
      got++;
      read++;
      await fn(m);
    }
    if (got === 0) break; // expired or purged meanwhile: what is left is gone
  }
  return read;
}
