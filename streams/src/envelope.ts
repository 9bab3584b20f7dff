/**
 * The CloudEvents NATS binding (binary mode) for Threadline events, and the subject scheme
 * `mfg.<domain>.<event>.<site>[.<line>[.<machine>]]`. Subjects carry routing only; the payload
 * type lives in `ce-type`.
 */
import { randomFillSync } from "node:crypto";
import type { MsgHdrs } from "@nats-io/nats-core";
import { v5 as uuidv5, v7 as uuidv7 } from "uuid";
import { type DecodedEvent, type EventCodec, ThreadlineError } from "../../contracts/src/index.js";
import { BlockHeaders, eachHeader, headerBlock, type ReceivedMsg } from "./wire-headers.js";

export const CE = {
  specversion: "ce-specversion",
  id: "ce-id",
  source: "ce-source",
  type: "ce-type",
  time: "ce-time",
  subject: "ce-subject",
  dataschema: "ce-dataschema",
  contentType: "content-type",
  msgId: "Nats-Msg-Id",
  traceparent: "traceparent",
} as const;

export const AVRO_CONTENT_TYPE = "application/avro";

/** The headers every event carries, in the order they are written (`toHeaders`) and read. */
const REQUIRED_HEADERS = [
  CE.specversion,
  CE.id,
  CE.source,
  CE.type,
  CE.time,
  CE.subject,
  CE.dataschema,
] as const;

/** The metadata of one event, as carried in headers. */
export interface EventEnvelope {
  /** `ce-id`: a UUIDv7 (or a UUIDv5 from {@link derivedEventId}), also the `Nats-Msg-Id` the server deduplicates on. */
  readonly id: string;
  /** `ce-source`: `urn:threadline:<service>:<site>`. */
  readonly source: string;
  /** `ce-type`: `mfg.<domain>.<event>.v<major>`. */
  readonly type: string;
  readonly time: Date;
  /** `ce-subject`: the business key (order, lot, machine); also the per-key ordering key. */
  readonly subject: string;
  /** `ce-dataschema`: `urn:threadline:schema:<event type>:<fingerprint>`. */
  readonly dataschema: string;
  /** W3C trace context, when the event continues a trace. */
  readonly traceparent?: string;
}

export class EnvelopeError extends ThreadlineError {
  constructor(message: string) {
    super("ENVELOPE_INVALID", message);
  }
}

/** UUIDv5 namespace of content-derived event ids. */
const DERIVED_ID_NAMESPACE = "5f0c6a0e-54a1-4d0f-9a59-2b7f3f0e8c11";

/**
 * An event id derived from what identifies the event (UUIDv5 of the parts), for producers that may
 * derive the same event twice — a connector re-reading a source after a restart, a re-sent reading:
 * the copy gets the same id and the stream's duplicate window drops it. Start with the producer's
 * name so two producers never collide.
 */
export function derivedEventId(...parts: readonly (string | number | bigint)[]): string {
  return uuidv5(parts.join("|"), DERIVED_ID_NAMESPACE);
}

