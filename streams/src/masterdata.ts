/**
 * Master data (units, products, BoMs, work centres, locations, partners) as a service reads it: the
 * current version of every record at start-up, then every change, with typed lookups.
 *
 * ```ts
 * const md = MasterData.open(nc, { kinds: ["unit", "product", "bom"] });
 * await md.ready;                                   // every current record is loaded
 * md.product("BRK-220")?.unit;                      // "Units"
 * md.unit("kg")?.category;                          // "Weight" (Odoo 16-18)
 * md.bomOf(productId)?.lines;                       // the BoM Odoo would pick for it
 * md.onChange((c) => log.info({ kind: c.kind, key: c.value.odooId }, "master data changed"));
 * await md.close();
 * ```
 *
 * Where it reads: stream MFG_MASTERDATA keeps one message per subject
 * `mfg.masterdata.<kind>.<site>.<odoo id>` (the latest version of each record), published by the
 * Odoo connector. One ordered consumer does both jobs: it starts with DeliverLastPerSubject (the
 * current version of every record, not the history, even on a stream that keeps more than one per
 * subject) and, once those are delivered, keeps delivering what is stored next. `ready` resolves when
 * the messages pending at its creation are read. Should the consumer be reset (a reconnect, a missed
 * heartbeat), nats.js recreates it from the next stream sequence, so nothing is read twice or missed.
 * One subject filter only (nats-server 2.9 has no multi-filter consumers): several kinds read
 * `mfg.masterdata.>` and skip the others here.
 *
 * Archived records stay in the maps with `active: false` (a lookup by code still finds an archived
 * product, so a reader can tell "archived" from "unknown"); `bomOf` only picks active BoMs. Records of
 * several sites (two Odoo databases) are kept apart by subject; give `site` to read one.
 */
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EventCodec, type EventPayloads } from "../../contracts/src/index.js";
import { decodePayload, fromHeaders, sanitizeToken } from "./envelope.js";
import { ConfigError } from "./errors.js";
import { type Logger, silentLogger } from "./logger.js";
import { type UnitRecord, type UnitTable, unitTable } from "./units/table.js";

/** The stream holding the master data (streams/src/declarations.ts). */
export const MASTERDATA_STREAM = "MFG_MASTERDATA";

/** Each kind of master data and its event type. */
export const MASTERDATA_TYPES = {
  unit: "mfg.masterdata.unit.v1",
  product: "mfg.masterdata.product.v1",
  bom: "mfg.masterdata.bill_of_materials.v1",
  workCenter: "mfg.masterdata.work_center.v1",
  location: "mfg.masterdata.location.v1",
  partner: "mfg.masterdata.partner.v1",
} as const;
export type MasterDataKind = keyof typeof MASTERDATA_TYPES;
const KINDS = Object.keys(MASTERDATA_TYPES) as MasterDataKind[];
const KIND_OF_TYPE = new Map<string, MasterDataKind>(KINDS.map((k) => [MASTERDATA_TYPES[k], k]));

/** The current version of a record of a kind. */
export type MasterRecord<K extends MasterDataKind> = EventPayloads[(typeof MASTERDATA_TYPES)[K]];

/** A record changed after `ready`: its new version, and the one it replaced (undefined for a new record). */
export type MasterDataChange = {
  [K in MasterDataKind]: {
    readonly kind: K;
    readonly value: MasterRecord<K>;
    readonly previous: MasterRecord<K> | undefined;
    /** The routing subject: `mfg.masterdata.<kind>.<site>.<odoo id>`. */
    readonly subject: string;
    readonly streamSequence: number;
  };
}[MasterDataKind];

export interface MasterDataOptions {
  /** The kinds to load and follow. @default every kind */
  readonly kinds?: readonly MasterDataKind[];
  /** Only the records of this site (the connector's SITE). @default every site */
  readonly site?: string;
  /** Decodes the payloads (give it the registry as `writers` to read newer schema versions). @default a new EventCodec over the package's catalog */
  readonly codec?: EventCodec;
  /** Called for every change after `ready`; more with {@link MasterData.onChange}. @default none */
  readonly onChange?: (change: MasterDataChange) => void;
  /** Where a message that cannot be decoded is reported (it is skipped). @default silentLogger */
  readonly logger?: Logger;
  /**
   * On close: `"delete"` the consumer (needs `$JS.API.CONSUMER.DELETE`), or let it `"expire"` ten
   * seconds later — a least-privilege service's choice (its access lists `reads: MFG_MASTERDATA`).
   * @default "delete"
   */
  readonly cleanup?: "delete" | "expire";
}

