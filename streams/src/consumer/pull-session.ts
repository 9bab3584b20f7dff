/**
 * One pull session: a nats.js `consume()` of the durable, from its start until the client's iterator
 * is drained. The session takes messages while the consumer has room for them plus the client's whole
 * share (`held + quota ≤ maxBuffered`): advancing the iterator is what lets the client send its next
 * pull request, so not advancing it is the back-pressure. When the consumer is full and the client
 * holds messages with nothing in flight, the session ends and hands them over (hand-over). A terminal
 * notification of the consume (missed heartbeats while waiting, a deleted durable, no responders...)
 * ends it as failed. Once ended, what the client had already received is drained to the consumer,
 * which holds it or gives it back.
 */
import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";
import type { PullGate } from "./pull-gate.js";
import type { Waker } from "./waker.js";

/** While full, how often the loop looks whether the client's share can be handed over. */
const HANDOVER_POLL_MS = 20;

/** How the durable is pulled, from its server configuration and the consumer's options. */
export interface PullSettings {
  /** `max_messages`: requested from the server + received and not taken ≤ quota (the client's share). */
  readonly quota: number;
  /** How long one pull request waits on the server. */
  readonly expiresMs: number;
  /** The durable's ack wait: what the client holds is handed over before a quarter of it is gone. */
  readonly ackWaitMs: number;
  /** The priority group of a durable that pins one client (its pull requests must name it). */
  readonly group?: string;
}

/** Starts a consume of the durable, asking for at most the client's share. */
export function consume(consumer: Consumer, s: PullSettings): Promise<ConsumerMessages> {
  return consumer.consume({
    max_messages: s.quota,
    expires: s.expiresMs,
    // Two missed heartbeats end a session whose pull requests died silently: keep that under ~10 s.
    idle_heartbeat: Math.min(s.expiresMs / 2, 5_000),
    // nats.js keeps the pin the server gives within this consume; the gate carries it to the next.
    ...(s.group ? { group: s.group } : {}),
  });
}

/** Where a session's messages go: the consumer. */
export interface SessionSink {
  /** Whether the consumer has room for `quota` more deliveries (`held + quota ≤ maxBuffered`). */
  hasRoomFor(quota: number): boolean;
  /** Called before each wait for the next message (the peak of held + reserved is measured there). */
  beforeNext(): void;
  /**
   * A message taken by a live session; `deliveredAfter` is a lower bound of its delivery time. A
   * promise (its ordering key is being looked up) is awaited before the next message is taken.
   */
  admit(msg: JsMsg, deliveredAfter: number): void | Promise<void>;
  /** A message a stopped session still yields: the client had received it before the stop. */
  takeDelivered(session: PullSession, msg: JsMsg): void | Promise<void>;
}

/** One `consume()` of the durable, from its start until the client's iterator is drained. */
export class PullSession {
  readonly #messages: ConsumerMessages;
  /** The one iterator of `messages` (a second one would throw). */
  readonly #iterator: AsyncIterator<JsMsg>;
  readonly #ackWaitMs: number;
  readonly #log: Logger;
  readonly #waker: Waker;
  readonly #gate: PullGate;
  /** `max_messages`: requested from the server + received and not taken ≤ quota. */
  readonly quota: number;
  /** The durable's incarnation when the session started (its deliveries are settled on that one). */
  readonly incarnation: number;
  /** False once stopped: what the client still yields is drained, not taken for handling. */
  live = true;
  /** The loop is inside `iterator.next()` (only then can the client send a pull request). */
  awaiting = false;
  /** Messages taken from the iterator. */
  taken = 0;
  /** Messages asked for by the pull requests sent (`next` notifications). */
  #requested = 0;
  /** Messages asked for by pull requests that ended unfilled (`discard` notifications: expiry...). */
  #unfilled = 0;
  /** When the client's buffer was last seen empty: what it holds was delivered after that. */
  clearAt: number;
  /** Set when the session ended on a failure: the loop backs off before the next one. */
  failure?: Error;
  /**
   * Ended by a hand-over with no pull request open on the server (and none sent after: the gate):
   * the server delivered nothing this session did not receive.
   */
  lossless = false;

  constructor(
    messages: ConsumerMessages,
    settings: PullSettings & { readonly incarnation: number },
    deps: { readonly log: Logger; readonly waker: Waker; readonly gate: PullGate },
  ) {
    this.#messages = messages;
    this.#iterator = messages[Symbol.asyncIterator]();
    this.quota = settings.quota;
    this.incarnation = settings.incarnation;
    this.#ackWaitMs = settings.ackWaitMs;
    this.#log = deps.log;
    this.#waker = deps.waker;
    this.#gate = deps.gate;
    this.clearAt = Date.now();
  }

  /** Messages the client has received and the loop has not taken yet. */
  buffered(): number {
    return this.#messages.getReceived() - this.#messages.getProcessed();
  }

  /**
   * Slots the client holds: requested from the server or received, not taken yet. A live session
   * holds at most `quota` while the loop waits in `next()` and `quota - 1` between two `next()`
   * calls; a stopped one only what it has received.
   */
  share(): number {
    if (!this.live) return this.buffered();
    return this.awaiting ? this.quota : this.quota - 1;
  }

