/**
 * Reading a stream for a page: every event of a window, decoded, in stream order, with a cap so a page
 * never reads a year of telemetry. A message that does not decode is counted, not fatal: the page says
 * how many it could not read (the dead-letter page is where such messages are worked).
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type EventCodec, toJson } from "../../../../contracts/src/index.js";
import { decodeMessage, readMessages, type StoredEvent } from "../../../../streams/src/index.js";

export interface ScanOptions {
  readonly stream: string;
  readonly filter?: string;
  readonly since?: Date;
  /** Messages read at most; the scan stops there and says it was cut. @default 200000 */
  readonly cap?: number;
}

export interface ScanResult {
  readonly read: number;
  readonly undecodable: number;
  /** The cap was reached: older or newer events may be missing; narrow the window. */
  readonly truncated: boolean;
}

export const SCAN_CAP = 200_000;

/** Told of each message a page could not read; main.ts logs it and counts it once per message. */
let unreadable: (stream: string, seq: number, err: unknown) => void = () => undefined;

/** Sets who is told of unreadable messages (the console's log and metric), once at start. */
export function reportUnreadableWith(report: (stream: string, seq: number, err: unknown) => void): void {
  unreadable = report;
}

/**
 * Calls `fn` with each event of the window, oldest first; the stream missing reads nothing. A window
 * holding more than the cap is read from its newest `cap` messages (what a page needs most is what just
 * happened), and the result says it was cut.
 */
export async function scanEvents(
  nc: NatsConnection,
  codec: EventCodec,
  o: ScanOptions,
  fn: (event: StoredEvent) => void,
): Promise<ScanResult> {
  const cap = o.cap ?? SCAN_CAP;
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const state = await jsm.streams.info(o.stream).then(
    (i) => i.state,
    (err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw err;
    },
  );
  if (!state || state.messages === 0) return { read: 0, undecodable: 0, truncated: false };
  // More messages than the cap in the stream: start `cap` before its end, skip what is older than the
  // window. The window was covered whole if the first message read is older than its start.
  const fromSequence = state.last_seq - state.first_seq + 1 > cap ? state.last_seq - cap + 1 : undefined;
  let read = 0;
  let undecodable = 0;
  let covered = fromSequence === undefined;
  for await (const m of readMessages(nc, {
    stream: o.stream,
    ...(o.filter ? { filter: o.filter } : {}),
    ...(fromSequence !== undefined ? { fromSequence } : o.since ? { since: o.since } : {}),
    ifMissing: "empty",
    cleanup: "expire",
  })) {
    read++;
    // Read from the start of the window: the cap bounds it. Read from `cap` before the end: it ends
    // at the end the read saw, a few more than the cap at most.
    if (fromSequence === undefined && read > cap) return { read: cap, undecodable, truncated: true };
    if (fromSequence !== undefined && o.since && Number(m.timestampNanos / 1_000_000n) < o.since.getTime()) {
      covered = true;
      continue;
    }
    let event: StoredEvent;
    try {
      event = await decodeMessage(codec, m);
    } catch (err) {
      undecodable++;
      unreadable(o.stream, m.seq, err);
      continue;
    }
    fn(event);
  }
  return { read, undecodable, truncated: !covered && (fromSequence ?? 0) > state.first_seq };
}

/** An event as a page shows it: where and when it was stored, what it is, its payload as JSON. */
export function eventRow(e: StoredEvent) {
  return {
    stream: e.stream,
    seq: e.streamSequence,
    storedAt: e.storedAt.toISOString(),
    time: e.envelope.time.toISOString(),
    type: e.type,
    key: e.envelope.subject,
    source: e.envelope.source,
    id: e.id,
    subject: e.routingSubject,
    value: toJson(e.schema, e.value) as Record<string, unknown>,
  };
}
export type EventRow = ReturnType<typeof eventRow>;

/** Merges scan results: read and undecodable add up, truncated if any was. */
export function mergeScans(scans: readonly ScanResult[]): ScanResult {
  return {
    read: scans.reduce((n, s) => n + s.read, 0),
    undecodable: scans.reduce((n, s) => n + s.undecodable, 0),
    truncated: scans.some((s) => s.truncated),
  };
}
