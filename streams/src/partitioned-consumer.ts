/**
 * A partitioned durable, consumed by several replicas with per-key order kept across all of them.
 *
 * A durable declared with `partitions: P` (streams/src/manifest.ts) is P durables `<durable>-p<i>`
 * on the same stream and filter. Each replica runs a `PartitionedConsumer`: the partitions are the
 * items of a {@link WorkShares} group (default group `<durable>`, items `p0`..`p<P-1>`), so each is
 * owned by one replica at a time and the replicas share them out (each holds at most
 * ceil(P / replicas)). For each partition it owns, a replica runs an ordered {@link EventConsumer} on
 * `<durable>-p<i>` that handles only the messages whose ordering key hashes to i
 * (streams/src/partitions.ts) and acknowledges the others at once (outcome `other_partition`). One key
 * → one partition → one owner at a time, reading its durable in stream order: per-key order holds
 * across replicas. The price: every partition durable reads the whole filtered stream (P reads of each
 * message on the server), which is why P stays small.
 *
 * Hand-over, the part that makes "one owner at a time" true for handlers and not only for leases:
 * - A replica that gives a partition up (on `stop()`, or to make room for a newcomer) stops its
 *   consumer BEFORE releasing the lease: buffered messages are given back, running handlers finish
 *   within the drain deadline as the owner's (`ctx.owner()` stays true, their writes go through), and
 *   only a handler that outlives the deadline is fenced. The next owner never pulls while a handler
 *   here still runs. (Fencing at once cut a graceful stop's postings off half-way: the next owner
 *   found them applied and counted them "already_applied", seen as a flaky replicas test.)
 * - A replica whose lease lapsed or was taken stops that consumer with its handlers fenced at once,
 *   and no new handler starts (`owns()` is asked first).
 * - A replica that acquires a partition first unpins its durable where the server pins one client
 *   (2.11+, partitions.ts): the previous owner's open pull requests carry the old pin and are
 *   answered 423 from then on — nothing more is delivered to a previous owner that is paused or
 *   split from the KV — and replicas pull only while their lease is current, so only the new owner
 *   can take the next pin. A pin the server gave to a pull request nobody listens to any more, the
 *   owner takes back (consumer/pin-watch.ts).
 * - A replica that acquires a partition then waits until the partition durable has no delivery
 *   outstanding (`num_ack_pending` = 0: the previous owner acked or gave back everything) before
 *   pulling. What is still outstanding after the previous owner's drain deadline is delivered again
 *   first and in stream order: on 2.14+ by resetting the durable to its ack floor; before, once the
 *   previous owner's pull requests have expired too, by naking each outstanding delivery back onto
 *   the server's redelivery queue in stream order (streams/src/requeue.ts). Waiting for the ack wait
 *   instead let them come back in the order they fell due (two reports of one order posted swapped
 *   on 2.9) and, lost a second time, only after the next backoff step (minutes). A previous owner
 *   that lost its lease while alive (a network split from the KV) thus cannot overlap with the new
 *   one unless its handler outlives its drain deadline.
 */
import {
  type ConsumerInfo,
  JetStreamApiCodes,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sleep } from "./backoff.js";
import { ConsumerSetupError, IllegalStateError } from "./consumer/errors.js";
import { createEventConsumer } from "./consumer/event-consumer.js";
import { Notifier } from "./consumer/notifier.js";
import {
  CONSUMER_DEFAULTS,
  type ConsumerOptions,
  type PartitionsOptions,
  PULL_EXPIRY_MARGIN_MS,
  parseConsumerOptions,
} from "./consumer/options.js";
import type { ConsumerState, ConsumerStats, ConsumerStatus, EventConsumer } from "./consumer/types.js";
import { ConfigError } from "./errors.js";
import { bindOnce, type Logger, silentLogger } from "./logger.js";
import { partitionDurable, partitionItem } from "./partitions.js";
import { requeueInStreamOrder } from "./requeue.js";
import { connectedServerHas } from "./server-features.js";
import { WorkShares } from "./shares.js";

/** The single source of the partitioned consumer's own defaults. */
export const PARTITIONED_DEFAULTS = {
  handoverPollMs: 250,
  /** Delay before a partition whose consumer failed to start is tried again (while still owned). */
  restartDelayMs: 2_000,
} as const;

