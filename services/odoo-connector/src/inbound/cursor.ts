/**
 * The compound cursor of one synced model: `(second, id)` on a transaction-time field (`write_date`
 * or `create_date`), kept in the connector's KV bucket under `odoo-connector.<db>.<model>` together
 * with the versions of the records read within the overlap window.
 *
 * Why it reads the way it does:
 * - Odoo stamps `write_date` with the TRANSACTION START time. A long transaction commits rows whose
 *   write_date is older than rows already read, so every pass starts `overlapMs` before the cursor and
 *   skips the record versions it already handled (`seen`: id → digest of the fields read, grouped by
 *   second and pruned once out of the window). Content-derived event ids are the second line: a
 *   version handled again (a lost KV update) publishes the same ids, which JetStream drops.
 * - Odoo reads datetimes to the second but compares them as stored: up to 18 `write_date > 'S'` also
 *   matches rows written at S.3, from 19 comparisons truncate to the second. And `order write_date`
 *   sorts by the stored sub-second, so ids are not increasing within a shown second. A cursor domain
 *   like `write_date > S or (write_date = S and id > I)` therefore loops on ≤18 when more rows than a
 *   page share a second, and skips rows on 19. This module only ever asks for whole-second ranges:
 *   seconds from S on (`>= S`, `order <field>, id`), of which only the seconds a page holds completely
 *   are taken; the second a full page ends in is then read by id (`>= S`, `< S+1`, `id > I`,
 *   `order id`) before going on from S+1. Both behave the same under either comparison, and a pass
 *   that finds nothing new costs one request per model.
 */
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { ThreadlineError } from "../../../../contracts/src/index.js";
import type { OdooClient } from "../odoo/client.js";
import type { OdooRow } from "./values.js";

/** `YYYY-MM-DD HH:MM:SS`, as Odoo shows datetimes (UTC). */
export type OdooSecond = string;

export const EPOCH: OdooSecond = "1970-01-01 00:00:00";

