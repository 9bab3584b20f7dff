/**
 * Where the orchestrator keeps each order's process: the KV bucket THREADLINE_ORDERS, one key per
 * order (`order.<ref>`), each line's open stops (`line.<line>`) and which order a lot belongs to
 * (`lot.<lot>`). Every write is a compare-and-set on the revision read, so two handlers (or two
 * replicas) touching one order never lose each other's change: the loser reads again and re-applies.
 */
import type { KV } from "@nats-io/kv";
import { type Lease, LeaseFencedError, RetryableError } from "../../../streams/src/index.js";
import type { OrderState } from "./process.js";

/** A KV key token: what keys do not allow becomes `_` (WH/MO/00042 → WH/MO/00042 stays: `/` is allowed). */
const token = (s: string) => s.replace(/[^-/_=a-zA-Z0-9]/g, "_");
export const orderKey = (ref: string) => `order.${token(ref)}`;
export const lineKey = (line: string) => `line.${token(line)}`;
export const lotKey = (lot: string) => `lot.${token(lot)}`;

/** A line's stops still open: downtime id → since (ms) and reason. */
export interface LineStops {
  readonly line: string;
  readonly open: Readonly<
    Record<string, { readonly since: number; readonly reason: string; readonly machine: string | null }>
  >;
}

const CAS_ATTEMPTS = 5;

export class OrderStore {
  /**
   * @param lease when the service runs active/standby: every write first checks that this replica
   *   still holds it (LEASE_FENCED otherwise, and the event goes back to the stream for the new active).
   */
  constructor(
    readonly kv: KV,
    private readonly lease?: Pick<Lease, "isOwner">,
  ) {}

  #fence(key: string): void {
    if (this.lease && !this.lease.isOwner())
      throw new LeaseFencedError(key, "this replica is no longer the active one: nothing more is written");
  }

  async order(ref: string): Promise<OrderState | undefined> {
    const e = await this.kv.get(orderKey(ref));
    return e?.operation === "PUT" ? e.json<OrderState>() : undefined;
  }

  /** Every order kept (a plant's open and recent orders: tens to a few thousand). */
  async orders(): Promise<OrderState[]> {
    const out: OrderState[] = [];
    for await (const k of await this.kv.keys("order.>")) {
      const e = await this.kv.get(k);
      if (e?.operation === "PUT") out.push(e.json<OrderState>());
    }
    return out;
  }

  async orderOfLot(lot: string): Promise<string | undefined> {
    const e = await this.kv.get(lotKey(lot));
    return e?.operation === "PUT" ? e.string() : undefined;
  }

  async rememberLot(lot: string, ref: string): Promise<void> {
    this.#fence(lotKey(lot));
    await this.kv.put(lotKey(lot), ref);
  }

  async lineStops(): Promise<LineStops[]> {
    const out: LineStops[] = [];
    for await (const k of await this.kv.keys("line.>")) {
      const e = await this.kv.get(k);
      if (e?.operation === "PUT") out.push(e.json<LineStops>());
    }
    return out;
  }

  /**
   * Read-modify-write of an order; `fn` returns the new state, or undefined to write nothing. `fn` may
   * act before it returns (publish what the transition says): a conflict runs it again on what the
   * other writer stored, so its effects must be idempotent (derived ids).
   */
  async updateOrder<R>(
    ref: string,
    fn: (current: OrderState | undefined) => Promise<{ state: OrderState | undefined; result: R }>,
  ): Promise<R> {
    return this.cas(orderKey(ref), async (raw) => {
      const { state, result } = await fn(raw === undefined ? undefined : (JSON.parse(raw) as OrderState));
      return { value: state === undefined ? undefined : JSON.stringify(state, bigints), result };
    });
  }

  async updateLine(line: string, fn: (current: LineStops) => LineStops): Promise<LineStops> {
    return this.cas(lineKey(line), async (raw) => {
      const next = fn(raw === undefined ? { line, open: {} } : (JSON.parse(raw) as LineStops));
      return { value: JSON.stringify(next), result: next };
    });
  }

  private async cas<R>(
    key: string,
    fn: (raw: string | undefined) => Promise<{ value: string | undefined; result: R }>,
  ): Promise<R> {
    let lastError: unknown;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // Checked before the transition (which publishes) and again before the write (it may be slow).
      this.#fence(key);
      const e = await this.kv.get(key);
      const raw = e?.operation === "PUT" ? e.string() : undefined;
      const { value, result } = await fn(raw);
      if (value === undefined) return result;
      this.#fence(key);
      try {
        if (e) await this.kv.update(key, value, e.revision);
        else await this.kv.create(key, value);
        return result;
      } catch (err) {
        lastError = err; // another writer won: read again
      }
    }
    throw new RetryableError(
      "ORCHESTRATOR_STATE_CONFLICT",
      `${key} kept changing under ${CAS_ATTEMPTS} compare-and-set attempts: ${String((lastError as Error)?.message ?? lastError)}`,
    );
  }
}

/** JSON of a state: bigints (none expected, but a payload may carry one) as strings. */
function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