/** What one owned partition runs. */
interface Owned {
  readonly item: string;
  /** The lease's fencing token when acquired (for the logs). */
  readonly token: number | undefined;
  /** Set once its consumer was created (after the hand-over wait). */
  consumer?: EventConsumer;
  /** Set when the partition is lost: the start path gives up. */
  lost: boolean;
}

/**
 * Creates a partitioned consumer (state `created`): `options` as for `createEventConsumer`, with
 * `ordered: true`, `durable` the partitioned durable's name and `partitions` saying how.
 */
/** A partitioned consumer: an EventConsumer that also says which partitions this process owns. */
export interface PartitionedEventConsumer extends EventConsumer {
  /** The partitions this process owns now (`p0`…). */
  owned(): string[];
  /** The consumers of the owned partitions that run now. */
  partitions(): EventConsumer[];
}

export function createPartitionedConsumer(
  nc: NatsConnection,
  options: ConsumerOptions,
): PartitionedEventConsumer {
  if (!options.partitions)
    throw new ConfigError("partitions", "is required: say how the durable is partitioned");
  return new PartitionedConsumer(nc, { ...options, partitions: options.partitions });
}

class PartitionedConsumer implements PartitionedEventConsumer {
  readonly #nc: NatsConnection;
  readonly #options: ConsumerOptions;
  readonly #p: PartitionsOptions;
  readonly #log: Logger;
  readonly #notifier = new Notifier<ConsumerStatus>();
  readonly #owned = new Map<string, Owned>();
  /** Per partition, the stop of its previous consumer: a re-acquired partition starts after it. */
  readonly #stopping = new Map<string, Promise<void>>();
  readonly #drainTimeoutMs: number;
  #shares: WorkShares | undefined;
  #jsm: JetStreamManager | undefined;
  #ackWaitMs = 30_000;
  #state: ConsumerState = "created";
  #stopPromise: Promise<void> | undefined;

  constructor(nc: NatsConnection, options: ConsumerOptions & { readonly partitions: PartitionsOptions }) {
    const { partitions, ...rest } = options;
    // Every check of the options, once, before any partition runs (index 0 stands for all).
    parseConsumerOptions(options);
    parseConsumerOptions({
      ...rest,
      partition: { of: rest.durable, index: 0, count: partitions.count, owns: () => true },
    });
    if (!partitions.kv) throw new ConfigError("partitions.kv", "is required (the bucket of the leases)");
    if (!partitions.holder) throw new ConfigError("partitions.holder", "is required (unique per process)");
    this.#nc = nc;
    this.#options = rest;
    this.#p = partitions;
    this.#drainTimeoutMs = rest.drainTimeoutMs ?? CONSUMER_DEFAULTS.drainTimeoutMs;
    this.#log = bindOnce(rest.logger ?? silentLogger, { stream: rest.stream, consumer: rest.durable });
  }

  get stream(): string {
    return this.#options.stream;
  }
  get durable(): string {
    return this.#options.durable;
  }
  get state(): ConsumerState {
    return this.#state;
  }

  /** The partitions this process owns now (`p0`…), for tests and logs. */
  owned(): string[] {
    return this.#shares?.owned() ?? [];
  }

