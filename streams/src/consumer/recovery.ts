/**
 * Recovery: keeping the durable reachable while consuming, forever, reporting on `status()` and in
 * logs. After a failed pull (missed heartbeats, a deleted durable, no responders after a server
 * restart, a refused pull) the durable is looked up: a deleted one is recreated from the configuration
 * it had at start, starting after the last known ack floor (events between the floor and the deletion
 * are handled again: at-least-once); a missing stream is waited for. Then the pull loop backs off. A
 * closed connection is the one failure not recovered from. The connection's disconnects stop pulling
 * and its reconnects start it again.
 */
import {
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { type NatsConnection, errors as natsErrors } from "@nats-io/nats-core";
import { backoffDelay, sleep } from "../backoff.js";
import type { Logger } from "../logger.js";
import { ConsumerSetupError } from "./errors.js";
import type { ConsumerMeter } from "./meter.js";
import type { Notifier } from "./notifier.js";
import { CONSUMER_DEFAULTS } from "./options.js";
import type { ConsumerStatus } from "./types.js";

export const isApiError = (err: unknown, code: number): boolean =>
  err instanceof JetStreamApiError && err.code === code;

export interface DurableDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly durable: string;
  readonly recreateDeleted: boolean;
  readonly log: Logger;
  readonly notifier: Notifier<ConsumerStatus>;
  readonly meter: ConsumerMeter;
  /** Aborted when the consumer stops: ends a backoff at once. */
  readonly lifetime: AbortSignal;
  /** Ends the current pull session (after a recreation its deliveries belong to the deleted durable). */
  endSession(reason: string): void;
  /** Wakes the pull loop (a recreation ended). */
  wake(): void;
  /** Sees each consumer info read (the pin watch of a partition's consumer). */
  onInfo?(info: ConsumerInfo): void;
}

/** The durable as the consumer knows it: its handle, its start configuration, its ack floor, its recreation. */
export class Durable {
  readonly #d: DurableDeps;
  readonly #startConfig: ConsumerConfig;
  #consumer: Consumer;
  #lastAckFloor: number;
  #incarnation = 0;
  #recreating: Promise<void> | undefined;
  #refreshing = false;

  /** `info` and `consumer`: what the consumer found at start. */
  constructor(deps: DurableDeps, info: ConsumerInfo, consumer: Consumer) {
    this.#d = deps;
    this.#startConfig = structuredClone(info.config);
    this.#lastAckFloor = info.ack_floor.stream_seq;
    this.#consumer = consumer;
  }

  /** The manager the durable is looked up with. */
  get jsm(): JetStreamManager {
    return this.#d.jsm;
  }

  /** The nats.js handle of the current incarnation. */
  get consumer(): Consumer {
    return this.#consumer;
  }

  /** Bumped by each recreation: deliveries of an older incarnation are not settled (the new one redelivers them). */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** Set while the durable is being recreated: no consume starts meanwhile. */
  get recreating(): Promise<void> | undefined {
    return this.#recreating;
  }

