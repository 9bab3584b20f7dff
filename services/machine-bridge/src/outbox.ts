/**
 * An ordered publish queue: events leave in the order they were queued, each retried until the
 * stream acknowledges it (same id, so a retry that did land is dropped by the duplicate window).
 * One per machine keeps a machine's events in order while machines publish in parallel.
 *
 * Fenced (bridge replicas, one owner per endpoint): before each publish it asks whether this
 * replica may still publish for the machine, and the events whose double would double a count
 * carry the sequence of their subject's last message as the one the stream must still have, so a
 * deposed owner's late report is refused by the server itself (the new owner reported since).
 */
import { type EventType, PayloadInvalidError } from "../../../contracts/src/index.js";
import {
  backoffDelay,
  type EventPublisher,
  type Logger,
  PublishError,
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
  /**
   * Asked before each publish: false once this replica may no longer publish for the target (its
   * endpoint's lease is lost or not renewed in time). The outbox then closes and calls `onFenced`;
   * what is queued is left to the new owner, which recomputes it from the streams. @default always true
   */
  readonly mayPublish?: () => boolean;
  /**
   * The events of `type` are published with `lastSequence` (the stream sequence of their subject's
   * last message, 0 for none) as the one the stream must still have; each acknowledgement moves it.
   * A refusal means someone else published on the subject since: the outbox closes and calls
   * `onFenced`. @default no expectation
   */
  readonly fence?: { readonly type: EventType; lastSequence: number };
  /** Called once when `mayPublish` or the stream's fence stopped the outbox. */
  readonly onFenced?: (reason: string) => void;
}

/** JetStream's "wrong last sequence": the subject's last message is not the one expected. */
const WRONG_LAST_SEQUENCE = "api_10071";

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

  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  #fenced(reason: string): void {
    if (this.closed) return;
    this.close();
    this.#queue = [];
    this.options.onFenced?.(reason);
  }

  async #drain(): Promise<void> {
    const { target, logger } = this.options;
    const publisher = this.#publisher;
    for (;;) {
      const event = this.#queue[0];
      if (!event || this.#abort.signal.aborted) return;
      const fence = this.options.fence?.type === event.type ? this.options.fence : undefined;
      for (let failure = 0; ; failure++) {
        if (this.options.mayPublish && !this.options.mayPublish()) {
          this.#fenced("this replica no longer owns the endpoint");
          return;
        }
        try {
          const published = await publisher.publish(event.type as EventType, event.payload as never, {
            ...target,
            id: event.id,
            time: event.time,
            ...(fence ? { expectedLastSubjectSequence: fence.lastSequence } : {}),
          });
          if (fence) fence.lastSequence = published.ack.seq;
          // Off the queue before the callback, so what it reads of `size` is what is still waiting.
          this.#queue.shift();
          this.options.onPublished?.(event, published.ack.duplicate);
          break;
        } catch (err) {
          if (this.#abort.signal.aborted) return;
          if (fence && err instanceof PublishError && err.failure === WRONG_LAST_SEQUENCE) {
            logger.warn(
              { eventId: event.id, type: event.type, expectedLastSequence: fence.lastSequence },
              "report refused by the stream: another replica reported this machine since",
            );
            this.#fenced(`the stream refused ${event.type} ${event.id}: another replica reported since`);
            return;
          }
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
