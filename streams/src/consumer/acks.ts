/**
 * Acks leave together at the end of the event-loop turn. nats.js flushes its socket in a microtask
 * after a publish, and handlers finish in different microtasks, so acking at once costs a socket write
 * per message, which was most of the consumer's CPU. The consumer frees a message's slot at once; only
 * the ack is deferred to the end of the turn (stop() writes what is left).
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";

/** Acks waiting for the end of the turn. */
export class AckBatch {
  readonly #log: Logger;
  #acks: JsMsg[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  add(msg: JsMsg): void {
    this.#acks.push(msg);
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
