/**
 * A synthetic plant history for the genealogy: seeded, so the same seed always gives the same events
 * (ids, times, quantities), and balanced, so no lot gives more than was received or produced of it.
 *
 * The model, in a few lines:
 * - products: raw materials (kg, received from suppliers), intermediates and finished goods (Units);
 *   every intermediate has a bill of 2–4 raw materials, every finished good of 2–4 components, at least
 *   one of them an intermediate;
 * - a finished order is released, its components are drawn first-in first-out from the lots in stock
 *   (a component that runs out mid-order is drawn from the next lot: one consumption per lot), and a
 *   missing component is received (raw) or made by an intermediate order first; the order reports and
 *   posts its good and rejected quantities on a machine of a line, and its lot goes to stock;
 * - a small share of finished orders rework a lot of the same product (a finished lot consumed into
 *   another finished lot), a smaller share is partly unbuilt afterwards (components given back, in
 *   proportion);
 * - most finished lots are shipped to customers, a few at a time (ShipmentRequested + DELIVERY);
 * - a few lots of every kind are put on hold, most holds are released (or rejected) later.
 *
 * Two outputs of the same model: {@link historyChunks} yields the events (the payloads as the contracts
 * type them, with ids, streams, sequences and publish targets) for the projection or an EventPublisher;
 * {@link bulkLoad} writes the rows those events project to straight into the genealogy's tables
 * (multi-row `INSERT … SELECT FROM unnest(…)`), the same rows `applyEvents` would write.
 */
import type { EventPayloads } from "../../contracts/src/index.js";
import type {
  GenealogyEventType,
  ProjectedEvent,
} from "../../services/genealogy-builder/src/store/projection.js";
import type { PublishTarget } from "../../streams/src/index.js";

/** How big a history, and which one. */
export interface SyntheticOptions {
  /** Lots to make (received + produced); the history stops at the first checkpoint past it. @default 1000 */
  readonly lots?: number;
  /** The seed: the same seed gives the same history. @default 1 */
  readonly seed?: number;
  /** Site token of every event. @default "plant-synth" */
  readonly site?: string;
  /** When the history starts. @default 2025-01-01T00:00:00Z */
  readonly start?: Date;
  /** Events per chunk at least (a chunk ends at an order's end, so its rows are complete). @default 20000 */
  readonly chunkEvents?: number;
}

export const SYNTHETIC_DEFAULTS = {
  lots: 1000,
  seed: 1,
  site: "plant-synth",
  start: new Date("2025-01-01T00:00:00Z"),
  chunkEvents: 20_000,
} as const satisfies Required<SyntheticOptions>;

/** One event of the history: what the projection reads, and where a publisher sends it. */
export interface SyntheticEvent {
  readonly event: ProjectedEvent & { readonly type: GenealogyEventType };
  readonly target: PublishTarget;
}

/** What a history holds, once generated. */
export interface HistorySummary {
  readonly lots: { raw: number; intermediate: number; finished: number };
  readonly events: number;
  readonly consumptions: number;
  readonly orders: number;
  readonly shipments: number;
  readonly holds: number;
  readonly unbuilds: number;
  readonly reworks: number;
  /** Lots picked at random (seeded, reservoir sampling), up to 2 000 of each kind: where to trace from. */
  readonly samples: { raw: LotSample[]; intermediate: LotSample[]; finished: LotSample[] };
}

export interface LotSample {
  readonly product: string;
  readonly lot: string;
}

/** The PRNG: mulberry32 (32-bit state, good enough for test data, fast, and the same on every machine). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = "raw" | "intermediate" | "finished";

interface ProductModel {
  readonly code: string;
  readonly name: string;
  readonly odooId: bigint;
  readonly kind: Kind;
  readonly uom: string;
  /** Components per unit made, in thousandths of the component's unit. */
  readonly bom: readonly { product: ProductModel; perUnitMilli: number }[];
  /** Lots with stock left, oldest first. */
  readonly stock: LotModel[];
}

interface LotModel {
  readonly product: ProductModel;
  readonly lot: string;
  /** Its number (the Odoo id it is given). */
  readonly no: number;
  /** Thousandths of the product's unit left in stock. */
  remaining: number;
  readonly orderRef: string | null;
}

interface Part {
  readonly lot: LotModel;
  readonly milli: number;
}

