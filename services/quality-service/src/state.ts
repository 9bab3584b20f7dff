/**
 * What the quality service remembers, in the KV bucket THREADLINE_QUALITY, mirrored in memory: the
 * holds (a projection of QualityHoldPlaced/Released in MFG_QUALITY), the deliveries the gate watches,
 * the open SPC episodes and frozen baseline limits, the lots each machine made, and the escapes found.
 * One replica is active at a time (runService's activeStandby), so the memory is the truth once loaded
 * (at each take-over); every change is written to the bucket before it is acted on, so a restart or
 * a standby taking over resumes where it stopped.
 *
 * Keys: `hold.<id>`, `ship.<odoo picking id>`, `episode.<characteristic>.<rule>`,
 * `limits.<characteristic>`, `machine.<site>.<line>.<machine>`, `escape.<id>`.
 */
import type { KV } from "@nats-io/kv";
import { type Lease, LeaseFencedError } from "../../../streams/src/index.js";
import type { LotKey } from "./genealogy.js";

export type HoldStatus = "ACTIVE" | "RELEASED" | "REJECTED";

export interface ProductRefJson {
  readonly code: string;
  readonly name: string | null;
  readonly odooId: string | null;
}

export interface HoldRecord {
  readonly holdId: string;
  readonly site: string;
  readonly lot: string;
  readonly product: ProductRefJson;
  readonly reason: string;
  /** ce-id of the event that caused it; null when placed by hand. */
  readonly triggeredBy: string | null;
  readonly placedBy: string;
  readonly placedAt: number;
  /** ce-id of the QualityHoldPlaced. */
  readonly eventId: string;
  readonly status: HoldStatus;
  /** The decision that ended it (QualityHoldReleased). */
  readonly decision: {
    readonly status: "RELEASED" | "REJECTED";
    readonly reason: string;
    readonly by: string;
    readonly at: number;
    readonly eventId: string;
  } | null;
}

export type GateState = "cleared" | "blocked" | "failclosed";

export interface ShipmentRecord {
  readonly pickingRef: string;
  readonly odooPickingId: string;
  readonly site: string;
  readonly customerRef: string;
  /** ce-id of the ShipmentRequested judged. */
  readonly requestId: string;
  readonly lots: readonly LotKey[];
  /** Its lots and every lot they were made from; null until the genealogy answered. */
  readonly closure: readonly LotKey[] | null;
  readonly state: GateState;
  /** The active holds that block it (blocked). */
  readonly holds: readonly string[];
  /** Why the gate failed closed (failclosed). */
  readonly failure: string | null;
  readonly wasBlocked: boolean;
  /** ce-id of the last decision published. */
  readonly decisionId: string;
  readonly decidedAt: number;
  /**
   * Why the gate stopped watching it: it left (a delivery posted) or was cancelled; null while watched.
   * Kept FINISHED_KEPT_MS, so a replay of its request publishes nothing.
   */
  readonly finished: "shipped" | "cancelled" | null;
  readonly finishedAt: number | null;
}

/** How long a delivery that left or was cancelled is remembered (a replay within it is recognised). */
export const FINISHED_KEPT_MS = 90 * 86_400_000;

export interface EpisodeRecord {
  readonly characteristic: string;
  readonly ruleId: string;
  readonly violationId: string;
  readonly startedAt: number;
  readonly startIndex: number;
  /** The lots held for it so far (a lot started on the machine during the episode is held too). */
  readonly lots: readonly LotKey[];
}

export interface LimitsRecord {
  readonly characteristic: string;
  readonly mean: number;
  readonly sigma: number;
  readonly frozenAt: number;
  readonly points: number;
}

/** A lot a machine worked on, from when to when (the last report). */
export interface MachineLot {
  readonly lot: string;
  readonly product: string;
  readonly orderRef: string | null;
  readonly from: number;
  readonly to: number;
}

export interface MachineRecord {
  readonly machine: string;
  readonly lots: readonly MachineLot[];
}

export interface EscapeRecord {
  readonly escapeId: string;
  readonly site: string;
  readonly lot: string;
  readonly product: string;
  readonly pickingRef: string | null;
  readonly holdIds: readonly string[];
  readonly postedAt: number;
  /** ce-id of the GoodsMovementPosted. */
  readonly movementId: string;
  /** ce-id of the NonconformanceRaised. */
  readonly nonconformanceId: string;
}

type Kind = "hold" | "ship" | "episode" | "limits" | "machine" | "escape";

/** A KV key token: what keys do not allow becomes `_`, and a hash keeps distinct names apart. */
export function keyToken(s: string): string {
  const safe = s.replace(/[^-_=a-zA-Z0-9]/g, "_");
  return safe === s ? s : `${safe}=${fnv(s)}`;
}

function fnv(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}

export const lotId = (k: LotKey) => `${k.product}\u0000${k.lot}`;

export class QualityState {
  readonly holds = new Map<string, HoldRecord>();
  readonly shipments = new Map<string, ShipmentRecord>();
  readonly episodes = new Map<string, EpisodeRecord>();
  readonly limits = new Map<string, LimitsRecord>();
  readonly machines = new Map<string, MachineRecord>();
  readonly escapes = new Map<string, EscapeRecord>();
  /** Hold ids that block a lot (ACTIVE, and REJECTED: blocked for good), by lotId. */
  readonly #activeByLot = new Map<string, Set<string>>();

