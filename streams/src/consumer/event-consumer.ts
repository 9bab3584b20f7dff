/**
 * `EventConsumer`: wires the parts together (semantics in `../consumer.ts`). It runs the lifecycle,
 * the pull loop (pull sessions from `pull-session.ts`, recovery from `recovery.ts`), admits messages
 * into the key scheduler, runs handlers and settles each message: ack, nak, retry in place, or
 * dead-letter then term.
 */

import {
  type ConsumerInfo,
  JetStreamApiCodes,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ThreadlineError } from "../../../contracts/src/index.js";
import { sleep } from "../backoff.js";
import { CE, decodePayload, type EventEnvelope, envelopeOf } from "../envelope.js";
import { ConfigError } from "../errors.js";
import { bindOnce, type Logger } from "../logger.js";
import { DLQ_STREAM } from "../names.js";
import { partitionOf } from "../partitions.js";
import { type ReplayOrigin, replayOriginOf } from "../replay.js";
import { requeueInStreamOrder } from "../requeue.js";
import { connectedServerHas } from "../server-features.js";
import { headerValue } from "../wire-headers.js";
import { AckBatch } from "./acks.js";
import { FirstFailures, publishDeadLetter } from "./dead-lettering.js";
import { EndOfTurn } from "./end-of-turn.js";
import { ConsumerErrorCode, ConsumerSetupError, IllegalStateError, ShutdownAbortError } from "./errors.js";
import {
  abortEntry,
  consumedEvent,
  type DeadLetterReason,
  type Decoded,
  decideOnFailure,
  handlerContext,
} from "./handling.js";
import { type Delivery, type Entry, KeyScheduler, latestMsg } from "./key-scheduler.js";
import { Lifecycle } from "./lifecycle.js";
import { ConsumerMeter } from "./meter.js";
import { Notifier } from "./notifier.js";
import {
  type ConsumerOptions,
  type DurableSettings,
  durableSettings,
  type ParsedOptions,
  PULL_EXPIRY_MARGIN_MS,
  parseConsumerOptions,
} from "./options.js";
import { PinWatch } from "./pin-watch.js";
import { PullGate } from "./pull-gate.js";
import { consume, PullSession, type SessionSink } from "./pull-session.js";
import { ConnectionWatch, Durable, isApiError } from "./recovery.js";
import type {
  ConsumerOutcome,
  ConsumerState,
  ConsumerStats,
  ConsumerStatus,
  EventConsumer,
} from "./types.js";
import { Waker } from "./waker.js";

/** Creates a consumer (state `created`); call `start()`. Throws ConfigError for invalid options. */
export function createEventConsumer(nc: NatsConnection, options: ConsumerOptions): EventConsumer {
  if (options.partitions)
    throw new ConfigError(
      "partitions",
      "makes a partitioned consumer: run it with startConsumers or createPartitionedConsumer",
    );
  return new EventConsumerImpl(nc, parseConsumerOptions(options));
}

/** Creates and starts a consumer. */
export async function startEventConsumer(
  nc: NatsConnection,
  options: ConsumerOptions,
): Promise<EventConsumer> {
  const consumer = createEventConsumer(nc, options);
  await consumer.start();
  return consumer;
}

type Settlement = "ack" | "term" | { nak: number };

/** Before a second look at deliveries never received: acks sent just before the first may still be queued. */
const LOST_RECHECK_MS = 250;
/** The longest wait between two attempts at a partitioned message's ordering key. */
const KEY_RETRY_MAX_MS = 5_000;
/** Looks for deliveries never received that may fail (a reconnect under way) before consuming without. */
const LOST_LOOK_ATTEMPTS = 4;

/** Until `start()` reads the durable's configuration. */
const UNSTARTED: DurableSettings = {
  ackWaitMs: 30_000,
  maxDeliver: Number.POSITIVE_INFINITY,
  quota: 1,
  expiresMs: 30_000,
};

/** The owner check of a durable that is not partitioned: the durable is every replica's. */
const ALWAYS_OWNER = () => true;

class EventConsumerImpl implements EventConsumer {
  readonly #nc: NatsConnection;
  readonly #o: ParsedOptions;
  readonly #log: Logger;
  readonly #meter: ConsumerMeter;
  readonly #notifier = new Notifier<ConsumerStatus>();
  readonly #lifecycle: Lifecycle;
  readonly #waker = new Waker();
  /** Aborted when stopping starts: interrupts waits and backoff sleeps. */
  readonly #lifetime = new AbortController();
  readonly #scheduler: KeyScheduler;
  readonly #firstFailures = new FirstFailures();
  readonly #acks: AckBatch;
  readonly #endOfTurn: EndOfTurn;

  #js!: JetStreamClient;
  /** Given to the JetStream client: keeps a stopped consume's pull requests off the wire. */
  readonly #gate: PullGate;
  /** Set by start(). */
  #durable!: Durable;
  #connection: ConnectionWatch | undefined;
  #settings = UNSTARTED;
  #termWithReason = false;
  #peakHeld = 0;
  /** Messages of other partitions, acknowledged without a handler (partitioned mode). */
  #otherPartition = 0;
  /**
   * Ordered: when the last consume ended (or the consumer started), until what was delivered to it
   * but never received is delivered again (#redeliverLost).
   */
  #consumeEndedAt: number | undefined;
  #lostLookFailures = 0;