export function toSecond(d: Date): OdooSecond {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function fromSecond(s: OdooSecond): Date {
  return new Date(`${s.replace(" ", "T")}Z`);
}

export function addMs(s: OdooSecond, ms: number): OdooSecond {
  const t = fromSecond(s).getTime() + ms;
  return t <= 0 ? EPOCH : toSecond(new Date(t));
}

/** The shown second of a row's cursor field (Odoo reads datetimes without sub-seconds anyway). */
export function secondOf(row: OdooRow, field: string): OdooSecond {
  const v = row[field];
  return typeof v === "string" && v.length >= 19 ? v.slice(0, 19) : EPOCH;
}

/** A short digest of a record as read: a different digest means a different version. */
export function digestOf(row: OdooRow): string {
  return createHash("sha256").update(stableJson(row)).digest("base64url").slice(0, 10);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

interface StoredCursor {
  v: 1;
  field: string;
  /** Highest second read so far. */
  at: OdooSecond | null;
  /** second → id → digest of the version read, for the seconds within the overlap window. */
  seen: Record<OdooSecond, Record<string, string>>;
  updatedAt: string;
}

/** The cursor of one model, as loaded (with the KV revision it must be saved against). */
export class Cursor {
  private dirty = false;

  private constructor(
    readonly key: string,
    readonly field: string,
    private at: OdooSecond | null,
    private readonly seen: Map<OdooSecond, Map<number, string>>,
    private revision: number,
  ) {}

  static async load(kv: KV, key: string, field: string): Promise<Cursor> {
    const entry = await kv.get(key);
    if (entry?.operation !== "PUT" || entry.length === 0)
      return new Cursor(key, field, null, new Map(), entry?.revision ?? 0);
    const stored = entry.json<StoredCursor>();
    const seen = new Map<OdooSecond, Map<number, string>>();
    // A cursor on another field (the source changed) only keeps its position.
    if (stored.field === field)
      for (const [second, ids] of Object.entries(stored.seen ?? {}))
        seen.set(second, new Map(Object.entries(ids).map(([id, d]) => [Number(id), d])));
    return new Cursor(key, field, stored.at ?? null, seen, entry.revision);
  }

  /** Highest second read so far; null before the first record. */
  get position(): OdooSecond | null {
    return this.at;
  }

  /** Record versions remembered (bounded by `maxSeen`). */
  get seenCount(): number {
    let n = 0;
    for (const ids of this.seen.values()) n += ids.size;
    return n;
  }

  /** Whether this version of the record was handled already. */
  handled(second: OdooSecond, id: number, digest: string): boolean {
    return this.seen.get(second)?.get(id) === digest;
  }

  /** Notes versions as handled and moves the position forward (never back). */
  record(entries: readonly { second: OdooSecond; id: number; digest: string }[]): void {
    for (const e of entries) {
      let ids = this.seen.get(e.second);
      if (!ids) {
        ids = new Map();
        this.seen.set(e.second, ids);
      }
      ids.set(e.id, e.digest);
      this.dirty = true;
    }
  }

  advance(second: OdooSecond): void {
    if (this.at === null || second > this.at) {
      this.at = second;
      this.dirty = true;
    }
  }

  /**
   * Forgets versions older than the overlap window, and the oldest beyond `maxSeen` (then a version
   * read again is only deduplicated by its event ids). Returns how many were dropped for the cap.
   */
  prune(overlapMs: number, maxSeen: number): number {
    if (this.at === null) return 0;
    const floor = addMs(this.at, -overlapMs);
    for (const second of [...this.seen.keys()])
      if (second < floor) {
        this.seen.delete(second);
        this.dirty = true;
      }
    let excess = this.seenCount - maxSeen;
    const dropped = Math.max(0, excess);
    for (const second of [...this.seen.keys()].sort()) {
      if (excess <= 0) break;
      excess -= this.seen.get(second)?.size ?? 0;
      this.seen.delete(second);
      this.dirty = true;
    }
    return dropped;
  }

  /**
   * Saves by compare-and-set; throws CursorConflictError when another process saved it meanwhile (two
   * connectors syncing the same database: their events share ids, so nothing is stored twice).
   */
  async save(kv: KV): Promise<boolean> {
    if (!this.dirty) return false;
    const seen: StoredCursor["seen"] = {};
    for (const second of [...this.seen.keys()].sort()) {
      const ids: Record<string, string> = {};
      for (const [id, d] of this.seen.get(second) ?? []) ids[String(id)] = d;
      seen[second] = ids;
    }
    const value: StoredCursor = {
      v: 1,
      field: this.field,
      at: this.at,
      seen,
      updatedAt: new Date().toISOString(),
    };
    const data = JSON.stringify(value);
    try {
      this.revision =
        this.revision === 0
          ? await kv.create(this.key, data)
          : await kv.update(this.key, data, this.revision);
    } catch (err) {
      throw new CursorConflictError(this.key, err);
    }
    this.dirty = false;
    return true;
  }
}

export class CursorConflictError extends ThreadlineError {
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(
      "CONNECTOR_CURSOR_CONFLICT",
      `the cursor ${key} was changed by someone else (another connector syncing the same Odoo database?) ` +
        `or could not be saved: ${(cause as Error)?.message ?? String(cause)}; it is re-read on the next pass`,
      { cause },
    );
  }
}

export interface ReadOptions {
  readonly model: string;
  readonly field: string;
  readonly domain: readonly unknown[];
  readonly fields: readonly string[];
  readonly pageSize: number;
  /** First second to read (the cursor minus the overlap). */
  readonly from: OdooSecond;
  /** Stops between pages when it returns true. */
  readonly stopped?: () => boolean;
}

/**
 * Reads every record whose cursor field is at or after `from`, oldest second first, in pages, and
 * hands each page to `onPage` (awaited: a page is done before the next is read). Returns the number
 * of records read.
 */
export async function readChanges(
  client: OdooClient,
  o: ReadOptions,
  onPage: (rows: OdooRow[]) => Promise<void>,
): Promise<number> {
  const fields = [...new Set([...o.fields, o.field])];
  let read = 0;
  /** Reading `second` by id, after `afterId` (a later-seconds page ended inside it). */
  let inSecond = false;
  let second = o.from;
  let afterId = 0;
  for (;;) {
    if (o.stopped?.()) return read;
    let lower = second;
    if (inSecond) {
      // 1. The rest of the current second, by id.
      const next = addMs(second, 1000);
      const same = await client.searchRead<OdooRow>(
        o.model,
        [...o.domain, [o.field, ">=", second], [o.field, "<", next], ["id", ">", afterId]],
        { fields, order: "id asc", limit: o.pageSize },
      );
      if (same.length > 0) {
        read += same.length;
        await onPage(same);
        afterId = (same[same.length - 1] as OdooRow).id;
        if (same.length === o.pageSize) continue;
      }
      if (o.stopped?.()) return read;
      lower = next;
    }
    // 2. This second (at the start) or the later ones, in the field's order; the last second of a
    //    full page may be partial: it is read again by id.
    const later = await client.searchRead<OdooRow>(o.model, [...o.domain, [o.field, ">=", lower]], {
      fields,
      order: `${o.field} asc, id asc`,
      limit: o.pageSize,
    });
    if (later.length === 0) return read;
    if (later.length < o.pageSize) {
      read += later.length;
      await onPage(later);
      return read;
    }
    const last = secondOf(later[later.length - 1] as OdooRow, o.field);
    const complete = later.filter((r) => secondOf(r, o.field) !== last);
    if (complete.length > 0) {
      read += complete.length;
      await onPage(complete);
    }
    inSecond = true;
    second = last;
    afterId = 0;
  }
}