  private constructor(
    private readonly kv: KV,
    private readonly lease: Pick<Lease, "isOwner"> | undefined,
  ) {}

  /**
   * @param lease when the service runs active/standby: every write first checks that this replica
   *   still holds it (LEASE_FENCED otherwise), so a deposed active writes nothing more.
   */
  static async load(kv: KV, now = Date.now(), lease?: Pick<Lease, "isOwner">): Promise<QualityState> {
    const state = new QualityState(kv, lease);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const key of keys) {
      const e = await kv.get(key);
      if (e?.operation !== "PUT") continue;
      const kind = key.slice(0, key.indexOf(".")) as Kind;
      const rest = key.slice(key.indexOf(".") + 1);
      state.#remember(kind, rest, e.json<unknown>());
    }
    for (const s of [...state.shipments.values()])
      if (s.finishedAt !== null && s.finishedAt < now - FINISHED_KEPT_MS)
        await state.deleteShipment(s.odooPickingId);
    return state;
  }

  #remember(kind: Kind, id: string, value: unknown): void {
    switch (kind) {
      case "hold": {
        const h = value as HoldRecord;
        this.holds.set(h.holdId, h);
        this.#index(h);
        break;
      }
      case "ship":
        this.shipments.set((value as ShipmentRecord).odooPickingId, value as ShipmentRecord);
        break;
      case "episode": {
        const e = value as EpisodeRecord;
        this.episodes.set(`${e.characteristic}.${e.ruleId}`, e);
        break;
      }
      case "limits":
        this.limits.set((value as LimitsRecord).characteristic, value as LimitsRecord);
        break;
      case "machine":
        this.machines.set(id, value as MachineRecord);
        break;
      case "escape":
        this.escapes.set((value as EscapeRecord).escapeId, value as EscapeRecord);
        break;
    }
  }

  #index(h: HoldRecord): void {
    const id = lotId({ product: h.product.code, lot: h.lot });
    const set = this.#activeByLot.get(id) ?? new Set<string>();
    if (h.status !== "RELEASED") set.add(h.holdId);
    else set.delete(h.holdId);
    if (set.size > 0) this.#activeByLot.set(id, set);
    else this.#activeByLot.delete(id);
  }

  /** The holds that block a lot: active ones, and rejected ones (scrap, rework, return: blocked for good). */
  blockingHolds(lot: LotKey): HoldRecord[] {
    const ids = this.#activeByLot.get(lotId(lot));
    return ids ? [...ids].flatMap((id) => this.holds.get(id) ?? []) : [];
  }

  /** The holds (any status) of a lot that were active at `at`. */
  holdsActiveAt(lot: LotKey, at: number): HoldRecord[] {
    return [...this.holds.values()].filter(
      (h) =>
        h.lot === lot.lot &&
        h.product.code === lot.product &&
        h.placedAt <= at &&
        (h.status === "ACTIVE" ||
          h.decision?.status === "REJECTED" ||
          (h.decision !== null && h.decision.at > at)),
    );
  }

  async putHold(h: HoldRecord): Promise<void> {
    await this.#put("hold", h.holdId, h);
    this.holds.set(h.holdId, h);
    this.#index(h);
  }

  async putShipment(s: ShipmentRecord): Promise<void> {
    await this.#put("ship", s.odooPickingId, s);
    this.shipments.set(s.odooPickingId, s);
  }

  async deleteShipment(odooPickingId: string): Promise<void> {
    if (!this.shipments.has(odooPickingId)) return;
    this.#fence(`ship.${keyToken(odooPickingId)}`);
    await this.kv.delete(`ship.${keyToken(odooPickingId)}`);
    this.shipments.delete(odooPickingId);
  }

  async putEpisode(e: EpisodeRecord): Promise<void> {
    const id = `${e.characteristic}.${e.ruleId}`;
    await this.#put("episode", id, e);
    this.episodes.set(id, e);
  }

  async deleteEpisode(characteristic: string, ruleId: string): Promise<void> {
    const id = `${characteristic}.${ruleId}`;
    if (!this.episodes.has(id)) return;
    this.#fence(`episode.${id}`);
    await this.kv.delete(`episode.${id}`);
    this.episodes.delete(id);
  }

  async putLimits(l: LimitsRecord): Promise<void> {
    await this.#put("limits", l.characteristic, l);
    this.limits.set(l.characteristic, l);
  }

  async putMachine(m: MachineRecord): Promise<void> {
    const id = keyToken(m.machine);
    await this.#put("machine", id, m);
    this.machines.set(id, m);
  }

  machine(path: string): MachineRecord | undefined {
    return this.machines.get(keyToken(path));
  }

  async putEscape(e: EscapeRecord): Promise<void> {
    await this.#put("escape", e.escapeId, e);
    this.escapes.set(e.escapeId, e);
  }

  async #put(kind: Kind, id: string, value: unknown): Promise<void> {
    const key = `${kind}.${kind === "episode" ? id : keyToken(id)}`;
    this.#fence(key);
    await this.kv.put(key, JSON.stringify(value));
  }

  #fence(key: string): void {
    if (this.lease && !this.lease.isOwner())
      throw new LeaseFencedError(key, "this replica is no longer the active one: nothing more is written");
  }
}
