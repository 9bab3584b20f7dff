/**
 * Working the dead-letter stream: which dead letters a `threadline dlq` command (list, show, stats,
 * purge, redrive) works on. A filter names the source stream and consumer (matched by the server: the
 * dead letter's subject is `mfg.dlq.<stream>.<consumer>`), the reason code and the event type (matched
 * here, from the headers), and a window of the times the dead letters were stored.
 *
 * ```ts
 * const filter = parseDlqFilter({ stream: "MFG_PRODUCTION", code: "CONNECTOR_ORDER_NOT_FOUND", since: "2h" });
 * for (const d of await listDeadLetters(nc, filter)) console.log(d.seq, d.letter.consumer, d.key);
 * ```
 *
 * The read is an ephemeral ordered consumer on `MFG_DLQ` (streams/src/read.ts); no durable is touched.
 * A message on `mfg.dlq.>` that is not a dead letter (no `Threadline-Dlq-*` headers) is skipped and
 * counted in {@link DeadLetterScan.skipped}, never deleted by a filter.
 */
import { JetStreamApiCodes, JetStreamApiError, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { type EventCodec, toJson } from "../../contracts/src/index.js";
import { recordAudit } from "./audit.js";
import { type DeadLetter, NotADeadLetterError, readDeadLetter } from "./dead-letter.js";
import { CE } from "./envelope.js";
import { ConfigError } from "./errors.js";
import { DLQ_STREAM } from "./names.js";
import { readMessages, type StreamReadOptions } from "./read.js";
import { parseTime } from "./selection.js";

/** Which dead letters, as parsed and checked. Every field narrows; none given: every dead letter. */
export interface DlqFilter {
  /** The stream the message was consumed from (`Threadline-Dlq-Stream`, the subject's 3rd token). */
  readonly stream: string | undefined;
  /** The consumer that gave up on it (or a producer's token), the subject's 4th token. */
  readonly consumer: string | undefined;
  /** Reason codes (`Threadline-Dlq-Code`); any of them. */
  readonly codes: readonly string[] | undefined;
  /** Event types (`ce-type`); any of them. */
  readonly types: readonly string[] | undefined;
  /** Dead-lettered (stored in MFG_DLQ) at or after. */
  readonly since: Date | undefined;
  /** Dead-lettered at or before. */
  readonly until: Date | undefined;
}

/** The filter as flags give it (strings, as typed). */
export interface DlqFilterInput {
  readonly stream?: string;
  readonly consumer?: string;
  /** One code, or several comma-separated. */
  readonly code?: string;
  /** One event type, or several comma-separated. */
  readonly type?: string;
  /** ISO-8601, or relative to now (`90s`, `15m`, `2h`, `3d`). */
  readonly since?: string;
  readonly until?: string;
}

/** One dead letter as MFG_DLQ stores it. */
export interface DeadLetterEntry {
  /** Its sequence in MFG_DLQ (what `dlq show`, `purge` and `redrive` name it by). */
  readonly seq: number;
  /** When MFG_DLQ stored it. */
  readonly storedAt: Date;
  /** The subject it is stored on: `mfg.dlq.<stream>.<consumer>`. */
  readonly dlqSubject: string;
  readonly letter: DeadLetter;
  /** `ce-type` of the original, when it had one. */
  readonly type: string | undefined;
  /** `ce-subject` (the business key) of the original, when it had one. */
  readonly key: string | undefined;
  /** Every header of the stored dead letter (the original's and the `Threadline-Dlq-*` ones). */
  readonly headers: MsgHdrs;
  /** The original message's bytes. */
  readonly data: Uint8Array;
}

/** What a scan read besides the matches. */
export interface DeadLetterScan {
  /** Messages read (matching or not). */
  read: number;
  /** Messages on `mfg.dlq.>` that are not dead letters. */
  skipped: number;
}

/** A subject token: no `.`, `*`, `>` or whitespace. */
const TOKEN = /^[^.*>\s]+$/;
const list = (text: string | undefined) => {
  const items = text
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
};

/** Checks the flags. @throws ConfigError naming the flag that is wrong */
export function parseDlqFilter(input: DlqFilterInput, now = Date.now()): DlqFilter {
  const stream = input.stream?.trim() || undefined;
  const consumer = input.consumer?.trim() || undefined;
  if (stream !== undefined && !TOKEN.test(stream))
    throw new ConfigError(
      "--stream",
      `must be a stream name such as MFG_PRODUCTION (got ${JSON.stringify(stream)})`,
    );
  if (consumer !== undefined && !TOKEN.test(consumer))
    throw new ConfigError(
      "--consumer",
      `must be a consumer name, no . * > or spaces (got ${JSON.stringify(consumer)})`,
    );
  const types = list(input.type);
  for (const t of types ?? [])
    if (!/^mfg\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$/.test(t))
      throw new ConfigError(
        "--type",
        `${JSON.stringify(t)} is not an event type (mfg.<domain>.<event>.v<major>)`,
      );
  const since = input.since !== undefined ? parseTime("--since", input.since, now) : undefined;
  const until = input.until !== undefined ? parseTime("--until", input.until, now) : undefined;
  if (since && until && until < since) throw new ConfigError("--until", "is before --since");
  return { stream, consumer, codes: list(input.code), types, since, until };
}

/** The subject filter the server applies: `mfg.dlq.>`, `mfg.dlq.<stream>.>`, `mfg.dlq.*.<consumer>`… */
export function dlqFilterSubject(f: Pick<DlqFilter, "stream" | "consumer">): string {
  if (f.stream === undefined && f.consumer === undefined) return "mfg.dlq.>";
  return `mfg.dlq.${f.stream ?? "*"}.${f.consumer ?? "*"}`;
}

/** Whether a dead letter passes the filter's header conditions (the server did stream, consumer, time). */
export function matchesDlqFilter(f: DlqFilter, d: Pick<DeadLetterEntry, "letter" | "type">): boolean {
  if (f.stream !== undefined && d.letter.stream !== f.stream) return false;
  if (f.consumer !== undefined && d.letter.consumer !== f.consumer) return false;
  if (f.codes !== undefined && !f.codes.includes(d.letter.code)) return false;
  if (f.types !== undefined && (d.type === undefined || !f.types.includes(d.type))) return false;
  return true;
}

/** A stored message of MFG_DLQ as a {@link DeadLetterEntry}. @throws NotADeadLetterError */
export function deadLetterEntry(
  m: Pick<JsMsg, "seq" | "subject" | "headers" | "data" | "timestampNanos">,
): DeadLetterEntry {
  const letter = readDeadLetter({ headers: m.headers, data: m.data });
  const first = (name: string) => {
    const v = letter.headers.get(name);
    return v === "" ? undefined : v;
  };
  return {
    seq: m.seq,
    storedAt: new Date(Number(m.timestampNanos / 1_000_000n)),
    dlqSubject: m.subject,
    letter,
    type: first(CE.type),
    key: first(CE.subject),
    headers: m.headers!,
    data: m.data,
  };
}

/**
 * The dead letters matching `filter`, in MFG_DLQ order, read up to what the stream held when the read
 * started. `scan` (optional) is filled with what was read and skipped.
 */
export async function* readDeadLetters(
  nc: NatsConnection,
  filter: DlqFilter,
  options: { readonly scan?: DeadLetterScan; readonly cleanup?: StreamReadOptions["cleanup"] } = {},
): AsyncGenerator<DeadLetterEntry> {
  const scan = options.scan ?? { read: 0, skipped: 0 };
  for await (const m of readMessages(nc, {
    stream: DLQ_STREAM,
    filter: dlqFilterSubject(filter),
    ...(filter.since ? { since: filter.since } : {}),
    ...(filter.until ? { until: filter.until } : {}),
    ...(options.cleanup ? { cleanup: options.cleanup } : {}),
    ifMissing: "empty",
  })) {
    scan.read++;
    let entry: DeadLetterEntry;
    try {
      entry = deadLetterEntry(m);
    } catch (err) {
      if (!(err instanceof NotADeadLetterError)) throw err;
      scan.skipped++;
      continue;
    }
    if (matchesDlqFilter(filter, entry)) yield entry;
  }
}

/** {@link readDeadLetters}, collected. */
export async function listDeadLetters(
  nc: NatsConnection,
  filter: DlqFilter,
  options: { readonly scan?: DeadLetterScan; readonly cleanup?: StreamReadOptions["cleanup"] } = {},
): Promise<DeadLetterEntry[]> {
  const out: DeadLetterEntry[] = [];
  for await (const d of readDeadLetters(nc, filter, options)) out.push(d);
  return out;
}

/** A dead letter as JSON: where it came from, why it failed, what it was (`dlq list --json`, the console). */
export function deadLetterSummary(d: DeadLetterEntry) {
  const l = d.letter;
  return {
    seq: d.seq,
    storedAt: d.storedAt.toISOString(),
    stream: l.stream,
    sequence: l.sequence ?? null,
    subject: l.subject,
    consumer: l.consumer,
    code: l.code,
    message: l.message,
    deliveries: l.deliveries,
    firstFailureAt: l.firstFailureAt.toISOString(),
    lastFailureAt: l.lastFailureAt.toISOString(),
    type: d.type ?? null,
    key: d.key ?? null,
    id: l.headers.get("ce-id") || null,
  };
}

/** Every header of a stored dead letter, by name. */
export function deadLetterHeaders(d: DeadLetterEntry): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of d.headers.keys()) out[k] = d.headers.values(k);
  return out;
}

