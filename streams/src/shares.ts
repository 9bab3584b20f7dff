/**
 * Work items spread over the replicas that want them, each item owned by one replica at a time: the
 * endpoints of a machine bridge, the partitions of an ordered durable.
 *
 * ```ts
 * const shares = new WorkShares({ kv, group: "machine-bridge.lyon", items: ["opc-1", "opc-2"], holder });
 * shares.on("acquired", (item, token) => startEndpoint(item, token));
 * shares.on("lost", (item, reason) => stopEndpoint(item, reason));
 * shares.start();
 * ```
 *
 * Each item is a {@link Lease} (`lease.<group>.<item>`), so ownership, expiry and the guarantee of one
 * owner at a time are the lease's. On top of it:
 * - Every replica announces itself in `member.<group>.<holder>` on each round, with how many items it
 *   owns. A member whose entry has not changed for `ttlMs` (on the reader's own clock, as the lease
 *   does) no longer counts; one silent for {@link STALE_MEMBER_TTLS} ttls is deleted.
 * - A replica's fair share is ceil(items / live members). Every replica stands by for every item it
 *   does not own, so an item whose owner died is taken within the lease's ttl by whoever sees it
 *   first, whatever the shares. A replica over its share releases one item per round, and only while
 *   some live member holds fewer than its share (someone will take it); it then does not contend for
 *   that item for a ttl, so the item goes to that member instead of coming back.
 * - With one replica it owns everything; a replica joining takes its share in about one round per
 *   item it takes; a replica leaving (stop) releases everything at once.
 * - An item given up to make room is wound down first (`beforeRelease`), while its lease is still held
 *   and renewed: work running on it finishes as the owner's, not as a deposed one's, and the next owner
 *   takes it only afterwards. One such release at a time, off the rounds (which keep this replica's
 *   member entry fresh meanwhile).
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { KV } from "@nats-io/kv";
import type { Registry } from "prom-client";
import { Lease } from "./lease.js";
import { type Logger, silentLogger } from "./logger.js";

export interface WorkSharesOptions {
  /** The bucket of leases and members (history 1 is enough). */
  readonly kv: KV;
  /** What the items belong to, e.g. `machine-bridge.lyon` (KV key characters). */
  readonly group: string;
  /** The work items: KV key tokens (letters, digits, `-`, `_`, `=`). */
  readonly items: readonly string[];
  /** Who this replica is: unique per process (e.g. `<pod>:<pid>`); sanitised into a key token. */
  readonly holder: string;
  /** A killed, paused or partitioned owner's items are taken over after about this. @default 15000 */
  readonly ttlMs?: number;
  /** How often leases are renewed and shares looked at. Under ttlMs / 2. @default ttlMs / 3 */
  readonly renewEveryMs?: number;
  readonly logger?: Logger;
  /** Where the leases' metrics go. @default the process's registry */
  readonly registry?: Registry;
  /**
   * Winds an item's work down before this replica gives the item up to make room for another (not
   * when its lease is lost: that is "lost" at once). Should settle within a bounded time; a rejection
   * is logged and the item released anyway. @default nothing to wind down
   */
  readonly beforeRelease?: (item: string) => Promise<void>;
}

interface WorkSharesEvents {
  /** This replica now owns the item; the token orders its owners. */
  acquired: [item: string, token: number];
  /** This replica no longer owns the item: released, taken over, or not renewed in time. */
  lost: [item: string, reason: string];
}

/** A member entry unchanged for this many ttls is deleted (a replica that died without stopping). */
export const STALE_MEMBER_TTLS = 10;

const KEY_TOKEN = /^[-\w=]+$/;

interface MemberEntry {
  readonly holder: string;
  readonly owned: number;
}

interface SeenMember {
  revision: number;
  since: number;
  owned: number;
}

export class WorkShares extends EventEmitter<WorkSharesEvents> {
  readonly group: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly #options: WorkSharesOptions;
  readonly #log: Logger;
  readonly #memberKey: string;
  /** Per item, the lease this replica holds or stands by with; none while it keeps off the item. */
  readonly #leases = new Map<string, Lease>();
  /** Items released to make room, with when (monotonic ms): not contended for a ttl. */
  readonly #released = new Map<string, number>();
  readonly #members = new Map<string, SeenMember>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();
  /** The release under way (wind-down, then the lease given up), if any. */
  #releasing: Promise<void> | undefined;

  constructor(options: WorkSharesOptions) {
    super();
    this.#options = options;
    this.group = options.group;
    this.ttlMs = options.ttlMs ?? 15_000;
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(this.ttlMs / 3);
    for (const item of options.items)
      if (!KEY_TOKEN.test(item))
        throw new RangeError(`work item ${JSON.stringify(item)} is not a KV key token`);
    if (new Set(options.items).size !== options.items.length)
      throw new RangeError(`work items of ${options.group} are not unique`);
    this.#memberKey = `member.${options.group}.${options.holder.replace(/[^-\w=]/g, "_")}`;
    this.#log = (options.logger ?? silentLogger).child({ shares: options.group, holder: options.holder });
  }