  /** The current consume, from `consume()` until it is drained. */
  #session: PullSession | undefined;
  #pullLoop: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #infoTimer: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, options: ParsedOptions) {
    this.#nc = nc;
    // A partition's consumer stops pulling once its lease is not current: another replica may own it.
    const partition = options.partition;
    this.#gate = new PullGate(nc, partition ? () => partition.owns() : undefined);
    this.#o = options;
    // Once each: a logger given by a service may already carry them (bindOnce, logger.ts).
    this.#log = bindOnce(options.logger, { stream: options.stream, consumer: options.durable });
    this.#meter = new ConsumerMeter(options.metrics, options.stream, options.durable);
    this.#lifecycle = new Lifecycle(this.#log, this.#notifier, this.#meter);
    this.#scheduler = new KeyScheduler(options.concurrency);
    this.#acks = new AckBatch(this.#log);
    this.#endOfTurn = new EndOfTurn(() => {
      this.#acks.flush();
      // Once a turn, not per handler: a gauge nobody scrapes that often (and it costs a label hash).
      if (!this.#lifecycle.ended) this.#meter.inFlight(this.#scheduler.running);
    });
  }

  get stream(): string {
    return this.#o.stream;
  }
  get durable(): string {
    return this.#o.durable;
  }
  get state(): ConsumerState {
    return this.#lifecycle.state;
  }

  status(): AsyncIterable<ConsumerStatus> {
    return this.#notifier.iterate();
  }

  stats(): ConsumerStats {
    return {
      state: this.#lifecycle.state,
      inFlight: this.#scheduler.running,
      held: this.#scheduler.held,
      reserved: this.#clientShare(),
      peakInFlight: this.#scheduler.peakRunning,
      peakHeldPlusReserved: this.#peakHeld,
      concurrency: this.#o.concurrency,
      maxBuffered: this.#o.maxBuffered,
      otherPartition: this.#otherPartition,
    };
  }

  // --- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.#lifecycle.state !== "created") throw new IllegalStateError("start", this.#lifecycle.state);
    const { stream, durable } = this.#o;
    try {
      this.#js = jetstream(this.#gate.connection, this.#o.jetstream);
      const jsm = await jetstreamManager(this.#nc, { ...this.#o.jetstream, checkAPI: false });
      let info: ConsumerInfo;
      try {
        info = await jsm.consumers.info(stream, durable);
      } catch (cause) {
        if (isApiError(cause, JetStreamApiCodes.StreamNotFound))
          throw new ConsumerSetupError(
            `stream ${stream} does not exist: declare it and consumer ${durable} (threadline streams apply) before starting the service`,
            { cause },
          );
        if (isApiError(cause, JetStreamApiCodes.ConsumerNotFound))
          throw new ConsumerSetupError(
            `consumer ${durable} on stream ${stream} does not exist: declare it (threadline streams apply) before starting the service`,
            { cause },
          );
        throw cause;
      }
      this.#configure(info);
      const consumer = await this.#js.consumers.get(stream, durable);
      const partition = this.#o.partition;
      const pinWatch =
        partition && info.config.priority_policy === "pinned_client"
          ? new PinWatch({
              gate: this.#gate,
              owns: () => partition.owns(),
              unpin: (group) => jsm.consumers.unpin(stream, durable, group).then(() => undefined),
              log: this.#log,
            })
          : undefined;
      this.#durable = new Durable(
        {
          nc: this.#nc,
          js: this.#js,
          jsm,
          stream,
          durable,
          recreateDeleted: this.#o.recreateDeleted,
          log: this.#log,
          notifier: this.#notifier,
          meter: this.#meter,
          lifetime: this.#lifetime.signal,
          endSession: (reason) => this.#endSession(reason),
          wake: () => this.#waker.wake(),
          ...(pinWatch ? { onInfo: (i: ConsumerInfo) => pinWatch.note(i) } : {}),
        },
        info,
        consumer,
      );
    } catch (err) {
      if ((this.#lifecycle.state as ConsumerState) === "created") {
        // start() throws the error to its caller, which reports it (a service: its one start-failure
        // line, start.ts): the transition is noted without the error's stack, and below error level.
        this.#lifecycle.move(
          "failed",
          { code: (err as { code?: unknown })?.code, reason: (err as Error)?.message ?? String(err) },
          "warn",
        );
        this.#notifier.end();
      }
      throw err;
    }
    if ((this.#lifecycle.state as ConsumerState) !== "created")
      throw new IllegalStateError("start", this.#lifecycle.state);
    this.#termWithReason = connectedServerHas(this.#nc, "termReason");
    this.#lifecycle.move("running", {
      concurrency: this.#o.concurrency,
      maxBuffered: this.#o.maxBuffered,
      ordered: this.#o.ordered,
      ackWaitMs: this.#settings.ackWaitMs,
      maxDeliver: this.#settings.maxDeliver,
    });
    this.#connection = new ConnectionWatch(this.#nc, this.#log, this.#notifier, {
      closed: () => {
        if (this.#lifecycle.pulling)
          this.#fail(
            new ConsumerSetupError(
              "the NATS connection was closed while consuming: stop() the consumer before closing",
            ),
          );
      },
      // The server drops this connection's pull requests; a new consume starts once reconnected.
      disconnected: () => this.#endSession("disconnected"),
      reconnected: () => this.#waker.wake(),
    });
    this.#sweepTimer = setInterval(
      () => this.#sweep(),
      Math.max(100, Math.floor(this.#settings.ackWaitMs / 4)),
    );
    this.#sweepTimer.unref?.();
    this.#infoTimer = setInterval(() => {
      if (this.#lifecycle.pulling && this.#connected()) void this.#durable.refresh();
    }, this.#o.infoIntervalMs);
    this.#infoTimer.unref?.();
    // A previous process may have left deliveries outstanding (it died, or its standby took over).
    if (this.#o.ordered) this.#consumeEndedAt = Date.now();
    this.#pullLoop = this.#runPullLoop().catch((err) => this.#fail(err));
  }

  /** Takes the durable's server configuration in; throws when it cannot be consumed as configured. */
  #configure(info: ConsumerInfo): void {
    this.#settings = durableSettings(info, this.#o);
    this.#meter.backlog(info);
    const maxAckPending = info.config.max_ack_pending;
    if (maxAckPending && maxAckPending > 0 && maxAckPending < this.#o.concurrency)
      this.#log.warn(
        { maxAckPending, concurrency: this.#o.concurrency },
        "the consumer's max_ack_pending is below concurrency: handlers will idle",
      );
  }

  pause(): void {
    if (this.#lifecycle.state === "paused") return;
    if (this.#lifecycle.state !== "running") throw new IllegalStateError("pause", this.#lifecycle.state);
    this.#lifecycle.move("paused");
    // The loop drains what the client had received: held, or released with the rest below.
    this.#endSession("paused");
    if (this.#o.pauseMode === "release") {
      for (const e of [...this.#scheduler.entries()])
        if (e.status === "queued" || e.status === "waiting")
          this.#settle(e, { nak: 0 }, "released", "paused");
    }
    this.#waker.wake();
  }

  resume(): void {
    if (this.#lifecycle.state === "running") return;
    if (this.#lifecycle.state !== "paused") throw new IllegalStateError("resume", this.#lifecycle.state);
    this.#lifecycle.move("running");
    this.#pump();
    this.#waker.wake();
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    if (this.#lifecycle.state === "created") {
      this.#lifecycle.move("stopped");
      this.#notifier.end();
      return Promise.resolve();
    }
    if (this.#lifecycle.ended) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.#o.drainTimeoutMs;
    if (!(timeoutMs >= 0)) throw new ConfigError("timeoutMs", `must be >= 0 (got ${timeoutMs})`);
    this.#stopPromise = this.#drain(timeoutMs);
    return this.#stopPromise;
  }

  async #drain(timeoutMs: number): Promise<void> {
    this.#lifecycle.move("stopping", {
      timeoutMs,
      inFlight: this.#scheduler.running,
      held: this.#scheduler.held,
    });
    this.#lifetime.abort();
    // The loop naks what the client had received but not handed over, then leaves at its next step.
    this.#endSession("stopping");
    this.#waker.wake();
    // It may be inside a consumer info request (up to the API timeout), so do not wait for that:
    // whatever it still receives is released at once.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#pullLoop, new Promise((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
    let released = 0;
    for (const e of [...this.#scheduler.entries()]) {
      if (e.status === "queued" || e.status === "waiting") {
        this.#settle(e, { nak: this.#releaseDelay() }, "released", "shutdown");
        released++;
      }
    }
    if ((this.#lifecycle.state as ConsumerState) === "failed") return;
    this.#lifecycle.move("draining", { inFlight: this.#scheduler.running, released });
    const deadline = Date.now() + timeoutMs;
    while (this.#scheduler.running > 0 && Date.now() < deadline)
      await this.#waker.waitForChange(deadline - Date.now());
    let aborted = 0;
    if (this.#scheduler.running > 0) {
      const reason = new ShutdownAbortError(timeoutMs);
      for (const e of [...this.#scheduler.entries()]) {
        if (e.status !== "running") continue;
        abortEntry(e, reason);
        this.#settle(e, { nak: this.#releaseDelay() }, "released", "shutdown deadline");
        aborted++;
      }
    }
    this.#cleanup();
    this.#lifecycle.move("stopped", { aborted });
    this.#notifier.end();
  }

  #fail(err: unknown): void {
    if (this.#lifecycle.ended) return;
    this.#log.error({ err }, "consumer failed");
    this.#lifetime.abort();
    this.#endSession("failed");
    for (const e of [...this.#scheduler.entries()]) {
      abortEntry(e, err);
      this.#settle(e, { nak: this.#releaseDelay() }, "released", "consumer failed");
    }
    this.#cleanup();
    this.#lifecycle.move("failed", { err });
    this.#notifier.end();
    this.#waker.wake();
  }

  #cleanup(): void {
    this.#acks.flush();
    clearInterval(this.#sweepTimer);
    clearInterval(this.#infoTimer);
    this.#connection?.stop();
    this.#meter.inFlight(0);
    this.#meter.flush();
  }

  // --- pulling --------------------------------------------------------------------------------

  #connected(): boolean {
    return this.#connection?.connected ?? true;
  }

  /** A new consume may start: running, connected, and room for the client's whole share. */
  #mayOpen(): boolean {
    return (
      this.#lifecycle.state === "running" &&
      this.#connected() &&
      !this.#durable.recreating &&
      this.#scheduler.held + this.#settings.quota <= this.#o.maxBuffered
    );
  }

  /**
   * One session per `consume()`: open it when there is room, take from it while there is room, and
   * when it ends (pause, stop, hand-over, disconnect, recreation, failure) drain what the client had
   * already received; after a failure, back off before the next one.
   */
  async #runPullLoop(): Promise<void> {
    let failures = 0;
    while (this.#lifecycle.pulling) {
      if (!this.#mayOpen()) {
        await (this.#durable.recreating ?? this.#waker.waitForChange());
        continue;
      }
      if (this.#consumeEndedAt !== undefined) {
        await this.#redeliverLost();
        continue;
      }
      let session: PullSession | undefined;
      let failure: unknown;
      try {
        session = await this.#openSession();
        await session.take(this.#sink);
        failure = session.failure;
      } catch (err) {
        failure = err;
      } finally {
        if (session) await this.#closeSession(session);
      }
      if ((session?.taken ?? 0) > 0) failures = 0;
      if (failure === undefined) continue;
      if (!this.#lifecycle.pulling) break;
      failures++;
      await this.#durable.afterPullError(failure, failures);
    }
  }

  /**
   * Ordered, before each consume: what the server delivered to an earlier one but this process never
   * received (in flight when the connection dropped, or delivered into the pull requests of a consume
   * that had stopped for a pause or a failure — the server holds those until they expire; or left by
   * a process that died) — the durable's outstanding deliveries beyond those held here — is delivered
   * again first and in stream order (streams/src/requeue.ts). Left to its ack wait it would come back
   * after later messages of its key. The server must hold no pull request of the old consume any more: a delivery into one
   * would be lost again.
   */
  async #redeliverLost(): Promise<void> {
    const look = async () => {
      const info = await this.#durable.info();
      return { info, lost: info.num_ack_pending - this.#scheduler.messages };
    };
    try {
      let { info, lost } = await look();
      if (lost > 0) {
        await sleep(LOST_RECHECK_MS, this.#lifetime.signal);
        ({ info, lost } = await look());
      }
      if (lost > 0) {
        // No consume of this process runs: every pull request the server still holds is an old
        // one's (stopped, or on a connection the server has not yet found dead), and expires at
        // most a pull expiry after it ended.
        for (;;) {
          const until = (this.#consumeEndedAt ?? 0) + this.#settings.expiresMs + PULL_EXPIRY_MARGIN_MS;
          if (info.num_waiting === 0 || Date.now() >= until || !this.#lifecycle.pulling) break;
          await sleep(Math.min(250, until - Date.now()), this.#lifetime.signal);
          ({ info, lost } = await look());
        }
        if (!this.#lifecycle.pulling || !this.#connected()) return;
        if (lost > 0) {
          // Naks, not a reset (2.14+), on every server: only what was outstanding comes again, as it
          // would after its ack wait; a reset would also hand over what was acknowledged above the floor.
          const requeued = await requeueInStreamOrder(this.#nc, info, (seq) => this.#scheduler.has(seq));
          this.#log.warn(
            { lost, ...requeued },
            requeued
              ? "deliveries an earlier consume never received delivered again first, in stream order"
              : "deliveries an earlier consume never received span too many sequences to requeue; they come back after their ack wait",
          );
        }
      }
      this.#consumeEndedAt = undefined;
      this.#lostLookFailures = 0;
    } catch (err) {
      if (!this.#lifecycle.pulling || !this.#connected()) return;
      // A reconnect under way answers nothing: look again a few times before consuming without it.
      if (++this.#lostLookFailures < LOST_LOOK_ATTEMPTS) {
        this.#log.debug({ err }, "could not look for deliveries never received; looking again");
        await sleep(LOST_RECHECK_MS * 2 ** this.#lostLookFailures, this.#lifetime.signal);
        return;
      }
      this.#consumeEndedAt = undefined;
      this.#lostLookFailures = 0;
      this.#log.warn(
        { err },
        "could not redeliver what an earlier consume never received; it comes back after its ack wait",
      );
    }
  }

  async #openSession(): Promise<PullSession> {
    this.#gate.open();
    const messages = await consume(this.#durable.consumer, this.#settings);
    const session = new PullSession(
      messages,
      { ...this.#settings, incarnation: this.#durable.incarnation },
      { log: this.#log, waker: this.#waker, gate: this.#gate },
    );
    this.#session = session;
    void session.watch();
    // Paused, stopped or disconnected while the consumer was looked up: this session ends at once.
    if (this.#lifecycle.state !== "running" || !this.#connected()) this.#endSession("superseded");
    return session;
  }

  /** Stops the current consume (idempotent); the loop then drains what the client had received. */
  #endSession(reason: string, failure?: Error): void {
    this.#session?.end(reason, failure);
  }

  /** Drains a stopped session: what the client had received is held or given back (see #takeDelivered). */
  async #closeSession(s: PullSession): Promise<void> {
    await s.close(this.#sink);
    // A lossless hand-over (the common case under a backlog) needs no look at the durable.
    if (this.#o.ordered && !s.lossless) this.#consumeEndedAt = Date.now();
    if (this.#session === s) this.#session = undefined;
    this.#waker.wake();
  }

  readonly #sink: SessionSink = {
    hasRoomFor: (quota) => this.#scheduler.held + quota <= this.#o.maxBuffered,
    beforeNext: () => this.#notePeak(),
    admit: (msg, deliveredAfter) => this.#admit(msg, deliveredAfter),
    takeDelivered: (s, msg) => this.#takeDelivered(s, msg),
  };

  /** A message received by a stopped session: held (room and state permitting) or nak'd at once. */
  #takeDelivered(s: PullSession, msg: JsMsg): void | Promise<void> {
    // A delivery of the deleted durable: the recreated one delivers it again, settling it is moot.
    if (s.incarnation !== this.#durable.incarnation) return;
    if (this.#lifecycle.state === "paused" && this.#o.pauseMode === "release") this.#giveBack(msg, "paused");
    else if (!this.#lifecycle.pulling) this.#giveBack(msg, "shutdown");
    // Cannot happen while the client keeps to its share; a redelivery of a held message costs no slot.
    else if (this.#scheduler.held >= this.#o.maxBuffered && !this.#scheduler.has(msg.info.streamSequence))
      this.#giveBack(msg, "over-delivery");
    else return this.#admit(msg, s.clearAt);
  }

  /**
   * A partition's consumer gives messages back once its pull requests have expired on the server: a
   * message nak'd at once can be delivered again into a pull request of the consume that just
   * stopped (seen on 2.9: the server still holds the request), be lost there and come back only after
   * its ack wait (or its backoff), behind later messages of its key taken by the next owner. The next
   * owner waits for this (partitioned-consumer.ts). Other consumers give back at once.
   */
  #releaseDelay(): number {
    return this.#o.partition ? this.#settings.expiresMs + PULL_EXPIRY_MARGIN_MS : 0;
  }

  /** Nak (without delay but for a partition's, see #releaseDelay), for a message never handled. */
  #giveBack(msg: JsMsg, why: string): void {
    const delay = this.#releaseDelay();
    msg.nak(delay > 0 ? delay : undefined);
    this.#meter.outcome(headerValue(msg, CE.type) || "unknown", "released");
    this.#log.debug({ seq: msg.info.streamSequence, why }, "message released");
  }

  /** Slots the client holds (see PullSession.share). */
  #clientShare(): number {
    return this.#session?.share() ?? 0;
  }

  #notePeak(): void {
    this.#peakHeld = Math.max(this.#peakHeld, this.#scheduler.held + this.#clientShare());
  }

  // --- admission and scheduling ---------------------------------------------------------------

  /**
   * `deliveredAfter`: a lower bound of its delivery time (it may have waited in the client). Returns a
   * promise while its ordering key is looked up (the session takes nothing else meanwhile).
   */
  #admit(msg: JsMsg, deliveredAfter: number): void | Promise<void> {
    const seq = msg.info.streamSequence;
    if (msg.info.deliveryCount > 1) this.#meter.redelivered();
    const delivery: Delivery = { msg, incarnation: this.#durable.incarnation };
    const existing = this.#scheduler.get(seq);
    if (existing) {
      // A redelivery of a message we still hold (ack deadline passed while disconnected, or the durable
      // was recreated): keep it, and settle it together with the first.
      this.#scheduler.addDelivery(existing, delivery);
      this.#log.debug({ seq, deliveryCount: msg.info.deliveryCount }, "redelivery of a message already held");
      return;
    }
    if (!this.#lifecycle.pulling) {
      this.#giveBack(msg, "shutdown");
      return;
    }
    if (!this.#o.ordered) {
      this.#place(msg, delivery, deliveredAfter, undefined, false);
      return;
    }
    let key: string | undefined | Promise<string | undefined>;
    try {
      key = this.#o.orderingKey(msg);
    } catch (err) {
      return this.#keyFailed(msg, delivery, deliveredAfter, err);
    }
    if (!(key instanceof Promise)) {
      this.#place(msg, delivery, deliveredAfter, key, true);
      return;
    }
    return key.then(
      (k) => this.#place(msg, delivery, deliveredAfter, k, true),
      (err: unknown) => this.#keyFailed(msg, delivery, deliveredAfter, err),
    );
  }

  /**
   * The ordering key could not be had. Unpartitioned, the message gets a lane of its own. Partitioned,
   * that would lose it: the key picks the partition, so a replica that got the key places the message
   * in one partition while this one would place it in another (by its sequence), and each partition's
   * consumer acknowledging it as another's, no one handles it. So the key is asked for again (the
   * session takes nothing else meanwhile, the ack deadline kept alive) until it comes or the consumer
   * stops. A key function must therefore fail only transiently: a message it can never key gets
   * `undefined` or a fixed fallback, the same on every replica.
   */
  async #keyFailed(msg: JsMsg, delivery: Delivery, deliveredAfter: number, err: unknown): Promise<void> {
    const seq = msg.info.streamSequence;
    if (!this.#o.partition) {
      this.#log.warn({ err, seq }, "orderingKey failed; the message gets a lane of its own");
      this.#place(msg, delivery, deliveredAfter, undefined, true);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      this.#log.warn(
        { err, seq, attempt },
        "orderingKey failed, so the message's partition is unknown; asking again (nothing else is taken meanwhile)",
      );
      await sleep(Math.min(KEY_RETRY_MAX_MS, 100 * 2 ** attempt), this.#lifetime.signal);
      if (!this.#lifecycle.pulling) return this.#giveBack(msg, "shutdown");
      msg.working();
      try {
        const key = await this.#o.orderingKey(msg);
        return this.#place(msg, delivery, deliveredAfter, key, true);
      } catch (e) {
        err = e;
      }
    }
  }

  /** Holds the message in its lane (ordered) and runs what may run; another partition's is acked. */
  #place(
    msg: JsMsg,
    delivery: Delivery,
    deliveredAfter: number,
    key: string | undefined,
    ordered: boolean,
  ): void {
    const seq = msg.info.streamSequence;
    // Stopped while its key was looked up: given back like any message received then.
    if (!this.#lifecycle.pulling) {
      this.#giveBack(msg, "shutdown");
      return;
    }
    let lane: string | undefined;
    if (ordered) {
      const partition = this.#o.partition;
      if (partition && partitionOf(key, seq, partition.count) !== partition.index) {
        // Another partition's: its owner handles it from its own durable. Not an event handled here.
        this.#acks.add(msg);
        this.#endOfTurn.schedule();
        this.#otherPartition++;
        this.#meter.outcome(headerValue(msg, CE.type) || "unknown", "other_partition");
        return;
      }
      lane = key ?? `\u0000seq:${seq}`;
    }
    this.#scheduler.hold({
      seq,
      deliveries: [delivery],
      lane,
      status: "queued",
      touchedAt: deliveredAfter,
      localRetries: 0,
    });
    this.#pump();
  }

  #pump(): void {
    while (this.#lifecycle.state === "running") {
      const e = this.#scheduler.start();
      if (!e) return;
      this.#endOfTurn.schedule();
      // One continuation per message (not a catch and a finally: two more promises each).
      this.#process(e).then(this.#processed, (err: unknown) => {
        try {
          this.#log.error({ err, seq: e.seq }, "internal error while processing a message; nak");
          if (e.status !== "done") this.#settle(e, { nak: this.#o.retryDelay(1) }, "nak");
        } finally {
          this.#processed();
        }
      });
    }
  }

  /** A handler slot is free again. */
  readonly #processed = (): void => {
    this.#scheduler.finished();
    this.#endOfTurn.schedule();
    this.#pump();
    this.#waker.wake();
  };

  // --- processing -----------------------------------------------------------------------------

  /** Whether the entry was settled meanwhile (e.g. released at the shutdown deadline); defeats narrowing. */
  #isDone(e: Entry): boolean {
    return e.status === "done";
  }

  async #process(e: Entry): Promise<void> {
    // The partition went to another process (its lease lapsed or was released): its owner handles it.
    if (this.#o.partition && !this.#o.partition.owns())
      return this.#settle(e, { nak: this.#releaseDelay() }, "released", "partition no longer owned");
    const msg = latestMsg(e);
    const deliveryCount = msg.info.deliveryCount;
    const attempt = deliveryCount + e.localRetries;
    let envelope: EventEnvelope;
    try {
      envelope = envelopeOf(msg);
    } catch (err) {
      return this.#deadLetter(e, err as ThreadlineError, undefined);
    }
    const handler = this.#o.handler ?? this.#o.handlers?.get(envelope.type);
    if (!handler) {
      if (this.#o.onUnhandledType === "ack") return this.#settle(e, "ack", "skipped", "no handler", envelope);
      return this.#deadLetter(
        e,
        {
          code: ConsumerErrorCode.UnhandledType,
          message: `no handler for ${envelope.type} in consumer ${this.#o.durable}`,
        },
        envelope,
      );
    }
    let decoded: Decoded;
    try {
      // Synchronous once the writer is known: no promise and no turn of the microtask queue per event.
      const soon = decodePayload(this.#o.codec, envelope, msg.data);
      decoded = soon instanceof Promise ? await soon : soon;
    } catch (err) {
      // Contract errors (bytes, fingerprint, schema, payload) are poison; anything else (a registry
      // lookup that timed out) is transient.
      if (err instanceof ThreadlineError) return this.#deadLetter(e, err, envelope);
      return this.#failed(e, err, attempt, envelope);
    }
    if (this.#isDone(e)) return; // released meanwhile (shutdown deadline)
    const key = this.#o.ordered ? (e.lane ?? envelope.subject) : envelope.subject;
    const replay = this.#replayOrigin(msg);
    // A replayed event is the original one: its stream, sequence and subject, not the replay channel's.
    const origin = replay && {
      stream: replay.stream,
      streamSequence: replay.sequence,
      routingSubject: replay.subject || msg.subject,
    };
    const event = consumedEvent(msg, e.seq, envelope, decoded, { key, deliveryCount, attempt, origin });
    const ctx = handlerContext(e, {
      replay,
      log: this.#log,
      envelope,
      key,
      attempt,
      lastAttempt: attempt >= this.#settings.maxDeliver,
      working: () => this.#touch(e),
      owner: this.#o.partition?.owns ?? ALWAYS_OWNER,
    });
    const startedAt = performance.now();
    try {
      await handler(event, ctx);
    } catch (err) {
      this.#meter.handlerDuration(envelope.type, (performance.now() - startedAt) / 1e3);
      if (this.#isDone(e)) {
        this.#log.warn(
          { err, seq: e.seq, eventId: envelope.id },
          "handler failed after its message was released",
        );
        return;
      }
      // Deposed while handling (a pause, a lapsed lease): whatever failed, the new owner handles it.
      if (this.#o.partition && !this.#o.partition.owns())
        return this.#settle(e, { nak: this.#releaseDelay() }, "released", "partition no longer owned");
      return this.#failed(e, err, attempt, envelope);
    }
    this.#meter.handlerDuration(envelope.type, (performance.now() - startedAt) / 1e3);
    if (this.#isDone(e)) {
      this.#log.warn(
        { seq: e.seq, eventId: envelope.id },
        "handler finished after the shutdown deadline; its message was already nak'd and will be redelivered",
      );
      return;
    }
    if (replay?.kind === "redrive") await this.#removeRedriven(replay);
    this.#firstFailures.forget(e.seq);
    this.#settle(e, "ack", "acked", undefined, envelope);
  }

  /** A handler (or decode) failure: dead-letter when permanent or out of attempts, else retry later. */
  async #failed(e: Entry, err: unknown, attempt: number, envelope: EventEnvelope): Promise<void> {
    const now = Date.now();
    this.#firstFailures.note(e.seq, now);
    const decision = decideOnFailure(err, attempt, this.#settings.maxDeliver, this.#o.retryDelay);
    if ("deadLetter" in decision) return this.#deadLetter(e, decision.deadLetter, envelope, now);
    const delay = decision.retryInMs;
    const log = {
      err,
      eventId: envelope.id,
      eventType: envelope.type,
      key: envelope.subject,
      seq: e.seq,
      attempt,
      delay,
    };
    if (this.#o.ordered) {
      // Retry in place: the key stays blocked, so nothing overtakes this event.
      this.#log.warn(log, "handler failed; retrying in place (ordered)");
      this.#meter.outcome(envelope.type, "retried");
      this.#scheduler.retryLater(e, delay, () => this.#pump());
      return;
    }
    this.#log.warn(log, "handler failed; nak with delay");
    this.#settle(e, { nak: delay }, "nak", undefined, envelope);
  }

  /** Publishes the dead letter, then terms the original; nak's it when the publish keeps failing. */
  async #deadLetter(
    e: Entry,
    reason: DeadLetterReason,
    envelope: EventEnvelope | undefined,
    failedAt = Date.now(),
  ): Promise<void> {
    const msg = latestMsg(e);
    // A replayed delivery fails as a delivery of the live durable would: its dead letter names the
    // original stream, sequence and durable, and its id the job (or the redrive count), so a replay
    // or a redrive that fails again is stored again rather than dropped as a duplicate.
    const replay = this.#replayOrigin(msg);
    const live = this.#o.replayOf;
    const letter = {
      stream: live && replay ? replay.stream : this.#o.stream,
      sequence: live && replay ? replay.sequence : e.seq,
      subject: live && replay?.subject ? replay.subject : msg.subject,
      // A partition's dead letter is its partitioned durable's: a redrive goes to that one's replay channel.
      consumer: live ? live.durable : (this.#o.partition?.of ?? this.#o.durable),
      deliveries: msg.info.deliveryCount + e.localRetries,
      code: reason.code,
      message: reason.message,
      firstFailureAt: new Date(this.#firstFailures.get(e.seq) ?? failedAt),
      lastFailureAt: new Date(failedAt),
      headers: msg.headers,
    };
    const eventType = envelope?.type ?? (headerValue(msg, CE.type) || "unknown");
    const log = {
      eventId: envelope?.id ?? msg.headers?.get(CE.id),
      eventType,
      key: envelope?.subject ?? msg.headers?.get(CE.subject),
      seq: e.seq,
      code: reason.code,
      reason: reason.message,
    };
    const failure = await publishDeadLetter(this.#js, letter, msg.data, {
      abandoned: () => this.#isDone(e),
      signal: this.#lifetime.signal,
      ...(live && replay
        ? {
            msgId: `${letter.stream}:${letter.sequence}:${replay.kind}:${replay.kind === "redrive" ? replay.redriveCount : replay.job}`,
          }
        : {}),
    });
    if (this.#isDone(e)) return;
    if (failure !== undefined) {
      this.#log.error({ ...log, err: failure }, "dead-letter publish failed; nak so the message is not lost");
      this.#settle(e, { nak: this.#o.retryDelay(msg.info.deliveryCount) }, "nak", undefined, envelope);
      return;
    }
    // The new dead letter replaces the one a redrive came from.
    await this.#removeRedriven(replay);
    this.#firstFailures.forget(e.seq);
    this.#meter.deadLettered(reason.code);
    this.#log.error(log, "message dead-lettered");
    this.#notifier.push({
      type: "dead_lettered",
      streamSequence: e.seq,
      code: reason.code,
      ...(log.eventId ? { eventId: log.eventId } : {}),
    });
    this.#settle(e, "term", "dead_lettered", undefined, envelope, reason.code);
  }

  // --- the replay channel ---------------------------------------------------------------------

  /** Where a delivery of the replay channel came from; undefined for a live consumer. */
  #replayOrigin(msg: JsMsg): ReplayOrigin | undefined {
    if (!this.#o.replayOf) return undefined;
    return (
      replayOriginOf(msg.headers) ?? {
        kind: "replay",
        job: "",
        stream: this.#o.replayOf.stream,
        sequence: msg.info.streamSequence,
        subject: msg.subject,
        redriveCount: 0,
        dlqSequence: undefined,
      }
    );
  }

  /**
   * A redriven delivery is settled (handled, or dead-lettered again): its dead letter leaves MFG_DLQ.
   * Done here, before the ack, because only the service knows the outcome; a failed removal is logged
   * and leaves the dead letter (a later redrive is answered by an idempotent handler).
   */
  async #removeRedriven(replay: ReplayOrigin | undefined): Promise<void> {
    if (replay?.kind !== "redrive" || replay.dlqSequence === undefined) return;
    try {
      const jsm = await jetstreamManager(this.#nc, { ...this.#o.jetstream, checkAPI: false });
      await jsm.streams.deleteMessage(DLQ_STREAM, replay.dlqSequence, false);
      this.#log.info({ dlqSequence: replay.dlqSequence }, "redriven dead letter removed");
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.NoMessageFound) || /no message found/i.test(String(err))) return;
      this.#log.warn(
        { err, dlqSequence: replay.dlqSequence },
        "could not remove the redriven dead letter; it stays in MFG_DLQ",
      );
    }
  }

  // --- settling -------------------------------------------------------------------------------

  /** Final ack / nak / term of every current delivery of the entry; frees its slot. */
  #settle(
    e: Entry,
    how: Settlement,
    outcome: ConsumerOutcome,
    why?: string,
    envelope?: EventEnvelope,
    termReason?: string,
  ): void {
    if (e.status === "done") return;
    const incarnation = this.#durable.incarnation;
    for (const d of e.deliveries) {
      if (d.incarnation !== incarnation) continue; // the recreated durable redelivers it
      if (how === "ack") {
        // Written with the other acks of this turn (acks.ts).
        this.#acks.add(d.msg);
        this.#endOfTurn.schedule();
      } else if (how === "term") {
        // nats-server < 2.10.4 ignores "+TERM <reason>" (the message is redelivered): plain +TERM there.
        if (this.#termWithReason && termReason) d.msg.term(termReason);
        else d.msg.term();
      } else d.msg.nak(how.nak > 0 ? how.nak : undefined);
    }
    const eventType = envelope?.type ?? (headerValue(latestMsg(e), CE.type) || "unknown");
    this.#meter.outcome(eventType, outcome);
    if (outcome !== "acked" && outcome !== "dead_lettered" && outcome !== "nak") {
      const msg = latestMsg(e);
      this.#log.debug(
        {
          eventId: envelope?.id ?? msg.headers?.get(CE.id),
          eventType,
          key: envelope?.subject ?? msg.headers?.get(CE.subject),
          seq: e.seq,
          why,
        },
        `message ${outcome}`,
      );
    } else if (outcome === "acked") {
      this.#log.debug(
        { eventId: envelope?.id, eventType, key: envelope?.subject, seq: e.seq },
        "message acked",
      );
    }
    this.#scheduler.release(e);
    this.#waker.wake();
  }

  #touch(e: Entry): void {
    if (e.status === "done") return;
    const incarnation = this.#durable.incarnation;
    for (const d of e.deliveries) if (d.incarnation === incarnation) d.msg.working();
    e.touchedAt = Date.now();
  }

  /** Keeps every held message's ack deadline alive: +WPI once it is half gone. */
  #sweep(): void {
    if (!this.#connected()) return;
    const due = Date.now() - this.#settings.ackWaitMs / 2;
    for (const e of this.#scheduler.entries()) if (e.touchedAt <= due) this.#touch(e);
  }
}
