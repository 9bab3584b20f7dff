/**
 * Which events an ops or analyst command works on: one selection language for `threadline replay`,
 * `tap` and the like. A selection names a stream (or the domain stream of a subject or an event
 * type), and narrows it by subject filter, event type, stored time window, sequence range, business
 * key (`ce-subject`: an order, a lot, a machine) and site / line / machine (subject tokens).
 *
 * ```ts
 * const sel = parseSelection({ type: "mfg.production.production_reported.v1", since: "2h", key: "WH/MO/00042" });
 * for await (const e of selectEvents(nc, sel, { codec })) console.log(e.streamSequence, e.value);
 * const summary = await summarizeSelection(nc, sel, { codec });   // --dry-run: count, first, last, sample
 * ```
 *
 * The stream and sequence/time window go to the server (an ephemeral ordered consumer, streams/src/read.ts);
 * type, key and the equipment tokens are matched here. Times are the stream's stored times, not the
 * events' own (an event buffered at a plant is stored late).
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENT_TYPES, EventCodec } from "../../contracts/src/index.js";
import { fromHeaders, parseEventType } from "./envelope.js";
import { ConfigError } from "./errors.js";
import { domainStream } from "./names.js";
import { decodeMessage, readMessages, type StoredEvent, type StreamReadOptions } from "./read.js";

/** A selection as parsed and checked. */
export interface Selection {
  readonly stream: string;
  /** The server-side subject filter (one: the 2.9 floor). */
  readonly filter: string | undefined;
  readonly types: readonly string[] | undefined;
  readonly since: Date | undefined;
  readonly until: Date | undefined;
  readonly fromSequence: number | undefined;
  readonly toSequence: number | undefined;
  /** `ce-subject`, the business key. */
  readonly key: string | undefined;
  readonly site: string | undefined;
  readonly line: string | undefined;
  readonly machine: string | undefined;
}

/** The selection as a command's flags give it (strings, as typed). */
export interface SelectionInput {
  readonly stream?: string;
  readonly subject?: string;
  /** One event type, or several comma-separated. */
  readonly type?: string;
  /** ISO-8601, or relative to `now`: `90s`, `15m`, `2h`, `3d`. */
  readonly since?: string;
  readonly until?: string;
  /** A sequence range `FROM-TO`, `FROM-` or `-TO` (both ends included). */
  readonly seq?: string;
  readonly key?: string;
  readonly site?: string;
  readonly line?: string;
  readonly machine?: string;
}

const RELATIVE = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A time flag: ISO-8601, or a duration before `now` (`2h`). @throws ConfigError naming the flag */
export function parseTime(flag: string, text: string, now = Date.now()): Date {
  const rel = RELATIVE.exec(text.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]);
  // A date alone, or a date and time: what Date.parse reads of ISO-8601. Anything else is refused.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const t = Date.parse(text.trim());
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new ConfigError(
    flag,
    `is not a time: ${JSON.stringify(text)} (ISO-8601 such as 2026-12-04T06:00:00Z, or relative such as 90s, 15m, 2h, 3d)`,
  );
}

/** Checks the flags and resolves the stream. @throws ConfigError naming the flag that is wrong */
export function parseSelection(input: SelectionInput, now = Date.now()): Selection {
  const types = input.type
    ?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of types ?? [])
    if (!(EVENT_TYPES as readonly string[]).includes(t))
      throw new ConfigError(
        "--type",
        `${t} is not an event type of the catalog (threadline contracts list --local)`,
      );
  const domains = new Set((types ?? []).map((t) => parseEventType(t).domain));
  if (domains.size > 1)
    throw new ConfigError("--type", "names event types of several streams: select one stream's");
  const subject = input.subject?.trim() || undefined;
  if (subject !== undefined && !/^[^\s]+$/.test(subject))
    throw new ConfigError("--subject", "must not contain spaces");
  const stream =
    input.stream ??
    (types?.[0] !== undefined ? domainStream(parseEventType(types[0]).domain) : undefined) ??
    (subject?.startsWith("mfg.") ? domainStream(subject.split(".")[1] as string) : undefined);
  if (!stream)
    throw new ConfigError("--stream", "is required unless --type or an mfg.<domain>.… --subject names it");
  // One type narrows the server's filter to its subjects; several keep the whole stream's.
  const filter =
    subject ??
    (types?.length === 1
      ? `mfg.${parseEventType(types[0] as string).domain}.${parseEventType(types[0] as string).event}.>`
      : undefined);
  let fromSequence: number | undefined;
  let toSequence: number | undefined;
  if (input.seq !== undefined) {
    const m = /^(\d*)-(\d*)$/.exec(input.seq.trim()) ?? /^(\d+)()$/.exec(input.seq.trim());
    if (!m || (m[1] === "" && m[2] === ""))
      throw new ConfigError("--seq", `must be FROM-TO, FROM- or -TO (got ${JSON.stringify(input.seq)})`);
    fromSequence = m[1] ? Number(m[1]) : undefined;
    toSequence = m[2] ? Number(m[2]) : m[1] && !input.seq.includes("-") ? Number(m[1]) : undefined;
    if (fromSequence !== undefined && fromSequence < 1)
      throw new ConfigError("--seq", "sequences start at 1");
    if (fromSequence !== undefined && toSequence !== undefined && toSequence < fromSequence)
      throw new ConfigError("--seq", `ends before it starts (${input.seq})`);
  }
  const since = input.since !== undefined ? parseTime("--since", input.since, now) : undefined;
  const until = input.until !== undefined ? parseTime("--until", input.until, now) : undefined;
  if (since && until && until < since) throw new ConfigError("--until", "is before --since");
  if (since && fromSequence !== undefined)
    throw new ConfigError("--since", "cannot be combined with --seq FROM: start at a time or at a sequence");
  return {
    stream,
    filter,
    types,
    since,
    until,
    fromSequence,
    toSequence,
    key: input.key || undefined,
    site: input.site || undefined,
    line: input.line || undefined,
    machine: input.machine || undefined,
  };
}

