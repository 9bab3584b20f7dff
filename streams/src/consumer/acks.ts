/**
 * Acks leave together at the end of the event-loop turn, or once `ACKS_PER_WRITE` are waiting. nats.js
 * flushes its socket in a microtask after a publish, and handlers finish in different microtasks, so
 * acking at once costs a socket write per message, which was most of the consumer's CPU. The consumer
 * frees a message's slot at once; only the ack is deferred (stop() writes what is left).
 *
 * Why the bound: one turn can settle thousands of messages (a large socket read), and each acked
 * message waiting here keeps its whole delivery alive. Held to the end of the turn, they were most of
 * what survived V8's young-generation collections, which grows the young generation: peak RSS
 * 243–284 MiB against 170–191 MiB with the bound, the same events/s and CPU (BENCHMARKS.md, "sdk").
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";

/** Acks written together: enough to make the socket write cheap per message, few enough to hold. */
const ACKS_PER_WRITE = 64;

/** Acks waiting for the end of the turn. */
export class AckBatch {
  readonly #log: Logger;
  #acks: JsMsg[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  add(msg: JsMsg): void {
    this.#acks.push(msg);
    if (this.#acks.length >= ACKS_PER_WRITE) this.flush();
  }

  /** Writes every waiting ack; one that fails is logged (the server redelivers its message). */
  flush(): void {
    if (this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    for (const msg of acks) {
      try {
        msg.ack();
      } catch (err) {
        this.#log.warn({ err, seq: msg.info.streamSequence }, "ack failed; the message will be redelivered");
      }
    }
  }
}
