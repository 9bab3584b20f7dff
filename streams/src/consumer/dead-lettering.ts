/**
 * The consumer's dead-lettering: a poison message is published to `MFG_DLQ` on
 * `dlqSubject(stream, durable)` with the original data and headers plus the `Threadline-Dlq-*` headers
 * (written by the codec, `../dead-letter.ts`), with `Nats-Msg-Id` `<stream>:<seq>` so that a redelivered
 * poison is not dead-lettered twice, and the PubAck awaited; only then is the original terminated (by
 * the consumer). A publish that keeps failing leaves the original to be nak'd: nothing is lost.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { backoffDelay, sleep } from "../backoff.js";
import { type DeadLetterFields, deadLetterHeaders } from "../dead-letter.js";
import { DLQ_STREAM, dlqSubject } from "../names.js";
import { CONSUMER_DEFAULTS } from "./options.js";

/** When each failing message first failed (by stream sequence), for its dead letter; the oldest forgotten past a bound. */
export class FirstFailures {
  readonly #at = new Map<number, number>();

  /** Remembers `at` as the first failure of `seq`, unless one is known already. */
  note(seq: number, at: number): void {
    if (this.#at.has(seq)) return;
    this.#at.set(seq, at);
    if (this.#at.size > CONSUMER_DEFAULTS.firstFailureMemory) {
      const oldest = this.#at.keys().next().value;
      if (oldest !== undefined) this.#at.delete(oldest);
    }
  }

  get(seq: number): number | undefined {
    return this.#at.get(seq);
  }

  /** The message left (acked or dead-lettered). */
  forget(seq: number): void {
    this.#at.delete(seq);
  }
}

/**
 * Publishes the dead letter of a message (its bytes `data`), up to `CONSUMER_DEFAULTS.dlqPublishAttempts`
 * times with a backoff between attempts. Resolves undefined once the DLQ stored it, else the last
 * error; gives up early once `abandoned()` (the original was settled meanwhile).
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  letter: DeadLetterFields & { readonly sequence: number },
  data: Uint8Array,
  o: { abandoned(): boolean; readonly signal: AbortSignal; readonly msgId?: string },
): Promise<unknown> {
  const headers = deadLetterHeaders(letter);
  let lastErr: unknown;
  for (let i = 1; i <= CONSUMER_DEFAULTS.dlqPublishAttempts; i++) {
    try {
      await js.publish(dlqSubject(letter.stream, letter.consumer), data, {
        headers,
        msgID: o.msgId ?? `${letter.stream}:${letter.sequence}`,
        expect: { streamName: DLQ_STREAM },
      });
      return undefined;
    } catch (err) {
      lastErr = err;
      if (o.abandoned()) return lastErr;
      if (i < CONSUMER_DEFAULTS.dlqPublishAttempts)
        await sleep(backoffDelay(CONSUMER_DEFAULTS.pullRetry, i), o.signal);
    }
  }
  return lastErr;
}
