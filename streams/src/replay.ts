/**
 * The replay channel: how a past event reaches ONE consumer again, beside its live durable, without
 * stopping it (Kafka's answer, resetting a group's offsets, needs the group stopped).
 *
 * - `threadline replay --to <durable>` (and `threadline dlq redrive`) publish copies of the selected
 *   messages — the original headers and bytes, so the same `ce-id` — into the shared stream
 *   {@link REPLAY_STREAM} on `threadline.replay.<durable>`, with the {@link REPLAY_HEADERS} naming the
 *   job, the original stream / sequence / subject and, for a redrive, the redrive count.
 * - `streams apply` declares, for every durable a manifest declares, an internal durable
 *   `<durable>-replay` on that subject with the durable's own redelivery policy (declarations.ts).
 * - A service's consumer group (consumer-group.ts) runs, beside each live consumer, a small one on
 *   its replay durable (concurrency {@link REPLAY_DEFAULTS}), with the SAME handlers and interceptors;
 *   `ctx.delivery` is `"replay"` or `"redrive"` there, `"live"` otherwise. The live durable's position
 *   is never touched.
 * - A replayed delivery that fails is retried per the durable's policy and, when it fails for good,
 *   dead-lettered exactly as a failure of the live durable would be (the original stream, sequence and
 *   consumer in the dead letter). A redriven delivery that succeeds — or is dead-lettered again, with
 *   its count — removes the dead letter it came from ({@link REPLAY_HEADERS}.dlqSequence).
 */
import type { MsgHdrs } from "@nats-io/nats-core";

/** The shared stream of replayed and redriven deliveries (workqueue: a delivery leaves once acked). */
export const REPLAY_STREAM = "THREADLINE_REPLAY";
/** Where a replay job keeps its position (last original sequence sent), by job id. */
export const REPLAY_JOBS_BUCKET = "THREADLINE_REPLAY_JOBS";

/** The subject of replayed deliveries addressed to `durable`. */
export function replaySubject(durable: string): string {
  return `threadline.replay.${durable}`;
}

/** The internal durable, on {@link REPLAY_STREAM}, that feeds `durable`'s handlers replayed deliveries. */
export function replayDurable(durable: string): string {
  return `${durable}-replay`;
}

/** Headers a replayed delivery carries besides the original message's own. */
export const REPLAY_HEADERS = {
  /** `replay` or `redrive`. */
  kind: "Threadline-Delivery",
  /** The job id (`threadline replay --job`, or `redrive-<time>`). */
  job: "Threadline-Replay-Job",
  stream: "Threadline-Replay-Stream",
  sequence: "Threadline-Replay-Sequence",
  subject: "Threadline-Replay-Subject",
  /** How many times this event was redriven, this time included. */
  redriveCount: "Threadline-Redrive-Count",
  /** The MFG_DLQ sequence of the dead letter a redrive came from: removed once settled. */
  dlqSequence: "Threadline-Redrive-Dlq-Sequence",
} as const;

/** The one place the replay channel's defaults live. */
export const REPLAY_DEFAULTS = {
  /** Replayed deliveries handled at once per durable: live traffic keeps priority. */
  concurrency: 2,
  /** Deliveries buffered by the replay consumer. */
  maxBuffered: 8,
  /** Unacked replayed deliveries per replay durable on the server. */
  maxAckPending: 8,
} as const;

/** How a delivery reached the handler. */
export type DeliveryKind = "live" | "replay" | "redrive";

/** Where a replayed delivery came from (`ctx.replay`). */
export interface ReplayOrigin {
  readonly kind: "replay" | "redrive";
  readonly job: string;
  /** The original stream and sequence of the event. */
  readonly stream: string;
  readonly sequence: number;
  readonly subject: string;
  /** 0 for a replay; 1, 2, … for a redrive. */
  readonly redriveCount: number;
  /** The dead letter's MFG_DLQ sequence (redrive only). */
  readonly dlqSequence: number | undefined;
}

/** Reads the replay headers of a delivery on {@link REPLAY_STREAM}; undefined when they are missing. */
export function replayOriginOf(h: MsgHdrs | undefined): ReplayOrigin | undefined {
  const stream = h?.get(REPLAY_HEADERS.stream);
  const sequence = Number(h?.get(REPLAY_HEADERS.sequence));
  if (!h || !stream || !Number.isSafeInteger(sequence) || sequence < 1) return undefined;
  const count = Number(h.get(REPLAY_HEADERS.redriveCount) || "0");
  const dlq = Number(h.get(REPLAY_HEADERS.dlqSequence) || "0");
  return {
    kind: h.get(REPLAY_HEADERS.kind) === "redrive" ? "redrive" : "replay",
    job: h.get(REPLAY_HEADERS.job) ?? "",
    stream,
    sequence,
    subject: h.get(REPLAY_HEADERS.subject) ?? "",
    redriveCount: Number.isSafeInteger(count) && count > 0 ? count : 0,
    dlqSequence: Number.isSafeInteger(dlq) && dlq > 0 ? dlq : undefined,
  };
}

/** Headers of a message not to carry over into a replayed copy (set again, or the server's directives). */
export const NOT_REPLAYED =
  /^(nats-|threadline-dlq-|threadline-replay-|threadline-delivery$|threadline-redrive-)/i;
