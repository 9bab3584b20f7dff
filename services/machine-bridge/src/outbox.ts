/**
 * An ordered publish queue: events leave in the order they were queued, each retried until the
 * stream acknowledges it (same id, so a retry that did land is dropped by the duplicate window).
 * One per machine keeps a machine's events in order while machines publish in parallel.
 */
import { type EventType, PayloadInvalidError } from "../../../contracts/src/index.js";
import {
  backoffDelay,
  type EventPublisher,
  type Logger,
  type PublishTarget,
  sleep,
} from "../../../streams/src/index.js";
import type { Outgoing } from "./machine.js";

export interface OutboxOptions {
  readonly publisher: EventPublisher;
  readonly target: Omit<PublishTarget, "id" | "time">;
  readonly logger: Logger;
  /** Called after each acknowledged event, once it has left the queue (metrics, latency). */
  readonly onPublished?: (event: Outgoing, duplicate: boolean) => void;
  /** Called when a publish attempt fails (it will be retried). */
  readonly onRetry?: (event: Outgoing, error: Error) => void;
  /**
   * Called for an event its schema refuses (a defect: no retry can fix it). It is logged and left
   * out, so the machine's other events are not held behind it forever.
   */
  readonly onInvalid?: (event: Outgoing, error: PayloadInvalidError) => void;
}

const RETRY = { initialDelayMs: 200, maxDelayMs: 5_000, multiplier: 2, jitter: 0.2 };

export class Outbox {
  #queue: Outgoing[] = [];
  #worker: Promise<void> | undefined;
  readonly #abort = new AbortController();
  /** The publisher whose `ce-source` names the site the subjects name. */
  readonly #publisher: EventPublisher;

  constructor(private readonly options: OutboxOptions) {
    this.#publisher = options.publisher.forSite(options.target.site);
  }

  get size(): number {
    return this.#queue.length;
  }

  push(events: readonly Outgoing[]): void {
    if (events.length === 0 || this.#abort.signal.aborted) return;
    this.#queue.push(...events);
    this.#worker ??= this.#drain().finally(() => {
      this.#worker = undefined;
    });
  }

  /** Resolves when everything queued so far is acknowledged (or the outbox is closed). */
  async idle(): Promise<void> {
    while (this.#worker) await this.#worker;
  }

  /** Stops retrying; what is still queued is abandoned (a restarted bridge recomputes it). */
  close(): void {
    this.#abort.abort();
  }

  async #drain(): Promise<void> {
    const { target, logger } = this.options;
    const publisher = this.#publisher;
    for (;;) {
      const event = this.#queue[0];
      if (!event || this.#abort.signal.aborted) return;
      for (let failure = 0; ; failure++) {
        try {
          const published = await publisher.publish(event.type as EventType, event.payload as never, {
            ...target,
            id: event.id,
            time: event.time,
          });
          // Off the queue before the callback, so what it reads of `size` is what is still waiting.
          this.#queue.shift();
          this.options.onPublished?.(event, published.ack.duplicate);
          break;
        } catch (err) {
          if (this.#abort.signal.aborted) return;
          if (err instanceof PayloadInvalidError) {
            this.#queue.shift();
            logger.error(
              { err, eventId: event.id, type: event.type },
              "event refused by its schema: not published",
            );
            this.options.onInvalid?.(event, err);
            break;
          }
          this.options.onRetry?.(event, err as Error);
          logger.warn({ err, eventId: event.id, type: event.type, failure }, "publish failed; retrying");
          await sleep(backoffDelay(RETRY, failure + 1), this.#abort.signal);
        }
      }
    }
  }
}
