/**
 * What every master-data source shares: the refusal of a record the connector cannot vouch for, the
 * reading of a field with its expected shape, exact ratios, and the emission of a record's current
 * version.
 *
 * A master-data message is a record's whole current version, published on its own subject
 * `mfg.masterdata.<kind>.<site>.<odoo id>` (the id takes the line slot of the subject: MFG_MASTERDATA
 * keeps one message per subject, so the key must be in it). Its id derives from the content, the
 * write dates included: the same version read again (an overlap, a restart, a BoM read through one of
 * its lines) gets the same id and the stream drops it; a changed record — even one changed back to
 * an earlier content — has a later write date, hence a new id, and replaces the previous version.
 *
 * A record that does not fit (a field of an unknown shape, a unit ratio of zero or with more places
 * than an exact decimal carries, a BoM cycle) is refused: it becomes a {@link Refusal} holding the
 * record as read, which the sync logs, counts (`threadline_odoo_masterdata_refused_total`) and
 * dead-letters (`mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound`, ../dead-letters.ts), and nothing is
 * published for it, so readers keep its last valid version.
 */
import { createHash } from "node:crypto";
import {
  type CatalogedErrorCode,
  type EventPayloads,
  ThreadlineError,
} from "../../../../../contracts/src/index.js";
import type { Emission, MappingContext, MasterDataType, Refusal } from "../source.js";
import { m2oId, type OdooRow, odooDate } from "../values.js";

/** Why a master-data record is refused. Codes are stable (contracts/src/error-catalog.ts). */
export const MasterDataErrorCode = {
  ShapeUnknown: "CONNECTOR_MASTERDATA_SHAPE_UNKNOWN",
  UnitFactorZero: "CONNECTOR_UNIT_FACTOR_ZERO",
  UnitFactorInexact: "CONNECTOR_UNIT_FACTOR_INEXACT",
  BomCycle: "CONNECTOR_BOM_CYCLE",
} as const satisfies Record<string, CatalogedErrorCode>;
export type MasterDataErrorCode = (typeof MasterDataErrorCode)[keyof typeof MasterDataErrorCode];

/**
 * A record refused, thrown while mapping it ({@link mapEach} turns it into its {@link Refusal}): never
 * published; the reason names the record and what is wrong with it.
 */
export class MasterDataRefusal extends ThreadlineError {
  constructor(
    code: MasterDataErrorCode,
    readonly model: string,
    readonly odooId: number,
    readonly reason: string,
  ) {
    super(code, `${model} ${odooId} refused: ${reason}`);
  }
}

/** Raised while mapping one record; turned into its refusal by {@link mapEach}. */
class ShapeError extends Error {}

/** Reads archived records too: readers must learn that a product was archived. */
export const ACTIVE_AND_ARCHIVED: unknown[] = [["active", "in", [true, false]]];

/** A required char field. */
export function requiredText(row: OdooRow, field: string): string {
  const v = row[field];
  if (typeof v !== "string" || v === "") throw new ShapeError(`${field} is ${shown(v)}, not a text`);
  return v;
}

/** An optional char field: Odoo's `false` is null. */
export function optionalText(row: OdooRow, field: string): string | null {
  const v = row[field];
  if (v === false || v === null || v === undefined || v === "") return null;
  if (typeof v !== "string") throw new ShapeError(`${field} is ${shown(v)}, not a text or false`);
  return v;
}

export function bool(row: OdooRow, field: string): boolean {
  const v = row[field];
  if (typeof v !== "boolean") throw new ShapeError(`${field} is ${shown(v)}, not a boolean`);
  return v;
}

export function float(row: OdooRow, field: string): number {
  const v = row[field];
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new ShapeError(`${field} is ${shown(v)}, not a number`);
  return v;
}

export function integer(row: OdooRow, field: string): number {
  const v = row[field];
  if (v === false) return 0;
  if (typeof v !== "number" || !Number.isInteger(v))
    throw new ShapeError(`${field} is ${shown(v)}, not an integer`);
  return v;
}

