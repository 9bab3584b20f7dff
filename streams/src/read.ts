/**
 * Reading what a stream holds, once: reconciliation, replays, reports, benchmarks, tests. A read
 * covers one stream (or one subject filter of it), from a sequence or a stored time, and ends at a
 * sequence, a stored time or — always — at what the stream held when the read started: messages
 * stored while reading are left for the next read, so a read of a busy stream still ends.
 *
 * ```ts
 * // Every production report of the last hour, decoded and typed, in stream order.
 * for await (const e of readEvents(nc, {
 *   stream: "MFG_PRODUCTION",
 *   filter: "mfg.production.>",
 *   since: new Date(Date.now() - 3_600_000),
 *   types: ["mfg.production.production_reported.v1"],
 * })) {
 *   console.log(e.streamSequence, e.value.orderRef, e.value.goodQuantity); // e.value: ProductionReported
 * }
 * ```
 *
 * - `readMessages` yields the raw `JsMsg`s (headers only, if asked); `readEvents` decodes each with
 *   the codec (and, through it, the schema registry) as the consumer does, into the envelope and the
 *   value resolved to this program's contract; `readStream` hands the messages to a callback.
 * - Leaving a `for await` early (`break`, `return`, a throw) ends the read.
 * - An ephemeral ordered consumer does the reading and is deleted when the read ends, whatever
 *   happened. Why delete: nats.js gives ordered consumers a five-minute inactive threshold (and
 *   overrides any other when it recreates one), so a reader left to expire holds a consumer slot that
 *   long; a periodic reconciliation every few seconds, or a test polling a stream, piles up hundreds,
 *   and current nats-server refuses new consumers past its limit ("maximum consumers limit reached")
 *   — the durables of every service on the stream included. A least-privilege user that may not
 *   delete consumers lets them expire ten seconds after its last pull (`cleanup: "expire"`).
 */
