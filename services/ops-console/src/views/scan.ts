/**
 * Reading a stream for a page: every event of a window, decoded, in stream order, with a cap so a page
 * never reads a year of telemetry. A message that does not decode is counted, not fatal: the page says
 * how many it could not read (the dead-letter page is where such messages are worked).
 */
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

/** Calls `fn` with each event of the window; the stream missing reads nothing. */
export async function scanEvents(
  nc: NatsConnection,
  codec: EventCodec,
  o: ScanOptions,
  fn: (event: StoredEvent) => void,
): Promise<ScanResult> {
  const cap = o.cap ?? SCAN_CAP;
  let read = 0;
  let undecodable = 0;
  for await (const m of readMessages(nc, {
    stream: o.stream,
    ...(o.filter ? { filter: o.filter } : {}),
    ...(o.since ? { since: o.since } : {}),
    ifMissing: "empty",
    cleanup: "expire",
  })) {
    if (++read > cap) return { read: cap, undecodable, truncated: true };
    let event: StoredEvent;
    try {
      event = await decodeMessage(codec, m);
    } catch {
      undecodable++;
      continue;
    }
    fn(event);
  }
  return { read, undecodable, truncated: false };
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