/** The original payload of a dead letter, decoded with its writer schema, or why it does not decode. */
export type DecodedDeadLetter =
  | {
      readonly ok: true;
      readonly json: unknown;
      readonly writer: { subject: string | undefined; fingerprint: string; version: number | undefined };
    }
  | { readonly ok: false; readonly error: string };

/** Decodes a dead letter's payload as JSON; a payload that does not decode (often the reason) says why. */
export async function decodeDeadLetter(codec: EventCodec, d: DeadLetterEntry): Promise<DecodedDeadLetter> {
  try {
    const decoded = await codec.decode(d.data, d.type === undefined ? {} : { subjectHint: d.type });
    return {
      ok: true,
      json: toJson(decoded.type, decoded.value),
      writer: {
        subject: decoded.writer.subject,
        fingerprint: decoded.writer.fingerprint,
        version: decoded.writer.version,
      },
    };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { ok: false, error: code ? `${code}: ${(err as Error).message}` : String(err) };
  }
}

/** Whether a JetStream error says the message is not there (deleted meanwhile). */
export function isNoMessage(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.NoMessageFound || /no message found/i.test(err.message))
  );
}

/** What a purge did: every dead letter matched is deleted, gone already, or the purge stopped. */
export interface PurgeResult {
  readonly matched: number;
  readonly deleted: number;
  /** Deleted meanwhile (another purge, a redrive): what was wanted. */
  readonly alreadyGone: number;
  /** Why the purge stopped before the end; the audit record says so too. */
  readonly failure?: Error;
}

