/**
 * One owner for work that must have one — Odoo's inbound sync of a database, an OPC UA endpoint, a
 * periodic job — among replicas that all want it, held in a JetStream KV key with compare-and-set:
 *
 * ```ts
 * const lease = new Lease({ kv, key: "odoo-inbound.prod", holder: podName, ttlMs: 15_000 });
 * lease.on("acquired", (token) => startSync(token));
 * lease.on("lost", (reason) => stopSync(reason));
 * lease.start();
 * ```
 *
 * Why it is safe without trusting clocks:
 * - The owner renews every `renewEveryMs` by a compare-and-set on the revision it last wrote. A
 *   refusal means someone else took the key: the lease is lost at once.
 * - A standby never reads time from the entry. It takes over only after it has itself watched the
 *   same revision stay unchanged for `ttlMs` on its own monotonic clock, and then only by a
 *   compare-and-set on that revision — of two standbys, one wins.
 * - The owner stops considering itself the owner `ttlMs - renewEveryMs` after the start of its last
 *   successful renewal, whether or not it can reach NATS (a partition, a paused process): that is
 *   before any standby, which started watching that revision only after it was written, may take over.
 * - An owner that lost the lease only for want of renewing it (NATS was unreachable, the process was
 *   paused) and finds the entry still at the revision it wrote takes it back at once, by a
 *   compare-and-set on that revision: nobody can have taken it, or the revision would have moved.
 * - What a paused owner was doing when it paused is stopped by fencing, not by time: the work's own
 *   state is written through a {@link FencedValue}, which a new owner claims first, so a late write
 *   of the deposed owner is refused (LEASE_FENCED).
 *
 * The token (the KV revision that won the lease) grows with every change of owner: logs and audit
 * records carry it.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { KV } from "@nats-io/kv";
import type { Registry } from "prom-client";
import { ThreadlineError } from "../../contracts/src/index.js";
import { type Logger, silentLogger } from "./logger.js";
import { metricsFor, type ThreadlineMetrics } from "./metrics.js";

/** A write through a {@link FencedValue} after another owner claimed it. */
export class LeaseFencedError extends ThreadlineError {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super("LEASE_FENCED", `${key}: ${detail}`);
  }
}

export interface LeaseOptions {
  /** The bucket of leases (history 1 is enough). */
  readonly kv: KV;
  /** What is owned, e.g. `odoo-inbound.prod` (KV key characters). */
  readonly key: string;
  /** Who this replica is (pod name): written into the entry, for people reading it. */
  readonly holder: string;
  /** How long an owner that stopped renewing keeps the lease. @default 15000 */
  readonly ttlMs?: number;
  /** How often the owner renews and a standby looks. Must be under ttlMs / 2. @default ttlMs / 3 */
  readonly renewEveryMs?: number;
  readonly logger?: Logger;
  /** Where threadline_lease_owner and threadline_lease_changes_total go. @default the process's registry */
  readonly registry?: Registry;
}

export type LeaseState = "standby" | "owner" | "stopped";