  /**
   * After a failed pull: reports it, looks the durable up (recreating it when deleted) and backs off by
   * the number of failures in a row. Throws when the connection is closed: nothing can recover that.
   */
  async afterPullError(err: unknown, failures: number): Promise<void> {
    const error = err instanceof Error ? err : new Error(String(err));
    if (err instanceof natsErrors.ClosedConnectionError || this.#d.nc.isClosed()) {
      throw new ConsumerSetupError("the NATS connection was closed: the consumer cannot continue", {
        cause: err,
      });
    }
    this.#d.log.warn({ err: error, failures }, "pull failed; retrying");
    this.#d.notifier.push({ type: "pull_failed", failures, error });
    // Consumer deleted (409), missed heartbeats, no responders: find out whether the durable is still there.
    await this.check();
    await sleep(backoffDelay(CONSUMER_DEFAULTS.pullRetry, failures), this.#d.lifetime);
  }

  /** The periodic look-up (backlog gauges, ack floor, a deletion noticed); skipped while one is under way. */
  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      await this.check();
    } finally {
      this.#refreshing = false;
    }
  }

  /** The durable's state on the server now (also noted as by the periodic look-up). */
  async info(): Promise<ConsumerInfo> {
    const info = await this.#d.jsm.consumers.info(this.#d.stream, this.#d.durable);
    this.#noteInfo(info);
    return info;
  }

  /** Looks the durable up; recreates it when it was deleted. */
  async check(): Promise<void> {
    const { jsm, stream, durable, log, notifier } = this.#d;
    try {
      const info = await jsm.consumers.info(stream, durable);
      this.#noteInfo(info);
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) await this.#recreate();
      else if (isApiError(err, JetStreamApiCodes.StreamNotFound)) {
        log.error({ err }, "the stream is missing; waiting for it to come back");
        notifier.push({ type: "stream_missing" });
      } else log.debug({ err }, "consumer info failed");
    }
  }

  #noteInfo(info: ConsumerInfo): void {
    this.#lastAckFloor = Math.max(this.#lastAckFloor, info.ack_floor.stream_seq);
    this.#d.meter.backlog(info);
    this.#d.onInfo?.(info);
  }

  #recreate(): Promise<void> {
    const { js, jsm, stream, durable, log, notifier } = this.#d;
    if (!this.#d.recreateDeleted) {
      notifier.push({ type: "consumer_missing" });
      log.error("the durable consumer is missing and recreateDeleted is false; waiting for it to come back");
      return Promise.resolve();
    }
    this.#recreating ??= (async () => {
      notifier.push({ type: "consumer_missing" });
      const config: ConsumerConfig = { ...this.#startConfig };
      const startSequence = this.#lastAckFloor + 1;
      if (this.#lastAckFloor > 0) {
        config.deliver_policy = DeliverPolicy.StartSequence;
        config.opt_start_seq = startSequence;
        delete config.opt_start_time;
      }
      log.warn(
        { startSequence },
        "the durable consumer was deleted; recreating it from its start configuration",
      );
      try {
        await jsm.consumers.add(stream, config);
      } catch (err) {
        // Another replica may have recreated it first: fine if it exists now.
        await jsm.consumers.info(stream, durable).catch(() => {
          throw err;
        });
      }
      // Deliveries of the old incarnation are not settled on the new one: it redelivers them.
      this.#incarnation++;
      this.#consumer = await js.consumers.get(stream, durable);
      this.#d.endSession("recreated");
      log.warn({ startSequence }, "durable consumer recreated");
      notifier.push({ type: "consumer_recreated", startSequence });
    })()
      .catch((err) => log.error({ err }, "recreating the durable consumer failed; will retry"))
      .finally(() => {
        this.#recreating = undefined;
        this.#d.wake();
      });
    return this.#recreating;
  }
}

/** What the consumer does when the connection changes. */
export interface ConnectionEvents {
  /** The connection closed for good. */
  closed(): void;
  /** The server drops this connection's pull requests: end the session (a new one starts once reconnected). */
  disconnected(): void;
  /** Pulling may resume. */
  reconnected(): void;
}

/** Follows the NATS connection: whether it is up, logged and reported on `status()`. */
export class ConnectionWatch {
  readonly #status: AsyncIterable<{ type: string }> & { stop?: () => void };
  #connected = true;

  constructor(nc: NatsConnection, log: Logger, notifier: Notifier<ConsumerStatus>, on: ConnectionEvents) {
    void nc.closed().then(() => on.closed());
    const iter = nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    this.#status = iter;
    void (async () => {
      for await (const s of iter) {
        if (s.type === "disconnect") {
          if (!this.#connected) continue;
          this.#connected = false;
          log.warn("disconnected from NATS; pulling stops until reconnected");
          notifier.push({ type: "disconnected" });
          on.disconnected();
        } else if (s.type === "reconnect") {
          this.#connected = true;
          log.info("reconnected to NATS; pulling resumes");
          notifier.push({ type: "reconnected" });
          on.reconnected();
        }
      }
    })().catch(() => undefined);
  }

  get connected(): boolean {
    return this.#connected;
  }

  stop(): void {
    this.#status.stop?.();
  }
}