const RAW_PRODUCTS = 60;
const INTERMEDIATE_PRODUCTS = 40;
const FINISHED_PRODUCTS = 40;
const CUSTOMERS = 50;
const LINES = 5;
const MACHINES_PER_LINE = 4;
const REWORK_SHARE = 0.03;
const UNBUILD_SHARE = 0.003;
const HOLD_SHARE = 0.02;
const HOLD_RELEASED_SHARE = 0.75;
const SHIPPED_SHARE = 0.85;
const SAMPLES_PER_KIND = 2000;

const STOCK = "WH/Stock";
const VENDORS = "Partners/Vendors";
const CUSTOMERS_LOCATION = "Partners/Customers";
const PRODUCTION = "Virtual Locations/Production";

/** Thousandths as the contracts' exact decimal (6 places). */
const decimal = (milli: number): string =>
  `${Math.floor(milli / 1000)}.${String(milli % 1000).padStart(3, "0")}000`;
const pad = (n: number, width: number) => String(n).padStart(width, "0");

const STREAMS: Record<string, string> = {
  inventory: "MFG_INVENTORY",
  production: "MFG_PRODUCTION",
  quality: "MFG_QUALITY",
  shipping: "MFG_SHIPPING",
  masterdata: "MFG_MASTERDATA",
};

/** The stream an event type is stored in (by its domain). */
export function streamOf(type: string): string {
  const domain = type.split(".")[1] ?? "";
  const stream = STREAMS[domain];
  if (!stream) throw new Error(`no stream for ${type}`);
  return stream;
}

/**
 * The history as chunks of events, in the order they happened per order (a chunk never splits an
 * order, a shipment or a hold from its release). Deterministic for a seed.
 */
export function* historyChunks(options: SyntheticOptions = {}): Generator<SyntheticEvent[], HistorySummary> {
  const o = { ...SYNTHETIC_DEFAULTS, ...options };
  const plant = new PlantModel(o);
  yield* plant.run();
  return plant.summary();
}

/** The whole history at once (small sizes: tests, examples). */
export function historyEvents(options: SyntheticOptions = {}): {
  events: SyntheticEvent[];
  summary: HistorySummary;
} {
  const events: SyntheticEvent[] = [];
  const it = historyChunks(options);
  for (;;) {
    const next = it.next();
    if (next.done) return { events, summary: next.value };
    events.push(...next.value);
  }
}