interface LeaseEvents {
  /** Became the owner; the token orders owners. */
  acquired: [token: number];
  /** Is no longer the owner: taken over, unreachable too long, or released. */
  lost: [reason: string];
}

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export class Lease extends EventEmitter<LeaseEvents> {
  readonly key: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  #state: LeaseState = "standby";
  #revision = 0;
  /** Owner: when the last successful renewal was sent (monotonic ms). */
  #confirmedAt = 0;
  /** Standby: the revision being watched and since when (monotonic ms). */
  #watched: { revision: number; since: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  readonly #options: LeaseOptions;
  readonly #log: Logger;
  readonly #metrics: ThreadlineMetrics;

  constructor(options: LeaseOptions) {
    super();
    this.#options = options;
    this.key = options.key;
    this.ttlMs = options.ttlMs ?? 15_000;
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.renewEveryMs > 0 && this.renewEveryMs * 2 < this.ttlMs))
      throw new RangeError(
        `renewEveryMs (${this.renewEveryMs}) must be above 0 and under ttlMs / 2 (${this.ttlMs})`,
      );
    this.#log = (options.logger ?? silentLogger).child({ lease: options.key, holder: options.holder });
    this.#metrics = metricsFor(options.registry);
    this.#metrics.leaseOwner.set({ lease: this.key }, 0);
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** The revision that won the lease while this replica owns it. */
  get token(): number | undefined {
    return this.#state === "owner" ? this.#revision : undefined;
  }

  /**
   * True while this replica owns the lease and its last renewal is recent enough that no standby can
   * have taken it. Check it before each piece of owned work; write the work's state through a
   * {@link FencedValue} for what a pause in the middle would otherwise let through.
   */
  isOwner(): boolean {
    if (this.#state !== "owner") return false;
    if (performance.now() - this.#confirmedAt < this.ttlMs - this.renewEveryMs) return true;
    this.#lose("not_renewed", "not renewed in time (NATS unreachable or the process was paused)");
    return false;
  }

  /** Starts contending (at once, then every renewEveryMs). */
  start(): void {
    if (this.#state === "stopped") throw new Error("a stopped lease cannot start again");
    this.#schedule(0);
  }

  /** Stops; an owner deletes the entry (compare-and-set) so that a standby takes over at once. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    const wasOwner = this.#state === "owner";
    const revision = this.#revision;
    this.#state = "stopped";
    if (!wasOwner) return;
    this.#metrics.leaseOwner.set({ lease: this.key }, 0);
    this.#metrics.leaseChanges.inc({ lease: this.key, change: "released" });
    this.emit("lost", "released");
    await this.#options.kv.delete(this.key, { previousSeq: revision }).catch((err: unknown) => {
      this.#log.warn({ err }, "lease: could not release (a standby takes over after the ttl)");
    });
  }

  #schedule(ms: number): void {
    if (this.#state === "stopped") return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref?.();
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#state === "stopped") return;
    this.#busy = true;
    try {
      if (this.#state === "owner") await this.#renew();
      else await this.#contend();
    } finally {
      this.#busy = false;
      this.#schedule(this.renewEveryMs);
    }
  }

  #entry(): Uint8Array {
    return encode({ holder: this.#options.holder, renewedAt: new Date().toISOString() });
  }

  async #renew(): Promise<void> {
    if (!this.isOwner()) return;
    const sentAt = performance.now();
    try {
      this.#revision = await this.#options.kv.update(this.key, this.#entry(), this.#revision);
      this.#confirmedAt = sentAt;
    } catch (err) {
      if (isWrongRevision(err)) this.#lose("taken_over", "taken over by another holder");
      else this.#log.warn({ err }, "lease: renewal failed, retrying");
    }
  }

  async #contend(): Promise<void> {
    const { kv } = this.#options;
    let entry: Awaited<ReturnType<KV["get"]>>;
    try {
      entry = await kv.get(this.key);
    } catch (err) {
      this.#log.warn({ err }, "lease: cannot read the lease");
      return;
    }
    const sentAt = performance.now();
    try {
      if (!entry || entry.operation !== "PUT") {
        this.#acquire(await kv.create(this.key, this.#entry()), sentAt);
        return;
      }
      // Still the revision this replica wrote as the owner (it lost the lease only because it could not
      // renew: NATS unreachable, the process paused): nobody took it since, or the revision would have
      // moved — take it back at once instead of waiting out its own ttl.
      if (entry.revision === this.#revision) {
        this.#acquire(await kv.update(this.key, this.#entry(), entry.revision), sentAt);
        return;
      }
      if (this.#watched?.revision !== entry.revision) {
        this.#watched = { revision: entry.revision, since: sentAt };
        return;
      }
      if (sentAt - this.#watched.since < this.ttlMs) return;
      this.#acquire(await kv.update(this.key, this.#entry(), entry.revision), sentAt);
    } catch (err) {
      // Another standby won the race (or the owner renewed): watch the new revision.
      if (!isWrongRevision(err)) this.#log.warn({ err }, "lease: could not take the lease");
    }
  }

  #acquire(revision: number, sentAt: number): void {
    if (this.#state === "stopped") {
      // Stopped while the take-over was on its way: give it back at once rather than hold an entry
      // nobody renews (a standby would wait out the ttl) or tell a stopped service to start its work.
      this.#options.kv.delete(this.key, { previousSeq: revision }).catch((err: unknown) => {
        this.#log.warn({ err }, "lease: could not release (a standby takes over after the ttl)");
      });
      return;
    }
    this.#revision = revision;
    this.#confirmedAt = sentAt;
    this.#watched = undefined;
    this.#state = "owner";
    this.#metrics.leaseOwner.set({ lease: this.key }, 1);
    this.#metrics.leaseChanges.inc({ lease: this.key, change: "acquired" });
    this.#log.info({ fencingToken: revision }, "lease acquired");
    this.emit("acquired", revision);
  }

  #lose(change: "taken_over" | "not_renewed", reason: string): void {
    if (this.#state !== "owner") return;
    this.#state = "standby";
    this.#metrics.leaseOwner.set({ lease: this.key }, 0);
    this.#metrics.leaseChanges.inc({ lease: this.key, change });
    this.#watched = undefined;
    this.#log.warn({ fencingToken: this.#revision, reason }, "lease lost");
    this.emit("lost", reason);
  }
}

/** JetStream refused a compare-and-set: the key is no longer at the expected revision (or exists). */
function isWrongRevision(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  const text = String((err as Error).message ?? err);
  return code === 10071 || code === 10164 || /wrong last sequence/i.test(text);
}

/**
 * State of owned work (a sync cursor, an outbox position) that only the current owner may change.
 * A new owner {@link claim}s it first: it rewrites the value with compare-and-set, so every write
 * of an earlier owner, which expects the revision before the claim, is refused from then on.
 */
export class FencedValue<T> {
  #revision: number | undefined;

  constructor(
    private readonly kv: KV,
    readonly key: string,
  ) {}

  /** Takes the value over for this owner and returns it (undefined when nothing was written yet). */
  async claim(): Promise<T | undefined> {
    for (;;) {
      const entry = await this.kv.get(this.key);
      const current = entry && entry.operation === "PUT" ? (entry.json() as T) : undefined;
      try {
        this.#revision =
          entry && entry.operation === "PUT"
            ? await this.kv.update(this.key, encode(current), entry.revision)
            : await this.kv.create(this.key, encode(null));
        return current ?? undefined;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
        // A write of the previous owner landed between the read and the claim: read again.
      }
    }
  }

  /** Writes as the owner that claimed it; refused (LEASE_FENCED) once another owner has claimed it. */
  async write(value: T): Promise<void> {
    if (this.#revision === undefined) throw new LeaseFencedError(this.key, "write before claim()");
    try {
      this.#revision = await this.kv.update(this.key, encode(value), this.#revision);
    } catch (err) {
      if (isWrongRevision(err))
        throw new LeaseFencedError(
          this.key,
          "another owner has claimed it since: this replica is no longer the owner",
        );
      throw err;
    }
  }
}
