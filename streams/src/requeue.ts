/**
 * Puts a durable's outstanding deliveries back on the server's redelivery queue in stream order: an
 * ordered consumer's deliveries that an earlier consume never received (consumer/event-consumer.ts),
 * and, on servers without consumer reset (before 2.14), what a partition's previous owner left
 * outstanding (partitioned-consumer.ts).
 *
 * Why it works, from nats-server's consumer.go (processNak, getNextMsg; the same from 2.9 to the current release):
 * - an ack subject `$JS.ACK.<stream>.<consumer>.<dc>.<stream seq>.<consumer seq>.<ts>.<pending>` is
 *   handled by the consumer whoever publishes it; a nak is ignored unless its stream sequence is on
 *   the consumer's pending list and its consumer sequence lies above the ack floor and not beyond
 *   the last delivered — so a nak for a sequence that is acknowledged or not of its filter does
 *   nothing;
 * - a nak with a delay takes the sequence off the redelivery queue and makes it due after the delay;
 * - a nak without one appends it to the redelivery queue (unless already queued), and a pull takes
 *   the redelivery queue first, front to back, before any new message.
 * So: first a delayed nak for every sequence between the ack floor and the last delivered (empties
 * the queue of them, whatever order they fell due in), then a plain nak for each, ascending (queues
 * them in stream order). The next pull receives exactly the outstanding messages, in stream order,
 * then the new ones.
 * It writes the ack subject's v1 format, the only one before 2.14 and the default after (2.14's opt-in
 * v2 adds a domain and an account hash; not tried with it on — should the server ignore these naks,
 * the deliveries come back after their ack wait, as without them).
 */
import type { ConsumerInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/** The most sequences one requeue naks (twice); a wider gap falls back to waiting for the ack wait. */
export const REQUEUE_MAX_SPAN = 200_000;
/**
 * The delay of the first round: long enough that none falls due before the second round (a few
 * milliseconds later) queues it; short enough that a server restart in between (the queue is kept
 * in memory) holds them back only a minute.
 */
const HOLD_NS = 60_000_000_000;
const FLUSH_EVERY = 10_000;

/** What a requeue did. */
export interface Requeued {
  readonly from: number;
  readonly to: number;
  readonly outstanding: number;
  /** Sequences left alone: the caller still holds them. */
  readonly kept: number;
}

/**
 * Naks every outstanding delivery of `info`'s durable so that it is delivered again first and in
 * stream order, but those `held` says the caller still has (a nak would send a message being
 * handled once more and spend one of its deliveries). Undefined when there is nothing outstanding
 * or the span is wider than {@link REQUEUE_MAX_SPAN}.
 */
export async function requeueInStreamOrder(
  nc: NatsConnection,
  info: ConsumerInfo,
  held: (streamSeq: number) => boolean = () => false,
): Promise<Requeued | undefined> {
  const from = info.ack_floor.stream_seq + 1;
  const to = info.delivered.stream_seq;
  if (info.num_ack_pending === 0 || to < from || to - from + 1 > REQUEUE_MAX_SPAN) return undefined;
  // Any consumer sequence above the ack floor and not beyond the last delivered passes the check.
  const dseq = info.delivered.consumer_seq;
  const subject = (seq: number) => `$JS.ACK.${info.stream_name}.${info.name}.1.${seq}.${dseq}.0.0`;
  const hold = new TextEncoder().encode(`-NAK ${JSON.stringify({ delay: HOLD_NS })}`);
  const nak = new TextEncoder().encode("-NAK");
  const naked: number[] = [];
  for (let seq = from; seq <= to; seq++) if (!held(seq)) naked.push(seq);
  for (const payload of [hold, nak]) {
    for (const [i, seq] of naked.entries()) {
      nc.publish(subject(seq), payload);
      if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await nc.flush();
    }
    await nc.flush();
  }
  return { from, to, outstanding: info.num_ack_pending, kept: to - from + 1 - naked.length };
}