  /**
   * Messages requested and not arrived yet. Exact once the session's notifications have been read,
   * i.e. from a timer callback (nats.js pushes them synchronously, the watcher reads them in microtasks).
   */
  #inFlight(): number {
    return this.#requested - this.#unfilled - this.#messages.getReceived();
  }

  /** Takes messages from the client while the sink has room for them (see the module doc); returns when the session ends. */
  async take(sink: SessionSink): Promise<void> {
    while (this.live) {
      if (this.buffered() === 0) this.clearAt = Date.now();
      if (!sink.hasRoomFor(this.quota)) {
        // Full. The client does not say when a message arrives, so look again soon; when the wait
        // times out this runs just after a timer callback, with every notification read.
        const woken = await this.#waker.waitForChange(HANDOVER_POLL_MS);
        const handOver = this.#mayHandOver(!woken);
        if (handOver) {
          this.end("hand-over");
          this.lossless = handOver === "nothing in flight";
        }
        continue;
      }
      this.awaiting = true;
      sink.beforeNext();
      let next: IteratorResult<JsMsg>;
      try {
        next = await this.#iterator.next();
      } finally {
        this.awaiting = false;
      }
      if (next.done) {
        // Not ended by us: the client gave up on its own (connection closing, a terminal status).
        if (this.live) this.end("ended", new Error("the consume ended"));
        return;
      }
      this.taken++;
      const admitted = this.live
        ? sink.admit(next.value, this.clearAt)
        : sink.takeDelivered(this, next.value);
      if (admitted) await admitted;
    }
  }

  /**
   * Whether the messages the client received can be handed over to the SDK: the SDK is full, the
   * client holds some, and none is in flight (its follow-up pull requests wait in the iterator), so
   * stopping the consume loses nothing. Handed over, they may fill the rest of `maxBuffered` (when
   * handlers are slow or a key is blocked) and their ack deadline is kept alive by the sweep, which
   * cannot reach messages still in the client.
   */
  #mayHandOver(notificationsRead: boolean): "nothing in flight" | "ack deadline" | false {
    if (this.awaiting || this.buffered() === 0) return false;
    if (notificationsRead && this.#inFlight() <= 0) return "nothing in flight";
    // Pull requests are open but the server has nothing for them (it would have filled them). The
    // sweep cannot keep alive what is still in the client: hand it over before a quarter of its ack
    // deadline is gone, at the small risk of a message sent just as the consume stops (redelivered
    // after ack_wait).
    return Date.now() - this.clearAt >= this.#ackWaitMs / 4 ? "ack deadline" : false;
  }

  /** Stops the consume (idempotent); the loop then drains what the client had received. */
  end(reason: string, failure?: Error): void {
    if (!this.live) return;
    this.live = false;
    this.failure = failure;
    this.#log.debug({ reason, taken: this.taken, buffered: this.buffered() }, "consume stopped");
    // Before the stop: the follow-up pull requests nats.js still runs while the iterator drains must
    // not reach the server (see pull-gate.ts).
    this.#gate.shut();
    // Unsubscribes at once; the iterator ends after the messages the client had already received.
    this.#messages.stop();
    this.#waker.wake();
  }

  /**
   * Stops the consume and drains it: each message the client had received goes to
   * `sink.takeDelivered`. Follow-up pull requests still queued in the iterator run on the way; the
   * shut gate keeps them off the wire.
   */
  async close(sink: SessionSink): Promise<void> {
    this.end("closed");
    try {
      for (;;) {
        const next = await this.#iterator.next();
        if (next.done) break;
        const admitted = sink.takeDelivered(this, next.value);
        if (admitted) await admitted;
      }
    } catch (err) {
      this.#log.debug({ err }, "the consume ended with an error");
    }
  }

  /**
   * Reads the consume's notifications until the session ends: a terminal one ends it as failed (the
   * loop then backs off, checks the durable, recreating it when deleted, and starts a new consume).
   */
  async watch(): Promise<void> {
    try {
      for await (const n of this.#messages.status()) {
        if (!this.live) break;
        switch (n.type) {
          case "heartbeats_missed":
            // While the loop is full its pull requests may all be filled (the next one waits in the
            // iterator), so silence is expected: start afresh, not a failure. (Were the server gone,
            // the next session would miss them while waiting for a message.)
            if (!this.awaiting) this.end("idle");
            else this.end(n.type, new Error(`${n.count} heartbeats missed`));
            break;
          case "consumer_deleted":
          case "exceeded_limits":
            this.end(n.type, new Error(`${n.type}: ${n.code} ${n.description}`));
            break;
          case "consumer_not_found":
          case "stream_not_found":
          case "no_responders":
            this.end(n.type, new Error(n.type));
            break;
          case "next":
            this.#requested += n.options.batch ?? 0;
            break;
          case "discard":
            this.#unfilled += n.messagesLeft;
            break;
          case "consumer_pinned":
            this.#gate.pinned(n.id);
            break;
          case "consumer_unpinned":
            // Another client holds the pin now (a new owner unpinned this one), or this one pulled
            // nothing for the durable's priority timeout: its next pull request asks for a new pin.
            this.#gate.unpinned();
            this.#log.info("the server unpinned this consumer's pull requests");
            break;
          default:
          // heartbeat, debug...: routine.
        }
      }
    } catch (err) {
      this.#log.debug({ err }, "consume notifications ended");
    }
  }
}