/** The read options of a selection (what the server narrows). */
export function readOptionsOf(s: Selection, extra: Partial<StreamReadOptions> = {}): StreamReadOptions {
  return {
    stream: s.stream,
    ...(s.filter ? { filter: s.filter } : {}),
    ...(s.fromSequence !== undefined ? { fromSequence: s.fromSequence } : {}),
    ...(s.toSequence !== undefined ? { toSequence: s.toSequence } : {}),
    ...(s.since ? { since: s.since } : {}),
    ...(s.until ? { until: s.until } : {}),
    ...extra,
  };
}

/** Whether a stored message belongs to the selection (what the server did not narrow). */
export function matchesSelection(s: Selection, m: Pick<JsMsg, "subject" | "headers">): boolean {
  if (s.types || s.key !== undefined) {
    const h = m.headers;
    if (s.types && !s.types.includes(h?.get("ce-type") ?? "")) return false;
    if (s.key !== undefined && h?.get("ce-subject") !== s.key) return false;
  }
  if (s.site !== undefined || s.line !== undefined || s.machine !== undefined) {
    // mfg.<domain>.<event>.<site>[.<line>[.<machine>]]
    const t = m.subject.split(".");
    if (s.site !== undefined && t[3] !== s.site) return false;
    if (s.line !== undefined && t[4] !== s.line) return false;
    if (s.machine !== undefined && t[5] !== s.machine) return false;
  }
  return true;
}

/** The selected messages, raw (copy, replay: bytes and headers as stored). */
export async function* selectMessages(
  nc: NatsConnection,
  s: Selection,
  extra: Partial<StreamReadOptions> = {},
): AsyncGenerator<JsMsg> {
  for await (const m of readMessages(nc, readOptionsOf(s, extra))) if (matchesSelection(s, m)) yield m;
}

/** The selected events, decoded (the codec resolves each writer's schema; give it the registry). */
export async function* selectEvents(
  nc: NatsConnection,
  s: Selection,
  options: { codec?: EventCodec } & Partial<StreamReadOptions> = {},
): AsyncGenerator<StoredEvent> {
  const { codec = new EventCodec(), ...extra } = options;
  // Matched on the headers first: only the selected events are decoded (a key picks a few of many).
  for await (const m of selectMessages(nc, s, extra)) yield await decodeMessage(codec, m);
}

/** What a dry run prints: how many, the first and the last, a sample. */
export interface SelectionSummary {
  readonly count: number;
  readonly first: SummaryRow | undefined;
  readonly last: SummaryRow | undefined;
  /** Up to `sample` rows from the start. */
  readonly sample: readonly SummaryRow[];
}

export interface SummaryRow {
  readonly seq: number;
  readonly storedAt: string;
  readonly type: string;
  readonly key: string;
  readonly subject: string;
  readonly id: string;
}

/** Counts the selection without delivering anything (headers only). */
export async function summarizeSelection(
  nc: NatsConnection,
  s: Selection,
  options: { sample?: number } & Partial<StreamReadOptions> = {},
): Promise<SelectionSummary> {
  const { sample: size = 5, ...extra } = options;
  let count = 0;
  let first: SummaryRow | undefined;
  let last: SummaryRow | undefined;
  const sample: SummaryRow[] = [];
  for await (const m of selectMessages(nc, s, { ...extra, headersOnly: true })) {
    count++;
    const env = (() => {
      try {
        return fromHeaders(m.headers);
      } catch {
        return undefined;
      }
    })();
    const row: SummaryRow = {
      seq: m.seq,
      storedAt: new Date(Math.floor(m.info.timestampNanos / 1_000_000)).toISOString(),
      type: env?.type ?? "(not an event)",
      key: env?.subject ?? "",
      subject: m.subject,
      id: env?.id ?? "",
    };
    first ??= row;
    last = row;
    if (sample.length < size) sample.push(row);
  }
  return { count, first, last, sample };
}