// Random bytes drawn from a pool refilled 4 KiB at a time: one syscall per ~170 trace ids instead of two each.
const randomPool = Buffer.allocUnsafe(4096);
let randomOffset = randomPool.length;
function takeRandom(bytes: number): number {
  if (randomOffset + bytes > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return randomOffset - bytes;
}
function randomHex(bytes: number): string {
  const at = takeRandom(bytes);
  return randomPool.toString("hex", at, at + bytes);
}
function randomFill(into: Uint8Array): void {
  const at = takeRandom(into.length);
  randomPool.copy(into, 0, at, at + into.length);
}

/** uuid's own v7 state (monotonic within a millisecond), kept here because the random bytes are ours. */
const v7 = { msecs: Number.NEGATIVE_INFINITY, seq: 0 };
const idRandom = new Uint8Array(16);

/**
 * A new UUIDv7. uuid draws its 16 random bytes through WebCrypto's `getRandomValues` on every call,
 * which was the publisher's largest single cost (BENCHMARKS.md, "sdk"); here they come from the
 * pooled randomness above, and the timestamp and counter follow uuid's own rules (`updateV7State`).
 */
export function newEventId(): string {
  randomFill(idRandom);
  const now = Date.now();
  if (now > v7.msecs) {
    v7.seq =
      (((idRandom[6] as number) & 0x7f) << 24) |
      ((idRandom[7] as number) << 16) |
      ((idRandom[8] as number) << 8) |
      (idRandom[9] as number);
    v7.msecs = now;
  } else {
    v7.seq = (v7.seq + 1) | 0;
    if (v7.seq === 0) v7.msecs++;
  }
  return uuidv7({ random: idRandom, msecs: v7.msecs, seq: v7.seq });
}

/** A new W3C traceparent (version 00, sampled) for events that start a trace. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

export function sourceUrn(service: string, site: string): string {
  return `urn:threadline:${sanitizeToken(service)}:${sanitizeToken(site)}`;
}

export function dataschemaOf(eventType: string, fingerprint: string): string {
  return `urn:threadline:schema:${eventType}:${fingerprint}`;
}

/**
 * Makes a subject token out of an identifier: no `.`, `*`, `>` or whitespace (they would change
 * routing), nothing empty. Distinct identifiers stay distinct: replaced characters are escaped.
 */
export function sanitizeToken(value: string): string {
  if (value.length === 0) throw new EnvelopeError("a subject token cannot be empty");
  return value.replace(
    /[.*>\s%]/gu,
    (c) => `%${c.codePointAt(0)?.toString(16).padStart(2, "0").toUpperCase()}`,
  );
}

/** Event types seen valid on a hot path (bounded: types come from message headers). */
const validTypes = new Set<string>();

/** Throws EnvelopeError unless `eventType` is of the form `mfg.<domain>.<event>.v<major>`. */
function checkEventType(eventType: string): void {
  if (validTypes.has(eventType)) return;
  parseEventType(eventType);
  if (validTypes.size < 1_000) validTypes.add(eventType);
}

/** `mfg.production.production_order_released.v1` -> { domain: "production", event: "production_order_released" } */
export function parseEventType(eventType: string): { domain: string; event: string; major: number } {
  const m = /^mfg\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.v([1-9][0-9]*)$/.exec(eventType);
  if (!m) throw new EnvelopeError(`ce-type ${eventType} is not of the form mfg.<domain>.<event>.v<major>`);
  return { domain: m[1] as string, event: m[2] as string, major: Number(m[3]) };
}

/** The routing subject of an event: `mfg.<domain>.<event>.<site>[.<line>[.<machine>]]`. */
export function subjectFor(eventType: string, site: string, line?: string, machine?: string): string {
  const { domain, event } = parseEventType(eventType);
  const parts = ["mfg", domain, event, sanitizeToken(site)];
  if (line !== undefined) parts.push(sanitizeToken(line));
  if (machine !== undefined) {
    if (line === undefined) throw new EnvelopeError("a machine token needs a line token before it");
    parts.push(sanitizeToken(machine));
  }
  return parts.join(".");
}

/**
 * The event's CloudEvents headers and its dedup id, ready to publish (wire-headers.ts `BlockHeaders`).
 * `dedupId: false` leaves the `Nats-Msg-Id` out (the SDK bench measures what it costs).
 */
export function toHeaders(env: EventEnvelope, options: { dedupId?: boolean } = {}): MsgHdrs {
  const names: string[] = [...REQUIRED_HEADERS, CE.contentType];
  const values = [
    "1.0",
    env.id,
    env.source,
    env.type,
    env.time.toISOString(),
    env.subject,
    env.dataschema,
    AVRO_CONTENT_TYPE,
  ];
  if (options.dedupId !== false) {
    names.push(CE.msgId);
    values.push(env.id);
  }
  if (env.traceparent) {
    names.push(CE.traceparent);
    values.push(env.traceparent);
  }
  return new BlockHeaders(names, values);
}

/** The header values an envelope is made of, as read from a message (first value of each). */
interface EnvelopeFields {
  specversion?: string;
  id?: string;
  source?: string;
  type?: string;
  time?: string;
  subject?: string;
  dataschema?: string;
  traceparent?: string;
}

/** The envelope's headers, in the order of `ENVELOPE_FIELDS`. */
const ENVELOPE_HEADERS = [...REQUIRED_HEADERS, CE.traceparent] as const;
const ENVELOPE_FIELDS = [
  "specversion",
  "id",
  "source",
  "type",
  "time",
  "subject",
  "dataschema",
  "traceparent",
] as const satisfies readonly (keyof EnvelopeFields)[];

/** Keeps the first value of each envelope header; other headers are ignored. */
function takeField(f: EnvelopeFields, i: number, value: string): void {
  const field = ENVELOPE_FIELDS[i];
  if (field !== undefined) f[field] ??= value;
}

/** Reads the envelope from headers; throws EnvelopeError naming the missing or wrong header. */
export function fromHeaders(h: MsgHdrs | undefined): EventEnvelope {
  // One pass over the headers: nats-core's get() copies and filters the key list on every call.
  const f: EnvelopeFields = {};
  if (h)
    for (const [k, v] of h) {
      const i = (ENVELOPE_HEADERS as readonly string[]).indexOf(k);
      if (i >= 0 && v[0] !== undefined) takeField(f, i, v[0]);
    }
  return envelopeFrom(f);
}

/**
 * Reads the envelope of a received message from its raw header block (wire-headers.ts), without
 * building nats.js's header object; the same result and errors as `fromHeaders(msg.headers)`.
 */
export function envelopeOf(msg: ReceivedMsg): EventEnvelope {
  const block = headerBlock(msg);
  if (block === undefined) return fromHeaders(msg.headers);
  const f: EnvelopeFields = {};
  if (block !== null)
    eachHeader(block, ENVELOPE_HEADERS, (i, v) => {
      takeField(f, i, v);
      return false;
    });
  return envelopeFrom(f);
}

function envelopeFrom(f: EnvelopeFields): EventEnvelope {
  const need = (name: string, v: string | undefined): string => {
    if (!v) throw new EnvelopeError(`header ${name} is missing`);
    return v;
  };
  if (need(CE.specversion, f.specversion) !== "1.0")
    throw new EnvelopeError(`header ce-specversion is ${f.specversion}, expected 1.0`);
  const time = new Date(need(CE.time, f.time));
  if (Number.isNaN(time.getTime()))
    throw new EnvelopeError(`header ce-time is not an ISO-8601 time: ${f.time}`);
  const type = need(CE.type, f.type);
  checkEventType(type);
  const envelope: { -readonly [K in keyof EventEnvelope]: EventEnvelope[K] } = {
    id: need(CE.id, f.id),
    source: need(CE.source, f.source),
    type,
    time,
    subject: need(CE.subject, f.subject),
    dataschema: f.dataschema ?? "",
  };
  if (f.traceparent) envelope.traceparent = f.traceparent;
  return envelope;
}

/**
 * Decodes an event's payload as the type its envelope names: resolved to this program's contract of
 * that type when the catalog has it, else read with the writer's own schema (looked up in the
 * registry under that type). Fails with the codec's error (a `ThreadlineError`: bad bytes, unknown
 * fingerprint, unresolvable schema) or, for a registry lookup that failed, with that failure. Returns
 * at once (or throws) when the writer is known, a promise only while it is looked up
 * (`EventCodec.decodeSoon`).
 */
export function decodePayload<T = unknown>(
  codec: EventCodec,
  envelope: EventEnvelope,
  data: Uint8Array,
): DecodedEvent<T> | Promise<DecodedEvent<T>> {
  return codec.decodeSoon<T>(
    data,
    codec.catalog.find(envelope.type)
      ? { as: envelope.type, subjectHint: envelope.type }
      : { subjectHint: envelope.type },
  );
}

/** The writer of a decoded event as consumers and readers report it: fingerprint, and registry version when known. */
export function writerOf(decoded: DecodedEvent<unknown>): { fingerprint: string; version?: number } {
  return decoded.writer.version === undefined
    ? { fingerprint: decoded.writer.fingerprint }
    : { fingerprint: decoded.writer.fingerprint, version: decoded.writer.version };
}