/** The single source of the reader's defaults. */
export const MASTERDATA_DEFAULTS = {
  cleanup: "delete",
  /** How long the consumer outlives the reader when it is left to expire (not configurable). */
  inactiveThresholdMs: 10_000,
  /** Messages per pull of the ordered consumer (not configurable). */
  maxMessages: 500,
} as const;

type Entry = { readonly kind: MasterDataKind; readonly value: MasterRecord<MasterDataKind> };
type Indexes = {
  unitByName: Map<string, MasterRecord<"unit">>;
  unitById: Map<bigint, MasterRecord<"unit">>;
  productByCode: Map<string, MasterRecord<"product">>;
  productByBarcode: Map<string, MasterRecord<"product">>;
  productById: Map<bigint, MasterRecord<"product">>;
  bomsByTemplate: Map<bigint, MasterRecord<"bom">[]>;
  workCenterByCode: Map<string, MasterRecord<"workCenter">>;
  workCenterById: Map<bigint, MasterRecord<"workCenter">>;
  locationById: Map<bigint, MasterRecord<"location">>;
  locationByName: Map<string, MasterRecord<"location">>;
  partnerById: Map<bigint, MasterRecord<"partner">>;
};

/** The current master data, loaded at start and kept current. Create it with {@link MasterData.open}. */
export class MasterData {
  /** Resolves once every record stored when the reader started is loaded; rejects when it cannot start. */
  readonly ready: Promise<void>;
  private readonly records = new Map<string, Entry>();
  private indexes: Indexes | undefined;
  private table: UnitTable | undefined;
  private readonly listeners = new Set<(change: MasterDataChange) => void>();
  private readonly kinds: ReadonlySet<MasterDataKind>;
  private readonly codec: EventCodec;
  private readonly log: Logger;
  private readonly cleanup: "delete" | "expire";
  private messages: ConsumerMessages | undefined;
  private deleteConsumer: (() => Promise<unknown>) | undefined;
  private loaded = false;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly nc: NatsConnection,
    options: MasterDataOptions,
  ) {
    const kinds = options.kinds ?? KINDS;
    for (const k of kinds)
      if (!KINDS.includes(k))
        throw new ConfigError("kinds", `names ${JSON.stringify(k)}; known: ${KINDS.join(", ")}`);
    if (kinds.length === 0)
      throw new ConfigError("kinds", "is empty: name at least one kind, or leave it out");
    const cleanup = options.cleanup ?? MASTERDATA_DEFAULTS.cleanup;
    if (cleanup !== "delete" && cleanup !== "expire")
      throw new ConfigError("cleanup", `must be delete or expire (got ${String(cleanup)})`);
    this.kinds = new Set(kinds);
    this.codec = options.codec ?? new EventCodec();
    this.log = options.logger ?? silentLogger;
    this.cleanup = cleanup;
    if (options.onChange) this.listeners.add(options.onChange);
    this.ready = this.start(filterOf(kinds, options.site));
    this.ready.catch(() => undefined); // a caller who never awaits it gets no unhandled rejection
  }

  /** Starts loading at once; `await md.ready` before the first lookup. Options are checked here (ConfigError). */
  static open(nc: NatsConnection, options: MasterDataOptions = {}): MasterData {
    return new MasterData(nc, options);
  }

  // ------------------------------------------------------------------ lookups

  /** Every current record of a kind (archived ones included). */
  all<K extends MasterDataKind>(kind: K): MasterRecord<K>[] {
    return [...this.records.values()].filter((e) => e.kind === kind).map((e) => e.value as MasterRecord<K>);
  }

  /** A unit by its name (Quantity.uom), an active one before an archived one of the same name. */
  unit(name: string): MasterRecord<"unit"> | undefined {
    return this.index().unitByName.get(name);
  }

  unitById(odooId: bigint | number): MasterRecord<"unit"> | undefined {
    return this.index().unitById.get(BigInt(odooId));
  }

  /**
   * Every unit as a table that converts with Odoo's semantics (streams/src/units): exact ratios,
   * the target unit's rounding. Built on the first call after a change. Read one site's units
   * (the `site` option) when several connectors publish: two sites' units of one name clash.
   * @throws UnitTableInvalidError naming the unit the records cannot make a table with
   */
  units(): UnitTable {
    this.table ??= unitTable(this.all("unit").map(masterUnitRecord));
    return this.table;
  }

  /** A product by its internal reference (default_code, ProductRef.code). */
  product(code: string): MasterRecord<"product"> | undefined {
    return this.index().productByCode.get(code);
  }

  productByBarcode(barcode: string): MasterRecord<"product"> | undefined {
    return this.index().productByBarcode.get(barcode);
  }

  productById(odooId: bigint | number): MasterRecord<"product"> | undefined {
    return this.index().productById.get(BigInt(odooId));
  }

  /**
   * The active BoMs that make a product (by product.product id), in the order Odoo picks them
   * (mrp.bom `_bom_find`: sequence, a variant's own BoM before its template's, then id).
   */
  bomsOf(productOdooId: bigint | number): MasterRecord<"bom">[] {
    const id = BigInt(productOdooId);
    const product = this.productById(id);
    const candidates = product ? (this.index().bomsByTemplate.get(product.templateOdooId) ?? []) : [];
    const own = [...this.records.values()]
      .filter((e) => e.kind === "bom")
      .map((e) => e.value as MasterRecord<"bom">)
      .filter((b) => b.product?.odooId === id);
    const boms = [...new Set([...own, ...candidates])].filter(
      (b) => b.active && (b.product === null || b.product.odooId === id),
    );
    return boms.sort(
      (a, b) =>
        a.sequence - b.sequence ||
        Number(a.product === null) - Number(b.product === null) ||
        Number(a.odooId - b.odooId),
    );
  }

  /** The BoM Odoo would use for a product, or undefined. */
  bomOf(productOdooId: bigint | number): MasterRecord<"bom"> | undefined {
    return this.bomsOf(productOdooId)[0];
  }

  /** A work centre by its code (mrp.workcenter code). */
  workCenter(code: string): MasterRecord<"workCenter"> | undefined {
    return this.index().workCenterByCode.get(code);
  }

  workCenterById(odooId: bigint | number): MasterRecord<"workCenter"> | undefined {
    return this.index().workCenterById.get(BigInt(odooId));
  }

  location(odooId: bigint | number): MasterRecord<"location"> | undefined {
    return this.index().locationById.get(BigInt(odooId));
  }

  /** A location by its full name, e.g. "WH/Stock". */
  locationByName(fullName: string): MasterRecord<"location"> | undefined {
    return this.index().locationByName.get(fullName);
  }

  partner(odooId: bigint | number): MasterRecord<"partner"> | undefined {
    return this.index().partnerById.get(BigInt(odooId));
  }

  // ------------------------------------------------------------------ changes and lifecycle

  /** Calls `fn` for every change after `ready`; returns the function that stops calling it. */
  onChange(fn: (change: MasterDataChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops following and removes the consumer (or leaves it to expire). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready.catch(() => undefined);
    this.messages?.stop();
    await this.loop;
    if (this.cleanup === "delete") await this.deleteConsumer?.().catch(() => undefined);
  }

  private async start(filter: string): Promise<void> {
    const opts: Partial<OrderedConsumerOptions> = {
      filter_subjects: filter,
      deliver_policy: DeliverPolicy.LastPerSubject,
      inactive_threshold: MASTERDATA_DEFAULTS.inactiveThresholdMs,
    };
    const consumer = await jetstream(this.nc).consumers.get(MASTERDATA_STREAM, opts);
    this.deleteConsumer = () => consumer.delete();
    const pending = (await consumer.info(true)).num_pending;
    if (this.closed) return;
    const messages = await consumer.consume({ max_messages: MASTERDATA_DEFAULTS.maxMessages });
    this.messages = messages;
    let markLoaded: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => {
      markLoaded = resolve;
    });
    if (pending === 0) {
      this.loaded = true;
      markLoaded();
    }
    this.loop = (async () => {
      for await (const m of messages) {
        await this.apply(m);
        if (!this.loaded && m.info.pending === 0) {
          this.loaded = true;
          markLoaded();
        }
      }
      markLoaded(); // closed before the load ended: ready resolves with what was read
    })().catch((err) => {
      this.log.error({ err }, "master data: the reader stopped");
      markLoaded();
    });
    await loaded;
  }

  private async apply(m: JsMsg): Promise<void> {
    let entry: Entry;
    try {
      const envelope = fromHeaders(m.headers);
      const kind = KIND_OF_TYPE.get(envelope.type);
      if (!kind || !this.kinds.has(kind)) return;
      const decoded = await decodePayload(this.codec, envelope, m.data);
      entry = { kind, value: decoded.value as MasterRecord<MasterDataKind> };
    } catch (err) {
      this.log.error(
        { err, subject: m.subject, streamSequence: m.seq },
        "master data: a message cannot be read; it is skipped",
      );
      return;
    }
    const previous = this.records.get(m.subject);
    this.records.set(m.subject, entry);
    this.indexes = undefined;
    if (entry.kind === "unit") this.table = undefined;
    if (!this.loaded) return;
    const change = {
      kind: entry.kind,
      value: entry.value,
      previous: previous?.value,
      subject: m.subject,
      streamSequence: m.seq,
    } as MasterDataChange;
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (err) {
        this.log.error({ err, subject: m.subject }, "master data: an onChange hook threw");
      }
    }
  }

  /** The lookup maps, rebuilt on the first lookup after a change (changes are rare, lookups many). */
  private index(): Indexes {
    if (this.indexes) return this.indexes;
    const x: Indexes = {
      unitByName: new Map(),
      unitById: new Map(),
      productByCode: new Map(),
      productByBarcode: new Map(),
      productById: new Map(),
      bomsByTemplate: new Map(),
      workCenterByCode: new Map(),
      workCenterById: new Map(),
      locationById: new Map(),
      locationByName: new Map(),
      partnerById: new Map(),
    };
    // Archived records first, so an active one of the same name or code wins.
    const entries = [...this.records.values()].sort(
      (a, b) =>
        Number((a.value as { active: boolean }).active) - Number((b.value as { active: boolean }).active),
    );
    for (const e of entries) {
      switch (e.kind) {
        case "unit": {
          const u = e.value as MasterRecord<"unit">;
          x.unitByName.set(u.name, u);
          x.unitById.set(u.odooId, u);
          break;
        }
        case "product": {
          const p = e.value as MasterRecord<"product">;
          if (p.code !== null) x.productByCode.set(p.code, p);
          if (p.barcode !== null) x.productByBarcode.set(p.barcode, p);
          x.productById.set(p.odooId, p);
          break;
        }
        case "bom": {
          const b = e.value as MasterRecord<"bom">;
          const list = x.bomsByTemplate.get(b.productTemplateOdooId) ?? [];
          list.push(b);
          x.bomsByTemplate.set(b.productTemplateOdooId, list);
          break;
        }
        case "workCenter": {
          const w = e.value as MasterRecord<"workCenter">;
          if (w.code !== null) x.workCenterByCode.set(w.code, w);
          x.workCenterById.set(w.odooId, w);
          break;
        }
        case "location": {
          const l = e.value as MasterRecord<"location">;
          x.locationById.set(l.odooId, l);
          x.locationByName.set(l.fullName, l);
          break;
        }
        case "partner": {
          const p = e.value as MasterRecord<"partner">;
          x.partnerById.set(p.odooId, p);
          break;
        }
      }
    }
    this.indexes = x;
    return x;
  }
}

/** A Unit record as the unit table takes it: Odoo 16–18 by category and ratio, 19 by relative unit. */
export function masterUnitRecord(u: MasterRecord<"unit">): UnitRecord {
  const common = { name: u.name, rounding: u.rounding, active: u.active };
  if (u.category !== null)
    return {
      ...common,
      category: u.category,
      ...(u.ratio !== null ? { ratio: u.ratio } : {}),
      ...(u.uomType !== null ? { type: u.uomType } : {}),
    };
  return { ...common, relativeFactor: u.relativeFactor ?? "1", relativeUnit: u.relativeUnit };
}

/** The one subject filter reading `kinds` (of `site`): a kind's own subjects, or every kind's. */
export function filterOf(kinds: readonly MasterDataKind[], site?: string): string {
  const siteToken = site === undefined ? "*" : sanitizeToken(site);
  if (kinds.length === 1) {
    const event = (MASTERDATA_TYPES[kinds[0] as MasterDataKind] as string).split(".")[2];
    return site === undefined ? `mfg.masterdata.${event}.>` : `mfg.masterdata.${event}.${siteToken}.*`;
  }
  return site === undefined ? "mfg.masterdata.>" : `mfg.masterdata.*.${siteToken}.*`;
}