  /** The consumers of the owned partitions that run now. */
  partitions(): EventConsumer[] {
    return [...this.#owned.values()].flatMap((o) => (o.consumer ? [o.consumer] : []));
  }

  status(): AsyncIterable<ConsumerStatus> {
    return this.#notifier.iterate();
  }

  stats(): ConsumerStats {
    const all = this.partitions().map((c) => c.stats());
    const sum = (f: (s: ConsumerStats) => number) => all.reduce((t, s) => t + f(s), 0);
    return {
      state: this.#state,
      inFlight: sum((s) => s.inFlight),
      held: sum((s) => s.held),
      reserved: sum((s) => s.reserved),
      peakInFlight: Math.max(0, ...all.map((s) => s.peakInFlight)),
      peakHeldPlusReserved: Math.max(0, ...all.map((s) => s.peakHeldPlusReserved)),
      concurrency: sum((s) => s.concurrency),
      maxBuffered: sum((s) => s.maxBuffered),
      otherPartition: sum((s) => s.otherPartition),
    };
  }

  async start(): Promise<void> {
    if (this.#state !== "created") throw new IllegalStateError("start", this.#state);
    const { stream, durable } = this.#options;
    try {
      this.#jsm = await jetstreamManager(this.#nc, { ...this.#options.jetstream, checkAPI: false });
      // Every partition durable must exist now: a missing one found later would strand its keys.
      for (let i = 0; i < this.#p.count; i++) {
        const info = await this.#info(partitionDurable(durable, i));
        if (!info)
          throw new ConsumerSetupError(
            `consumer ${partitionDurable(durable, i)} on stream ${stream} does not exist: ${durable} is partitioned (${this.#p.count}); declare its partitions (threadline streams apply) before starting the service`,
          );
        if (i === 0 && info.config.ack_wait) this.#ackWaitMs = Math.floor(info.config.ack_wait / 1e6);
      }
    } catch (err) {
      this.#move("failed", { reason: (err as Error)?.message ?? String(err) });
      this.#notifier.end();
      throw err;
    }
    const shares = new WorkShares({
      kv: this.#p.kv,
      group: this.#p.group ?? durable,
      items: Array.from({ length: this.#p.count }, (_, i) => partitionItem(i)),
      holder: this.#p.holder,
      ...(this.#p.ttlMs !== undefined ? { ttlMs: this.#p.ttlMs } : {}),
      ...(this.#p.renewEveryMs !== undefined ? { renewEveryMs: this.#p.renewEveryMs } : {}),
      logger: this.#log,
      // Given up for a newcomer: wound down while still owned (see the hand-over notes above).
      beforeRelease: (item) => this.#windDown(item),
      ...((this.#p.registry ?? this.#options.metrics)
        ? { registry: this.#p.registry ?? this.#options.metrics }
        : {}),
    });
    shares.on("acquired", (item, token) => this.#acquired(item, token));
    shares.on("lost", (item, reason) => this.#lost(item, reason));
    this.#shares = shares;
    this.#move("running", { partitions: this.#p.count, holder: this.#p.holder });
    shares.start();
  }

  pause(): void {
    if (this.#state === "paused") return;
    if (this.#state !== "running") throw new IllegalStateError("pause", this.#state);
    this.#move("paused");
    for (const c of this.partitions()) if (c.state === "running") c.pause();
  }

  resume(): void {
    if (this.#state === "running") return;
    if (this.#state !== "paused") throw new IllegalStateError("resume", this.#state);
    this.#move("running");
    for (const c of this.partitions()) if (c.state === "paused") c.resume();
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    if (this.#state === "created") {
      this.#move("stopped");
      this.#notifier.end();
      return Promise.resolve();
    }
    if (this.#state === "stopped" || this.#state === "failed") return Promise.resolve();
    this.#stopPromise = (async () => {
      this.#move("stopping", { owned: this.owned() });
      // Drain first, release after: the next owner must not pull while a handler here still runs.
      const draining = [...this.#owned.values()].map((o) =>
        this.#stopPartition(o, {
          fence: false,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        }),
      );
      this.#move("draining");
      await Promise.allSettled([...draining, ...this.#stopping.values()]);
      await this.#shares?.stop();
      this.#move("stopped");
      this.#notifier.end();
    })();
    return this.#stopPromise;
  }

  // --- partitions -----------------------------------------------------------------------------

  #acquired(item: string, token: number): void {
    if (this.#state !== "running" && this.#state !== "paused") return;
    const owned: Owned = { item, token, lost: false };
    this.#log.info({ partition: item, fencingToken: token }, "partition acquired: starting its consumer");
    this.#owned.set(item, owned);
    void this.#run(owned);
  }

  #lost(item: string, reason: string): void {
    const owned = this.#owned.get(item);
    if (!owned) return;
    this.#log.info({ partition: item, reason }, "partition lost: stopping its consumer");
    void this.#stopPartition(owned, { fence: true });
  }

  /** Before the partition is given up for a newcomer: its consumer drains while the lease is held. */
  async #windDown(item: string): Promise<void> {
    const owned = this.#owned.get(item);
    if (!owned) return;
    this.#log.info(
      { partition: item },
      "partition given up for another replica: draining its consumer first",
    );
    await this.#stopPartition(owned, { fence: false });
  }

  /**
   * Whether `o` is still this process's: owned without a break since it was acquired (a loss marks
   * it; a partition acquired again is a new `Owned`), and the lease recent enough (`isOwner`). What
   * handlers ask (`ctx.owner()`).
   */
  #owns(o: Owned): boolean {
    return !o.lost && (this.#shares?.isOwner(o.item) ?? false);
  }

  /** Whether `o` should (still) get a consumer: owned, and not being stopped. */
  #wanted(o: Owned): boolean {
    return this.#owns(o) && this.#owned.get(o.item) === o;
  }

  /** Waits for the partition's previous consumer and owner, then runs its consumer (again after a failed start). */
  async #run(o: Owned): Promise<void> {
    const index = Number(o.item.slice(1));
    const durable = partitionDurable(this.#options.durable, index);
    await this.#stopping.get(o.item);
    await this.#unpin(o, durable);
    if (!(await this.#handover(o, durable))) return;
    while (this.#wanted(o)) {
      const consumer = createEventConsumer(this.#nc, {
        ...this.#options,
        durable,
        partition: { of: this.#options.durable, index, count: this.#p.count, owns: () => this.#owns(o) },
      });
      o.consumer = consumer;
      void this.#forward(consumer);
      try {
        await consumer.start();
        if (this.#state === "paused") consumer.pause();
        // Lost while starting: the lost handler saw no consumer running yet.
        if (!this.#owns(o)) await this.#stopPartition(o, { fence: true });
        return;
      } catch (err) {
        o.consumer = undefined;
        // Stopped while starting (the partition was lost, or this consumer stops): nothing failed.
        if (!this.#wanted(o)) return;
        this.#log.error({ err, partition: o.item }, "the partition's consumer did not start; trying again");
        await sleep(PARTITIONED_DEFAULTS.restartDelayMs);
      }
    }
  }

  /**
   * Waits until the partition durable has no delivery outstanding: the previous owner's handlers are
   * done and what it gave back was redelivered. What is still outstanding once the previous owner's
   * drain deadline has passed is either given back (with a delay, after its pull requests expired) or
   * was lost on its way to a consume that had stopped. It is then delivered again at once and in
   * stream order: on 2.14+ the durable is reset to its ack floor (with what was acknowledged above
   * the floor: handled again, which idempotent handlers absorb); before, once the server holds no
   * pull request of the previous owner (`num_waiting` 0: they expired, or their subscription is gone;
   * a delivery into one would be lost again), each outstanding delivery is nak'd back onto the
   * redelivery queue in stream order. Should neither work, the new
   * owner waits until all of it is due again (pull expiry, then the ack wait) and starts anyway.
   * False when the partition was lost or the consumer stopped meanwhile.
   */
  async #handover(o: Owned, durable: string): Promise<boolean> {
    const started = Date.now();
    const graceEnd = started + this.#drainTimeoutMs;
    // Before 2.14 the server may deliver into the previous owner's pull requests after it stopped (a
    // connection it has not yet found dead), until they expire (at most a pull expiry after its
    // release); such a delivery is lost. The requeue waits until none is left (this replica has not
    // pulled yet: every waiting request is the previous owner's). nats-server's consumer.go delivers
    // only to a request whose reply subject still has interest (nextWaiting), and consumer info counts
    // `num_waiting` after dropping the others (processWaiting). The last resort waits for the lost
    // ones to be due again.
    const pullExpiresMs = this.#options.pullExpiresMs ?? CONSUMER_DEFAULTS.pullExpiresMs;
    const requeueAt = Math.max(graceEnd, started + pullExpiresMs + PULL_EXPIRY_MARGIN_MS);
    const deadline = started + pullExpiresMs + this.#ackWaitMs + 1_000;
    const poll = this.#p.handoverPollMs ?? PARTITIONED_DEFAULTS.handoverPollMs;
    let mayRedeliver = true;
    for (;;) {
      if (!this.#wanted(o) || (this.#state !== "running" && this.#state !== "paused")) return false;
      const info = await this.#info(durable).catch(() => undefined);
      const outstanding = info?.num_ack_pending ?? 0;
      const waitedMs = Date.now() - started;
      if (outstanding === 0) {
        if (waitedMs >= poll) this.#log.info({ partition: o.item, waitedMs }, "partition handed over");
        return true;
      }
      const reset = connectedServerHas(this.#nc, "consumerReset");
      const oldPullsGone = reset || info?.num_waiting === 0 || Date.now() >= requeueAt;
      if (mayRedeliver && info && Date.now() >= graceEnd && oldPullsGone) {
        try {
          const redelivered = reset
            ? await this.#resetToAckFloor(durable, info)
            : await requeueInStreamOrder(this.#nc, info);
          if (redelivered) {
            this.#log.warn(
              { partition: o.item, outstanding, waitedMs, ...redelivered },
              "deliveries outstanding after the previous owner's drain deadline: delivered again in stream order",
            );
            return true;
          }
          mayRedeliver = false;
        } catch (err) {
          mayRedeliver = false;
          this.#log.warn(
            { err, partition: o.item },
            "could not deliver the outstanding messages again at once; waiting out the ack wait",
          );
        }
      }
      if (Date.now() >= deadline) {
        this.#log.warn(
          { partition: o.item, outstanding, waitedMs },
          "the previous owner's deliveries are still outstanding after ack wait + drain deadline; starting anyway",
        );
        return true;
      }
      await sleep(poll);
    }
  }

  /**
   * Fences the previous owner at the server, where the partition durable pins its owner (declared so
   * on 2.11+, partitions.ts): the pull requests it left open carry the old pin and are answered 423
   * from now on, so none receives a message — a paused or partitioned previous owner that wakes up
   * finds nothing delivered to it, and it asks for no new pin (its consumer pulls only while its
   * lease is current). The first pull request without a pin gets the new one: this owner's, once it
   * starts. A failure is logged and the hand-over goes on: the leases still make one owner at a time.
   */
  async #unpin(o: Owned, durable: string): Promise<void> {
    try {
      const info = await this.#info(durable);
      const config = info?.config;
      const group = config?.priority_policy === "pinned_client" ? config.priority_groups?.[0] : undefined;
      if (!group) return;
      await (this.#jsm as JetStreamManager).consumers.unpin(this.#options.stream, durable, group);
      this.#log.info(
        { partition: o.item, group },
        "partition durable unpinned: the previous owner's pull requests get nothing more",
      );
    } catch (err) {
      this.#log.warn(
        { err, partition: o.item },
        "could not unpin the partition durable; the leases alone fence the previous owner",
      );
    }
  }

  /** Consumer reset (2.14+): what was acknowledged above the floor comes again too (idempotent handlers). */
  async #resetToAckFloor(durable: string, info: ConsumerInfo): Promise<{ how: "reset"; ackFloor: number }> {
    await (this.#jsm as JetStreamManager).consumers.reset(this.#options.stream, durable);
    return { how: "reset", ackFloor: info.ack_floor.stream_seq };
  }

  /**
   * Stops the partition's consumer (idempotent); its stop is remembered until done. `fence`: the lease
   * is gone, so running handlers are refused their writes at once; without, they are this replica's
   * until the consumer's drain deadline, and fenced from then on (one outliving it is no longer awaited).
   */
  #stopPartition(o: Owned, { fence, timeoutMs }: { fence: boolean; timeoutMs?: number }): Promise<void> {
    if (fence) o.lost = true;
    if (this.#owned.get(o.item) === o) this.#owned.delete(o.item);
    const c = o.consumer;
    if (!c) {
      o.lost = true;
      return Promise.resolve();
    }
    const before = this.#stopping.get(o.item) ?? Promise.resolve();
    const done = before
      .then(() => c.stop(timeoutMs !== undefined ? { timeoutMs } : {}))
      .catch((err) =>
        this.#log.warn({ err, partition: o.item }, "the partition's consumer did not stop cleanly"),
      )
      .finally(() => {
        o.lost = true;
        if (this.#stopping.get(o.item) === done) this.#stopping.delete(o.item);
      });
    this.#stopping.set(o.item, done);
    return done;
  }

  /** A partition consumer's notifications, but its own state changes, go out on this one's status(). */
  async #forward(c: EventConsumer): Promise<void> {
    for await (const n of c.status()) if (n.type !== "state") this.#notifier.push(n);
  }

  async #info(durable: string): Promise<ConsumerInfo | undefined> {
    try {
      return await (this.#jsm as JetStreamManager).consumers.info(this.#options.stream, durable);
    } catch (err) {
      if ((err as { code?: unknown })?.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
      if (/consumer not found/i.test(String(err))) return undefined;
      throw err;
    }
  }

  #move(to: ConsumerState, detail?: Record<string, unknown>): void {
    const from = this.#state;
    this.#state = to;
    this.#log[to === "failed" ? "warn" : "info"](
      { from, to, ...detail },
      `partitioned consumer ${from} -> ${to}`,
    );
    this.#notifier.push({ type: "state", from, to });
  }
}
