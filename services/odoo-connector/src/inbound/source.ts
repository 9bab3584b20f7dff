/**
 * What a synced Odoo model is to the inbound sync: which records to read (domain, fields, the cursor
 * field), what they become (events, and per-record state written once those events are acknowledged),
 * and which webhook models should re-read it.
 */
import type { EventPayloads, EventType } from "../../../../contracts/src/index.js";
import { derivedEventId } from "../../../../streams/src/index.js";
import type { OdooFields } from "../fields.js";
import type { OdooClient } from "../odoo/client.js";
import type { OdooRow, RelatedRecords } from "./values.js";

/** One event to publish, typed by the catalog. */
export type Emission = {
  [K in EventType]: {
    readonly type: K;
    readonly payload: EventPayloads[K];
    /** ce-subject: the business key (order, lot, picking). */
    readonly key: string;
    /** Line token of the subject, when the event concerns a line. */
    readonly line?: string;
    /** Content-derived id: the same Odoo fact always gets the same id (see eventId). */
    readonly id: string;
    readonly time: Date;
  };
}[EventType];

/** A per-record state change in the connector's KV bucket; `value: null` deletes the key. */
export interface StateWrite {
  readonly key: string;
  readonly value: unknown;
}

/** What a page of records becomes. */
export interface PageResult {
  /** In publishing order; events with the same key are published one after the other. */
  readonly events: Emission[];
  /** Written after every event of the page is acknowledged by JetStream. */
  readonly writes: StateWrite[];
  /**
   * Records refused (master data of an unknown shape, a zero unit ratio, a BoM cycle): nothing is
   * published for them; the sync logs, counts and dead-letters each (dead-letters.ts). @default none
   */
  readonly refusals?: readonly Refusal[];
}

/** The master-data event types (stream MFG_MASTERDATA). */
export type MasterDataType = Extract<EventType, `mfg.masterdata.${string}`>;

/** A record the mapping refused, with its catalogued code, the reason, and the record as read. */
export interface Refusal {
  readonly code: string;
  readonly model: string;
  readonly odooId: number;
  readonly reason: string;
  /** `<model> <id> refused: <reason>`. */
  readonly message: string;
  /** The Odoo record as read (the fields its source reads): the dead letter's body. */
  readonly record: OdooRow;
  /** The event it would have become: its dead letter names that stream and subject. */
  readonly eventType: MasterDataType;
}

/** Read access to per-record state (MO snapshots). */
export interface StateReader {
  get<T>(key: string): Promise<T | undefined>;
}

export interface MappingContext {
  readonly site: string;
  /** The Odoo database: part of every event id and state key. */
  readonly db: string;
  readonly fields: OdooFields;
  readonly client: OdooClient;
  /** Related records, cached for the page. */
  readonly related: RelatedRecords;
  /** Odoo work center code → line token; a code not listed is its own line token. */
  readonly lineByWorkcenter: Readonly<Record<string, string>>;
  readonly state: StateReader;
  /** Whether the server has an optional field (one a source lists in `optionalFields`). */
  has(model: string, field: string): boolean;
  /** The per-record state key `odoo-connector.<db>.<parts…>`. */
  stateKey(...parts: readonly (string | number)[]): string;
  /** The content-derived event id of an Odoo fact: `derivedEventId("odoo-connector", db, …parts)`. */
  eventId(...parts: readonly (string | number)[]): string;
}

export interface InboundSource {
  /** The Odoo model read. */
  readonly model: string;
  /**
   * The transaction-time field the cursor follows: `write_date` (every change) or `create_date`
   * (creations only).
   */
  readonly cursorField: "write_date" | "create_date";
  /**
   * The synced model this source serves when it reads another model to follow it (mrp.production's
   * component moves): the `models` option and `syncNow(model)` select it with that model, and its
   * cursor, reports and metrics go by `sourceName` ("mrp.production/stock.move"). @default none
   */
  readonly follows?: string;
  /** Models whose webhook (or `trigger(model)`) makes this source re-read at once. */
  readonly triggeredBy: readonly string[];
  /** Reference data (master data): polled every referencePollIntervalMs, not pollIntervalMs. */
  readonly referenceData?: boolean;
  /** Fields read only when the server has them (installed modules differ): model → fields. */
  readonly optionalFields?: Readonly<Record<string, readonly string[]>>;
  /** Restricts the records read (ANDed with the cursor's terms). */
  domain(ctx: MappingContext): unknown[];
  /** Fields read (the cursor field is added). */
  fields(ctx: MappingContext): string[];
  /** Maps records that are new or changed since they were last read. */
  map(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult>;
}

/** A source's name: its model, or `<follows>/<model>` for a source following another model. */
export function sourceName(source: Pick<InboundSource, "model" | "follows">): string {
  return source.follows ? `${source.follows}/${source.model}` : source.model;
}

/** The synced model a source belongs to (what the `models` option names). */
export function syncedModel(source: Pick<InboundSource, "model" | "follows">): string {
  return source.follows ?? source.model;
}

/** Characters a KV key may hold besides letters and digits: `-/_=.` */
export function kvToken(value: string | number): string {
  return String(value).replace(/[^-/_=.a-zA-Z0-9]/g, "_");
}

export const SERVICE = "odoo-connector";

export function stateKeyFor(db: string, parts: readonly (string | number)[]): string {
  return [SERVICE, kvToken(db), ...parts.map(kvToken)].join(".");
}

export function eventIdFor(db: string, parts: readonly (string | number)[]): string {
  return derivedEventId(SERVICE, db, ...parts);
}