/**
 * Deletes the given dead letters from MFG_DLQ by sequence, then records the purge in the audit trail
 * (with `who`, the selection, and every sequence), whether it finished or stopped on an error.
 */
export async function purgeDeadLetters(
  nc: NatsConnection,
  found: readonly Pick<DeadLetterEntry, "seq">[],
  audit: { readonly selection: Readonly<Record<string, unknown>>; readonly who?: string },
): Promise<PurgeResult> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let deleted = 0;
  let alreadyGone = 0;
  let failure: Error | undefined;
  for (const d of found) {
    try {
      await jsm.streams.deleteMessage(DLQ_STREAM, d.seq, false);
      deleted++;
    } catch (err) {
      if (isNoMessage(err)) {
        alreadyGone++;
        continue;
      }
      failure = err as Error;
      break;
    }
  }
  await recordAudit(
    nc,
    {
      action: "purge",
      selection: audit.selection,
      outcome: failure === undefined ? "done" : "failed",
      details: {
        stream: DLQ_STREAM,
        matched: found.length,
        deleted,
        alreadyGone,
        sequences: found.map((d) => d.seq),
        ...(failure === undefined ? {} : { error: failure.message }),
      },
    },
    audit.who === undefined ? {} : { who: audit.who },
  );
  return { matched: found.length, deleted, alreadyGone, ...(failure ? { failure } : {}) };
}

/**
 * One dead letter by its MFG_DLQ sequence; undefined when MFG_DLQ has no message there (purged,
 * redriven). @throws NotADeadLetterError when the message there is not a dead letter
 */
export async function deadLetterAt(nc: NatsConnection, seq: number): Promise<DeadLetterEntry | undefined> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let stored: Awaited<ReturnType<typeof jsm.streams.getMessage>>;
  try {
    stored = await jsm.streams.getMessage(DLQ_STREAM, { seq });
  } catch (err) {
    if (isNoMessage(err)) return undefined;
    throw err;
  }
  if (!stored) return undefined;
  return deadLetterEntry({
    seq: stored.seq,
    subject: stored.subject,
    headers: stored.header,
    data: stored.data,
    timestampNanos: BigInt(stored.time.getTime()) * 1_000_000n,
  });
}