import {
  type Consumer,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JsMsg,
  jetstream,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { type AvroType, EventCodec, type EventPayloads, type EventType } from "../../contracts/src/index.js";
import { decodePayload, type EventEnvelope, fromHeaders, writerOf } from "./envelope.js";
import { ConfigError } from "./errors.js";

export interface StreamReadOptions {
  /** The stream to read. */
  readonly stream: string;
  /** One subject filter (nats-server 2.9 has no multi-filter consumers). @default every subject */
  readonly filter?: string;
  /** Start at this stream sequence (included). Exclusive with `since`. @default the stream's first message */
  readonly fromSequence?: number;
  /** End with this stream sequence (included). @default the last message stored when the read starts */
  readonly toSequence?: number;
  /** Start at the first message stored at or after this time. Exclusive with `fromSequence`. @default the stream's first message */
  readonly since?: Date;
  /**
   * End before the first message stored after this time (stored time, not event time: an event
   * buffered at a plant during a WAN outage is stored late). @default the last message stored when the read starts
   */
  readonly until?: Date;
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
  /**
   * Follow the stream: after what it held at the start, keep delivering messages as they are stored
   * until this signal aborts (the read then ends as after a `break`), or `toSequence` / `until` is
   * passed. A pull waits at most two seconds, so an abort ends the read within that.
   * @default none: the read ends at what the stream held when it started
   */
  readonly follow?: AbortSignal;
}

export interface EventReadOptions<K extends string = string> extends Omit<StreamReadOptions, "headersOnly"> {
  /** Decodes the payloads (give it the registry as `writers` to read schema versions the catalog lacks). @default a new EventCodec over the package's catalog */
  readonly codec?: EventCodec;
  /** Only events of these `ce-type`s; the others are skipped without being decoded. @default every type */
  readonly types?: readonly K[];
}

/** One event as the stream stored it, decoded. */
export interface StoredEvent<T = unknown> {
  /** The CloudEvents metadata: id, type, time, subject (business key), source, traceparent. */
  readonly envelope: EventEnvelope;
  /** `ce-id`. */
  readonly id: string;
  /** `ce-type`, e.g. `mfg.production.production_reported.v1`. */
  readonly type: string;
  /** The payload, resolved from the writer's schema to this program's (reader) schema. */
  readonly value: T;
  /** The writer schema: fingerprint, and registry version when a registry is used. */
  readonly writer: { readonly fingerprint: string; readonly version?: number };
  /** The Avro type `value` conforms to (for `toJson`). */
  readonly schema: AvroType;
  /** The NATS subject the event was published on (routing only). */
  readonly routingSubject: string;
  readonly stream: string;
  readonly streamSequence: number;
  /** When the stream stored it. */
  readonly storedAt: Date;
  /** All headers of the message, as stored. */
  readonly headers: MsgHdrs | undefined;
}

/** A stored event typed by the catalog when its type is one of the catalog's. */
export type StoredEventOf<K extends string> = K extends EventType
  ? StoredEvent<EventPayloads[K]> & { readonly type: K }
  : StoredEvent;

/** The single source of the reader's defaults. */
export const READ_DEFAULTS = {
  batch: 500,
  headersOnly: false,
  cleanup: "delete",
  ifMissing: "throw",
  /** How long one pull waits for its messages (not configurable). */
  pullExpiresMs: 2_000,
  /** How long a reader's consumer outlives its last pull (not configurable). */
  inactiveThresholdMs: 10_000,
  /** Fetches no server answered (the reader's consumer lost), retried before the read fails. */
  noRespondersRetries: 5,
} as const;

interface ParsedRead {
  readonly stream: string;
  readonly filter: string | undefined;
  readonly fromSequence: number | undefined;
  readonly toSequence: number | undefined;
  readonly since: Date | undefined;
  readonly until: Date | undefined;
  readonly headersOnly: boolean;
  readonly batch: number;
  readonly cleanup: "delete" | "expire";
  readonly ifMissing: "empty" | "throw";
  readonly follow: AbortSignal | undefined;
}

function parseReadOptions(o: StreamReadOptions): ParsedRead {
  if (typeof o.stream !== "string" || o.stream === "") throw new ConfigError("stream", "is required");
  if (o.fromSequence !== undefined && o.since !== undefined)
    throw new ConfigError("fromSequence", "cannot be combined with since: start at a sequence or at a time");
  const sequence = (key: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
      throw new ConfigError(key, `must be an integer of at least ${min} (got ${v})`);
    return v;
  };
  const time = (key: string, v: Date | undefined) => {
    if (v !== undefined && !(v instanceof Date && !Number.isNaN(v.getTime())))
      throw new ConfigError(key, "must be a valid Date");
    return v;
  };
  const oneOf = <V extends string>(key: string, v: V | undefined, allowed: readonly V[], fallback: V) => {
    if (v !== undefined && !allowed.includes(v))
      throw new ConfigError(key, `must be one of ${allowed.join(", ")} (got ${String(v)})`);
    return v ?? fallback;
  };
  return {
    stream: o.stream,
    filter: o.filter || undefined,
    fromSequence: sequence("fromSequence", o.fromSequence, 1),
    toSequence: sequence("toSequence", o.toSequence, 0),
    since: time("since", o.since),
    until: time("until", o.until),
    headersOnly: o.headersOnly ?? READ_DEFAULTS.headersOnly,
    batch: sequence("batch", o.batch, 1) ?? READ_DEFAULTS.batch,
    cleanup: oneOf("cleanup", o.cleanup, ["delete", "expire"], READ_DEFAULTS.cleanup),
    ifMissing: oneOf("ifMissing", o.ifMissing, ["empty", "throw"], READ_DEFAULTS.ifMissing),
    follow: o.follow,
  };
}

/**
 * The messages of the read, in stream order. Options are checked at the call (a `ConfigError`
 * naming the option); the consumer is created on the first `next()`.
 */
export function readMessages(nc: NatsConnection, options: StreamReadOptions): AsyncIterable<JsMsg> {
  return messages(nc, parseReadOptions(options));
}

/**
 * The events of the read, decoded, in stream order. A message that cannot be read as an event (no
 * CloudEvents headers, undecodable bytes, an unknown writer schema) rejects the read with its error
 * (`EnvelopeError`, or the codec's: each has a `code`).
 */
export function readEvents<K extends string = string>(
  nc: NatsConnection,
  options: EventReadOptions<K>,
): AsyncIterable<StoredEventOf<K>> {
  if ((options as StreamReadOptions).headersOnly)
    throw new ConfigError(
      "headersOnly",
      "cannot be used to read events: they are decoded from their payload",
    );
  const read = parseReadOptions(options);
  const codec = options.codec ?? new EventCodec();
  const types = options.types ? new Set<string>(options.types) : undefined;
  return (async function* () {
    for await (const m of messages(nc, read)) {
      if (types && !types.has(m.headers?.get("ce-type") ?? "")) continue;
      yield (await decodeMessage(codec, m)) as StoredEventOf<K>;
    }
  })();
}

/**
 * One stored message as an event: its envelope, and its payload decoded with the codec. Rejects with
 * the envelope's or the codec's error (each has a `code`) when the message is not a readable event —
 * what a reader that skips such messages (`threadline tap`) catches.
 */
export async function decodeMessage(codec: EventCodec, m: JsMsg): Promise<StoredEvent> {
  const envelope = fromHeaders(m.headers);
  const decoded = await decodePayload(codec, envelope, m.data);
  return {
    envelope,
    id: envelope.id,
    type: envelope.type,
    value: decoded.value,
    writer: writerOf(decoded),
    schema: decoded.type,
    routingSubject: m.subject,
    stream: m.info.stream,
    streamSequence: m.seq,
    storedAt: storedAt(m),
    headers: m.headers,
  };
}

/**
 * Hands every message of the read to `fn`, in stream order, one at a time. Resolves to the number of
 * messages read.
 */
export async function readStream(
  nc: NatsConnection,
  options: StreamReadOptions,
  fn: (m: JsMsg) => Promise<void> | void,
): Promise<number> {
  let read = 0;
  for await (const m of readMessages(nc, options)) {
    read++;
    await fn(m);
  }
  return read;
}

function storedAt(m: JsMsg): Date {
  return new Date(Number(m.timestampNanos / 1_000_000n));
}

async function* messages(nc: NatsConnection, o: ParsedRead): AsyncGenerator<JsMsg> {
  const consumer = await openReader(nc, o);
  if (!consumer) return;
  try {
    // Pending at creation bounds the read: messages stored while reading are left for the next one
    // (unless it follows the stream).
    const total = (await consumer.info(true)).num_pending;
    const follow = o.follow;
    let read = 0;
    // The last sequence seen: what is left up to toSequence is at most toSequence - last.
    let last = (o.fromSequence ?? 1) - 1;
    let unanswered = 0;
    while (follow ? !follow.aborted : read < total) {
      const max = Math.min(
        o.batch,
        follow ? o.batch : total - read,
        o.toSequence === undefined ? Infinity : o.toSequence - last,
      );
      if (max <= 0) return;
      const batch = await consumer.fetch({ max_messages: max, expires: READ_DEFAULTS.pullExpiresMs });
      const stop = () => batch.stop();
      follow?.addEventListener("abort", stop, { once: true });
      let got = 0;
      try {
        for await (const m of batch) {
          if (follow?.aborted) return;
          got++;
          read++;
          if (o.toSequence !== undefined && m.seq > o.toSequence) return;
          if (o.until !== undefined && storedAt(m) > o.until) return;
          last = m.seq;
          yield m;
        }
        unanswered = 0;
      } catch (err) {
        // The reader's consumer is gone from under it (its node restarted, a leader moved): nats.js
        // recreates it from the last message delivered on the next fetch. Bounded, then the error.
        if (!isNoResponders(err) || ++unanswered > READ_DEFAULTS.noRespondersRetries) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250 * unanswered));
        continue;
      } finally {
        batch.stop(); // a no-op when the batch was read to its end
        follow?.removeEventListener("abort", stop);
      }
      // Nothing came: without follow, what is left expired or was purged meanwhile; following, the
      // read waits for more, unless its window has closed.
      if (got === 0 && (!follow || (o.until !== undefined && Date.now() > o.until.getTime()))) return;
    }
  } finally {
    // Best effort: a consumer whose delete is lost still expires.
    if (o.cleanup === "delete") await consumer.delete().catch(() => undefined);
  }
}

/**
 * The reader's consumer is gone: a pull no server answered (nats.js's JetStreamStatusError 503, not
 * exported by the package), or, from 2.9 servers, "consumer not found" while the pull is checked.
 */
function isNoResponders(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.ConsumerNotFound;
  return (err as Error)?.name === "JetStreamStatusError" && (err as { code?: unknown }).code === 503;
}

async function openReader(nc: NatsConnection, o: ParsedRead): Promise<Consumer | undefined> {
  const start: Partial<OrderedConsumerOptions> =
    o.fromSequence !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: o.fromSequence }
      : o.since !== undefined
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: o.since.toISOString() }
        : { deliver_policy: DeliverPolicy.All };
  try {
    return await jetstream(nc).consumers.get(o.stream, {
      ...(o.filter ? { filter_subjects: o.filter } : {}),
      ...start,
      ...(o.headersOnly ? { headers_only: true } : {}),
      // Left to expire (or should the reader die mid-read), it goes in seconds, not nats.js's five minutes.
      inactive_threshold: READ_DEFAULTS.inactiveThresholdMs,
    });
  } catch (err) {
    const missing = err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
    if (missing && o.ifMissing === "empty") return undefined;
    throw err;
  }
}