class PlantModel {
  readonly #o: Required<SyntheticOptions>;
  readonly #random: () => number;
  readonly #seedHex: string;
  #clock: number;
  #events: SyntheticEvent[] = [];
  readonly #seqs = new Map<string, number>();
  #eventNo = 0;
  #lotNo = 0;
  #orderNo = 0;
  #receiptNo = 0;
  #shipmentNo = 0;
  #holdNo = 0;
  #unbuildNo = 0;
  #moveNo = 0;
  readonly #raw: ProductModel[] = [];
  readonly #intermediate: ProductModel[] = [];
  readonly #finished: ProductModel[] = [];
  readonly #toShip: LotModel[] = [];
  readonly #lastFinished = new Map<ProductModel, LotModel>();
  readonly #counts = {
    lots: { raw: 0, intermediate: 0, finished: 0 },
    consumptions: 0,
    orders: 0,
    shipments: 0,
    holds: 0,
    unbuilds: 0,
    reworks: 0,
  };
  readonly #samples: HistorySummary["samples"] = { raw: [], intermediate: [], finished: [] };

  constructor(o: Required<SyntheticOptions>) {
    this.#o = o;
    this.#random = mulberry32(o.seed);
    this.#seedHex = (o.seed >>> 0).toString(16).padStart(8, "0");
    this.#clock = o.start.getTime();
  }

  summary(): HistorySummary {
    return { ...this.#counts, events: this.#eventNo, samples: this.#samples };
  }

  *run(): Generator<SyntheticEvent[]> {
    this.#masterData();
    const lotsOf = () => this.#lotNo;
    while (lotsOf() < this.#o.lots) {
      this.#finishedOrder();
      if (this.#events.length >= this.#o.chunkEvents) {
        yield this.#events;
        this.#events = [];
      }
    }
    this.#ship(true);
    if (this.#events.length > 0) yield this.#events;
    this.#events = [];
  }

  #int(min: number, max: number): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  #tick(minS: number, maxS: number): Date {
    this.#clock += this.#int(minS * 1000, maxS * 1000);
    return new Date(this.#clock);
  }

  #emit<K extends GenealogyEventType>(
    type: K,
    value: EventPayloads[K],
    key: string,
    where: { line?: string; machine?: string } = {},
    time?: Date,
  ): string {
    const n = ++this.#eventNo;
    const stream = streamOf(type);
    const seq = (this.#seqs.get(stream) ?? 0) + 1;
    this.#seqs.set(stream, seq);
    const hex = n.toString(16).padStart(12, "0");
    const id = `${this.#seedHex}-0000-7000-8000-${hex}`;
    this.#events.push({
      event: { id, stream, seq, type, value },
      target: { site: this.#o.site, ...where, key, id, ...(time ? { time } : {}) },
    });
    return id;
  }

  #product(kind: Kind, i: number): ProductModel {
    const prefix = { raw: "RM", intermediate: "SA", finished: "FG" }[kind];
    return {
      code: `${prefix}-${pad(i + 1, 4)}`,
      name: `${{ raw: "Raw material", intermediate: "Subassembly", finished: "Finished good" }[kind]} ${i + 1}`,
      odooId: BigInt({ raw: 1000, intermediate: 2000, finished: 3000 }[kind] + i + 1),
      kind,
      uom: kind === "raw" ? "kg" : "Units",
      bom: [],
      stock: [],
    };
  }

  #masterData(): void {
    const at = new Date(this.#clock);
    for (let i = 0; i < RAW_PRODUCTS; i++) this.#raw.push(this.#product("raw", i));
    for (let i = 0; i < INTERMEDIATE_PRODUCTS; i++) {
      const p = this.#product("intermediate", i);
      const n = this.#int(2, 4);
      const used = new Set<ProductModel>();
      while (used.size < n) used.add(this.#pick(this.#raw));
      for (const c of used)
        (p.bom as ProductModel["bom"][number][]).push({ product: c, perUnitMilli: this.#int(500, 2000) });
      this.#intermediate.push(p);
    }
    for (let i = 0; i < FINISHED_PRODUCTS; i++) {
      const p = this.#product("finished", i);
      const n = this.#int(2, 4);
      const intermediates = this.#int(1, Math.min(2, n));
      const used = new Set<ProductModel>();
      while (used.size < intermediates) used.add(this.#pick(this.#intermediate));
      while (used.size < n) used.add(this.#pick(this.#raw));
      for (const c of used)
        (p.bom as ProductModel["bom"][number][]).push({
          product: c,
          perUnitMilli: c.kind === "raw" ? this.#int(200, 1000) : this.#int(1, 2) * 1000,
        });
      this.#finished.push(p);
    }
    for (const p of [...this.#raw, ...this.#intermediate, ...this.#finished])
      this.#emit(
        "mfg.masterdata.product.v1",
        {
          odooId: p.odooId,
          code: p.code,
          barcode: p.kind === "finished" ? `0${pad(3_000_000_000_000 + Number(p.odooId), 13)}` : null,
          name: p.name,
          site: this.#o.site,
          tracking: "lot",
          unit: p.uom,
          unitOdooId: p.uom === "kg" ? 12n : 1n,
          category: `All / ${p.kind}`,
          templateOdooId: p.odooId,
          active: true,
          updatedAt: at,
        },
        String(p.odooId),
      );
    const locations: [string, "internal" | "supplier" | "customer" | "production"][] = [
      [STOCK, "internal"],
      [VENDORS, "supplier"],
      [CUSTOMERS_LOCATION, "customer"],
      [PRODUCTION, "production"],
    ];
    for (const [i, [fullName, usage]] of locations.entries())
      this.#emit(
        "mfg.masterdata.location.v1",
        {
          odooId: BigInt(i + 1),
          name: fullName.split("/").pop() ?? fullName,
          fullName,
          site: this.#o.site,
          usage,
          parentOdooId: null,
          barcode: null,
          active: true,
          updatedAt: at,
        },
        String(i + 1),
      );
    for (let i = 0; i < CUSTOMERS; i++)
      this.#emit(
        "mfg.masterdata.partner.v1",
        {
          odooId: BigInt(5000 + i),
          name: `Customer ${i + 1}`,
          ref: `C${pad(i + 1, 4)}`,
          site: this.#o.site,
          country: this.#pick(["FR", "DE", "IT", "ES", "BE"]),
          isCompany: true,
          parentOdooId: null,
          active: true,
          updatedAt: at,
        },
        String(5000 + i),
      );
  }

  #newLot(product: ProductModel, milli: number, orderRef: string | null): LotModel {
    const n = ++this.#lotNo;
    const lot: LotModel = {
      product,
      lot: `${product.kind === "raw" ? "R" : product.kind === "intermediate" ? "I" : "F"}${pad(n, 8)}`,
      no: n,
      remaining: milli,
      orderRef,
    };
    this.#counts.lots[product.kind]++;
    const samples = this.#samples[product.kind];
    const seen = this.#counts.lots[product.kind];
    if (samples.length < SAMPLES_PER_KIND) samples.push({ product: product.code, lot: lot.lot });
    else {
      const j = Math.floor(this.#random() * seen);
      if (j < SAMPLES_PER_KIND) samples[j] = { product: product.code, lot: lot.lot };
    }
    return lot;
  }

  #ref(p: ProductModel) {
    return { code: p.code, name: p.name, odooId: p.odooId };
  }

  #registered(lot: LotModel, at: Date, supplierLot: string | null): void {
    this.#emit(
      "mfg.inventory.lot_registered.v1",
      {
        lot: lot.lot,
        odooId: BigInt(lot.no),
        product: this.#ref(lot.product),
        site: this.#o.site,
        orderRef: lot.orderRef,
        supplierLot,
        expiresAt: lot.product.kind === "raw" ? new Date(at.getTime() + 365 * 86_400_000) : null,
        registeredAt: at,
      },
      lot.lot,
    );
  }

  #movement(
    type: "RECEIPT" | "DELIVERY" | "PRODUCTION",
    lot: LotModel,
    milli: number,
    from: string,
    to: string,
    at: Date,
    refs: { picking: string | null; order: string | null; origin: string | null },
  ): void {
    const move = ++this.#moveNo;
    this.#emit(
      "mfg.inventory.goods_movement_posted.v1",
      {
        site: this.#o.site,
        movementType: type,
        pickingRef: refs.picking,
        odooPickingId: refs.picking ? BigInt(move) : null,
        odooMoveId: BigInt(move),
        odooMoveLineId: null,
        product: this.#ref(lot.product),
        lot: lot.lot,
        quantity: { value: decimal(milli), uom: lot.product.uom },
        fromLocation: from,
        toLocation: to,
        origin: refs.origin,
        postedAt: at,
        orderRef: refs.order,
      },
      refs.picking ?? refs.order ?? lot.lot,
    );
  }

  /** A supplier's lot received into stock. */
  #receive(product: ProductModel): LotModel {
    const at = this.#tick(5, 30);
    const lot = this.#newLot(product, this.#int(1000, 4000) * 1000, null);
    const picking = `WH/IN/${pad(++this.#receiptNo, 7)}`;
    this.#registered(lot, at, `SUP-${pad(this.#int(1, 999_999), 6)}`);
    this.#movement("RECEIPT", lot, lot.remaining, VENDORS, STOCK, at, {
      picking,
      order: null,
      origin: `P${pad(this.#receiptNo, 6)}`,
    });
    this.#maybeHold(lot, at);
    product.stock.push(lot);
    return lot;
  }

  /** Draws `milli` of a product from its lots, oldest first; receives or makes what is missing. */
  #draw(product: ProductModel, milli: number): Part[] {
    const parts: Part[] = [];
    let need = milli;
    while (need > 0) {
      let lot = product.stock[0];
      if (!lot) lot = product.kind === "raw" ? this.#receive(product) : this.#makeIntermediate(product, need);
      const take = Math.min(lot.remaining, need);
      lot.remaining -= take;
      need -= take;
      parts.push({ lot, milli: take });
      if (lot.remaining === 0) product.stock.shift();
    }
    return parts;
  }

  #makeIntermediate(product: ProductModel, needMilli: number): LotModel {
    const units = Math.max(Math.ceil(needMilli / 1000), this.#int(100, 300));
    return this.#order(product, units, []);
  }

  #finishedOrder(): void {
    const product = this.#pick(this.#finished);
    const extra: Part[] = [];
    const previous = this.#lastFinished.get(product);
    if (previous && previous.remaining > 0 && this.#random() < REWORK_SHARE) {
      const milli = Math.min(previous.remaining, this.#int(5, 30) * 1000);
      previous.remaining -= milli;
      extra.push({ lot: previous, milli });
      this.#counts.reworks++;
    }
    const lot = this.#order(product, this.#int(50, 200), extra);
    this.#lastFinished.set(product, lot);
    if (this.#random() < SHIPPED_SHARE) this.#toShip.push(lot);
    this.#ship(false);
  }

  /** An order: released, components consumed, production reported and posted, the lot to stock. */
  #order(product: ProductModel, units: number, extra: readonly Part[]): LotModel {
    const orderNo = ++this.#orderNo;
    this.#counts.orders++;
    const orderRef = `WH/MO/${pad(orderNo, 7)}`;
    const line = `line${this.#int(1, LINES)}`;
    const machine = `${line}-m${this.#int(1, MACHINES_PER_LINE)}`;
    // Components first (an intermediate made for it is older than the order).
    const drawn = product.bom.map((b) => ({ b, parts: this.#draw(b.product, b.perUnitMilli * units) }));
    const released = this.#tick(10, 60);
    const rejects = this.#random() < 0.3 ? this.#int(0, Math.max(1, Math.floor(units / 50))) : 0;
    const good = units - rejects;
    const lot = this.#newLot(product, good * 1000, orderRef);
    this.#emit(
      "mfg.production.production_order_released.v1",
      {
        orderRef,
        odooOrderId: BigInt(orderNo),
        product: this.#ref(product),
        quantity: { value: decimal(units * 1000), uom: product.uom },
        plannedStartAt: released,
        plannedEndAt: null,
        equipment: { site: this.#o.site, area: null, line, cell: null, machine: null },
        workCenterCode: line.toUpperCase(),
        lotToProduce: lot.lot,
        components: drawn.map(({ b, parts }) => ({
          product: this.#ref(b.product),
          quantity: { value: decimal(b.perUnitMilli * units), uom: b.product.uom },
          lot: parts.length === 1 ? (parts[0]?.lot.lot ?? null) : null,
        })),
        origin: null,
        materials: null,
        releasedAt: released,
      },
      orderRef,
      { line },
    );
    const start = this.#tick(30, 120);
    this.#registered(lot, start, null);
    const consumed: Part[] = [...drawn.flatMap((d) => d.parts), ...extra];
    for (const part of consumed) {
      this.#counts.consumptions++;
      this.#emit(
        "mfg.inventory.material_consumed.v1",
        {
          site: this.#o.site,
          orderRef,
          component: this.#ref(part.lot.product),
          componentLot: part.lot.lot,
          quantity: { value: decimal(part.milli), uom: part.lot.product.uom },
          producedProduct: this.#ref(product),
          producedLot: lot.lot,
          odooMoveId: BigInt(++this.#moveNo),
          consumedAt: this.#tick(1, 20),
        },
        orderRef,
      );
    }
    const reportedAt = this.#tick(60, 600);
    const reportId = this.#emit(
      "mfg.production.production_reported.v1",
      {
        equipment: { site: this.#o.site, area: null, line, cell: null, machine },
        orderRef,
        lot: lot.lot,
        goodQuantity: { value: decimal(good * 1000), uom: product.uom },
        rejectQuantity: { value: decimal(rejects * 1000), uom: product.uom },
        goodCounterFrom: 0n,
        goodCounterTo: BigInt(good),
        rejectCounterFrom: 0n,
        rejectCounterTo: BigInt(rejects),
        periodStartAt: start,
        reportedAt,
        countingPoint: true,
        rejectedComponent: null,
        running: [{ startedAt: start, endedAt: reportedAt }],
      },
      orderRef,
      { line, machine },
    );
    const postedAt = this.#tick(1, 30);
    this.#emit(
      "mfg.production.production_posted.v1",
      {
        sourceEventId: reportId,
        orderRef,
        odooOrderId: BigInt(orderNo),
        lot: lot.lot,
        postedGoodQuantity: { value: decimal(good * 1000), uom: product.uom },
        postedRejectQuantity: { value: decimal(rejects * 1000), uom: product.uom },
        odooRecords: [{ model: "mrp.production", id: BigInt(orderNo), name: orderRef }],
        postedAt,
      },
      orderRef,
    );
    this.#movement("PRODUCTION", lot, good * 1000, PRODUCTION, STOCK, postedAt, {
      picking: null,
      order: orderRef,
      origin: orderRef,
    });
    if (product.kind === "finished" && this.#random() < UNBUILD_SHARE && good > 1)
      this.#unbuild(lot, good, consumed, postedAt);
    this.#maybeHold(lot, postedAt);
    if (product.kind === "intermediate") product.stock.push(lot);
    return lot;
  }

  /** Part of a lot taken apart again: each component given back in proportion. */
  #unbuild(lot: LotModel, good: number, consumed: readonly Part[], after: Date): void {
    const units = Math.max(1, Math.floor(good * (0.1 + this.#random() * 0.2)));
    lot.remaining -= units * 1000;
    const no = ++this.#unbuildNo;
    this.#counts.unbuilds++;
    const returned = consumed
      .map((p) => ({ p, milli: Math.floor((p.milli * units) / good) }))
      .filter((r) => r.milli > 0);
    for (const r of returned) r.p.lot.remaining += r.milli; // back in stock (not drawn again: it left the queue)
    this.#emit(
      "mfg.inventory.unbuild_posted.v1",
      {
        site: this.#o.site,
        unbuildRef: `UB/${pad(no, 6)}`,
        odooUnbuildId: BigInt(no),
        orderRef: lot.orderRef,
        product: this.#ref(lot.product),
        lot: lot.lot,
        quantity: { value: decimal(units * 1000), uom: lot.product.uom },
        returnedComponents: returned.map((r) => ({
          component: this.#ref(r.p.lot.product),
          lot: r.p.lot.lot,
          quantity: { value: decimal(r.milli), uom: r.p.lot.product.uom },
        })),
        unbuiltAt: new Date(after.getTime() + this.#int(3600, 86_400) * 1000),
      },
      `UB/${pad(no, 6)}`,
    );
  }

  #maybeHold(lot: LotModel, at: Date): void {
    if (this.#random() >= HOLD_SHARE) return;
    const holdId = `HOLD-${pad(++this.#holdNo, 7)}`;
    this.#counts.holds++;
    this.#emit(
      "mfg.quality.quality_hold_placed.v1",
      {
        holdId,
        site: this.#o.site,
        lot: lot.lot,
        product: this.#ref(lot.product),
        quantity: null,
        reason: this.#pick([
          "bore diameter out of spec",
          "supplier certificate missing",
          "contamination suspected",
        ]),
        status: "ACTIVE",
        triggeredBy: null,
        placedBy: "quality",
        placedAt: new Date(at.getTime() + 60_000),
      },
      lot.lot,
    );
    if (this.#random() >= HOLD_RELEASED_SHARE) return;
    const rejected = this.#random() < 0.1;
    this.#emit(
      "mfg.quality.quality_hold_released.v1",
      {
        holdId,
        site: this.#o.site,
        lot: lot.lot,
        product: this.#ref(lot.product),
        reason: rejected ? "scrapped" : "re-measured within spec",
        status: rejected ? "REJECTED" : "RELEASED",
        releasedBy: "quality",
        releasedAt: new Date(at.getTime() + this.#int(2, 48) * 3_600_000),
      },
      lot.lot,
    );
  }

  /** Ships the lots waiting, a few per delivery (all of them at the end). */
  #ship(all: boolean): void {
    while (this.#toShip.length >= (all ? 1 : 8)) {
      const lots = this.#toShip.splice(0, this.#int(1, 3)).filter((l) => l.remaining > 0);
      if (lots.length === 0) continue;
      const no = ++this.#shipmentNo;
      this.#counts.shipments++;
      const pickingRef = `WH/OUT/${pad(no, 7)}`;
      const customer = this.#int(1, CUSTOMERS);
      const requestedAt = this.#tick(1, 10);
      const lines = lots.map((l) => ({ lot: l, milli: l.remaining }));
      this.#emit(
        "mfg.shipping.shipment_requested.v1",
        {
          pickingRef,
          odooPickingId: BigInt(no),
          site: this.#o.site,
          customerRef: `C${pad(customer, 4)}`,
          customerName: `Customer ${customer}`,
          salesOrderRef: `S${pad(no, 6)}`,
          lines: lines.map((l) => ({
            product: this.#ref(l.lot.product),
            lot: l.lot.lot,
            quantity: { value: decimal(l.milli), uom: l.lot.product.uom },
          })),
          scheduledAt: new Date(requestedAt.getTime() + 86_400_000),
          requestedAt,
        },
        pickingRef,
      );
      const shippedAt = new Date(requestedAt.getTime() + this.#int(2, 30) * 3_600_000);
      for (const l of lines) {
        l.lot.remaining = 0;
        this.#movement("DELIVERY", l.lot, l.milli, STOCK, CUSTOMERS_LOCATION, shippedAt, {
          picking: pickingRef,
          order: null,
          origin: `S${pad(no, 6)}`,
        });
      }
    }
  }
}