  /** Starts: announces this replica and stands by for every item (at once, then every renewEveryMs). */
  start(): void {
    if (this.#stopped) throw new Error("stopped work shares cannot start again");
    for (const item of this.#options.items) this.#standBy(item);
    this.#schedule(0);
  }

  /** The items this replica owns now. */
  owned(): string[] {
    return [...this.#leases].filter(([, lease]) => lease.state === "owner").map(([item]) => item);
  }

  /** True while this replica owns the item and no other replica can have taken it (Lease.isOwner). */
  isOwner(item: string): boolean {
    return this.#leases.get(item)?.isOwner() ?? false;
  }

  /** The fencing token of an owned item. */
  token(item: string): number | undefined {
    return this.#leases.get(item)?.token;
  }

  /** Live replicas of the group as last seen (this one included). */
  liveMembers(): number {
    const now = performance.now();
    let live = 0;
    for (const [key, m] of this.#members) if (key === this.#memberKey || now - m.since < this.ttlMs) live++;
    return Math.max(live, 1);
  }

  /** Releases every owned item (each "lost" with reason "released") and leaves the group. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
    await this.#releasing;
    const leases = [...this.#leases.values()];
    this.#leases.clear();
    await Promise.all(leases.map((lease) => lease.stop()));
    await this.#options.kv.delete(this.#memberKey).catch((err: unknown) => {
      this.#log.warn({ err }, "work shares: could not leave the group (counted for a ttl more)");
    });
  }

  #standBy(item: string): void {
    const lease = new Lease({
      kv: this.#options.kv,
      key: `lease.${this.group}.${item}`,
      holder: this.#options.holder,
      ttlMs: this.ttlMs,
      renewEveryMs: this.renewEveryMs,
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
      ...(this.#options.registry ? { registry: this.#options.registry } : {}),
    });
    lease.on("acquired", (token) => this.emit("acquired", item, token));
    lease.on("lost", (reason) => this.emit("lost", item, reason));
    this.#leases.set(item, lease);
    lease.start();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.#rebalance()
        .catch((err: unknown) => this.#log.warn({ err }, "work shares: round failed, retrying"))
        .finally(() => this.#schedule(this.renewEveryMs));
    }, ms);
    this.#timer.unref?.();
  }

  async #rebalance(): Promise<void> {
    const owned = this.owned();
    const entry: MemberEntry = { holder: this.#options.holder, owned: owned.length };
    await this.#options.kv.put(this.#memberKey, new TextEncoder().encode(JSON.stringify(entry)));
    await this.#readMembers();
    if (this.#stopped) return;
    const now = performance.now();
    for (const [item, at] of this.#released)
      if (now - at >= this.ttlMs && !this.#leases.has(item)) {
        this.#released.delete(item);
        this.#standBy(item);
      }
    const share = Math.ceil(this.#options.items.length / this.liveMembers());
    if (this.#releasing || owned.length <= share || !this.#someoneBelow(share)) return;
    const item = owned.sort().at(-1) as string;
    this.#log.info(
      { item, owned: owned.length, share },
      "work shares: releasing an item over this replica's share",
    );
    this.#releasing = this.#release(item).finally(() => {
      this.#releasing = undefined;
    });
  }

  /** Winds the item down while still its owner, then gives up its lease and keeps off it for a ttl. */
  async #release(item: string): Promise<void> {
    await this.#options.beforeRelease?.(item).catch((err: unknown) => {
      this.#log.warn({ err, item }, "work shares: winding an item down failed; releasing it anyway");
    });
    const lease = this.#leases.get(item);
    if (lease?.state !== "owner" || this.#stopped) return; // lost meanwhile, or stop() releases it
    this.#leases.delete(item);
    this.#released.set(item, performance.now());
    await lease.stop();
  }

  async #readMembers(): Promise<void> {
    const { kv } = this.#options;
    const now = performance.now();
    const keys: string[] = [];
    for await (const key of await kv.keys(`member.${this.group}.*`)) keys.push(key);
    for (const key of this.#members.keys()) if (!keys.includes(key)) this.#members.delete(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") {
        this.#members.delete(key);
        continue;
      }
      const seen = this.#members.get(key);
      const owned = (entry.json() as MemberEntry).owned;
      if (seen?.revision !== entry.revision)
        this.#members.set(key, { revision: entry.revision, since: now, owned });
      else if (now - seen.since > STALE_MEMBER_TTLS * this.ttlMs) {
        await kv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
        this.#members.delete(key);
      }
    }
  }

  /** Some other live member holds fewer items than the share: an item released now will be taken. */
  #someoneBelow(share: number): boolean {
    const now = performance.now();
    for (const [key, m] of this.#members)
      if (key !== this.#memberKey && now - m.since < this.ttlMs && m.owned < share) return true;
    return false;
  }
}