/** A selection field whose value must be one of `symbols`. */
export function selection<S extends string>(row: OdooRow, field: string, symbols: readonly S[]): S {
  const v = row[field];
  if (typeof v !== "string" || !(symbols as readonly string[]).includes(v))
    throw new ShapeError(`${field} is ${shown(v)}, not one of ${symbols.join(", ")}`);
  return v as S;
}

/** A required many2one: its id. */
export function requiredRef(row: OdooRow, field: string): number {
  const id = m2oId(row[field]);
  if (id === null) throw new ShapeError(`${field} is ${shown(row[field])}, not a record reference`);
  return id;
}

/** An optional many2one: its id, or null for Odoo's `false`. */
export function optionalRef(row: OdooRow, field: string): number | null {
  const v = row[field];
  if (v === false || v === null || v === undefined) return null;
  const id = m2oId(v);
  if (id === null) throw new ShapeError(`${field} is ${shown(v)}, not a record reference or false`);
  return id;
}

/** A datetime field (write_date). */
export function datetime(row: OdooRow, field: string): Date {
  const d = odooDate(row[field]);
  if (!d) throw new ShapeError(`${field} is ${shown(row[field])}, not an Odoo datetime`);
  return d;
}

/** The later of some dates. */
export function latest(dates: readonly Date[]): Date {
  return new Date(Math.max(...dates.map((d) => d.getTime())));
}

/** Refuses a record whose shape is unknown, naming what is wrong. */
export function shapeError(what: string): Error {
  return new ShapeError(what);
}

/**
 * Odoo float → the schemas' exact decimal (6 places), when the float is one: within a relative 1e-9
 * of its 6-place rounding (what a ratio typed in Odoo and inverted once in floats stays within).
 * Undefined when it is not — a ratio like 1/3 that no exact decimal of 6 places carries.
 */
export function exactDecimal(v: number): string | undefined {
  const rounded = Math.round(v * 1e6) / 1e6;
  if (Math.abs(rounded - v) > Math.abs(v) * 1e-9) return undefined;
  const fixed = rounded.toFixed(6);
  return fixed === "-0.000000" ? "0.000000" : fixed;
}

/**
 * Maps each record of `model` (published as `type`) with `one`, turning a record of an unknown shape
 * (or another refusal) into its refusal, with the record as read, instead of failing the page: one bad
 * record never holds back the others.
 */
export async function mapEach<T>(
  rows: readonly OdooRow[],
  model: string,
  type: MasterDataType,
  one: (row: OdooRow) => T | Promise<T>,
): Promise<{ values: T[]; refusals: Refusal[] }> {
  const values: T[] = [];
  const refusals: Refusal[] = [];
  for (const row of rows) {
    try {
      values.push(await one(row));
    } catch (err) {
      const refusal =
        err instanceof MasterDataRefusal
          ? err
          : err instanceof ShapeError
            ? new MasterDataRefusal(MasterDataErrorCode.ShapeUnknown, model, row.id, err.message)
            : undefined;
      if (!refusal) throw err;
      const { code, odooId, reason, message } = refusal;
      refusals.push({ code, model: refusal.model, odooId, reason, message, record: row, eventType: type });
    }
  }
  return { values, refusals };
}

/**
 * The emission of a record's current version: on `mfg.masterdata.<kind>.<site>.<odoo id>`, with
 * the record's human key as ce-subject and an id derived from the whole content.
 */
export function masterDataEmission<K extends MasterDataType>(
  ctx: MappingContext,
  type: K,
  model: string,
  payload: EventPayloads[K],
  key: string,
): Emission {
  const p = payload as EventPayloads[K] & { odooId: bigint; updatedAt: Date };
  return {
    type,
    payload,
    key,
    line: String(p.odooId),
    id: ctx.eventId(model, String(p.odooId), contentDigest(payload)),
    time: p.updatedAt,
  } as Emission;
}

/** A short, stable digest of a payload (bigints, dates and nested records included). */
export function contentDigest(payload: unknown): string {
  return createHash("sha256").update(stable(payload)).digest("base64url").slice(0, 16);
}

function stable(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Date) return `@${v.toISOString()}`;
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "undefined";
}

function shown(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
