/**
 * A small plant's lot history for the genealogy's HTTP and CLI tests, put in an embedded database
 * (PGlite in a temporary directory) through the real migrations and projection:
 *
 *   steel powder RAW-1 lot "LOT/2026/001" (supplier lot SUP-77), 100 kg received
 *     └─ 40 kg consumed by WH/MO/00001 on line-1/press-1 → green compact INT-1 lot INT-001 (100 Units)
 *          └─ 100 Units consumed by WH/MO/00002 → brake disc FG-1 lot FG-001 (100 Units posted)
 *               └─ 60 Units shipped on WH/OUT/00001 to C-100 "Acme Brakes" (so 24 kg of the powder
 *                  reached them); the 40 left are on hold
 *
 * and a lot name two products share ("SHARED-9": RAW-1 and RAW-2), for the ambiguous case.
 * Payloads are shaped like the contracts' generated types, so a contract change breaks the build here.
 * `genealogyServer` serves the genealogy's routes over it, as the service does.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { EventPayloads } from "../../contracts/src/index.js";
import {
  type GenealogyQueryApi,
  registerGenealogyRoutes,
} from "../../services/genealogy-builder/src/http.js";
import { GenealogyQueries } from "../../services/genealogy-builder/src/query/queries.js";
import type {
  GenealogyEventType,
  ProjectedEvent,
} from "../../services/genealogy-builder/src/store/projection.js";
import { applyEvents } from "../../services/genealogy-builder/src/store/projection.js";
import { migrate } from "../../services/genealogy-builder/src/store/schema.js";
import { type Database, openDatabase } from "../../streams/src/index.js";

export const SITE = "plant-lyon";
export const SCHEMA = "genealogy";

/** The lots of the story, as the tests name them. */
export const LOTS = {
  raw: { product: "RAW-1", lot: "LOT/2026/001" },
  intermediate: { product: "INT-1", lot: "INT-001" },
  finished: { product: "FG-1", lot: "FG-001" },
  shared: "SHARED-9",
} as const;
export const CUSTOMER = { ref: "C-100", name: "Acme Brakes" } as const;
export const SHIPMENT = "WH/OUT/00001";

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 6, minute));
const ref = (code: string, odooId: number) => ({ code, name: null, odooId: BigInt(odooId) });
const qty = (value: string, uom: string) => ({ value, uom });
const RAW = ref("RAW-1", 11);
const RAW2 = ref("RAW-2", 12);
const INT = ref("INT-1", 21);
const FG = ref("FG-1", 31);
const line = (machine: string | null) => ({ site: SITE, area: null, line: "line-1", cell: null, machine });

let moveId = 1000n;
const movement = (
  type: EventPayloads["mfg.inventory.goods_movement_posted.v1"]["movementType"],
  product: ReturnType<typeof ref>,
  lot: string,
  quantity: ReturnType<typeof qty>,
  from: string,
  to: string,
  minute: number,
  extra: { pickingRef?: string; orderRef?: string } = {},
): EventPayloads["mfg.inventory.goods_movement_posted.v1"] => ({
  site: SITE,
  movementType: type,
  pickingRef: extra.pickingRef ?? null,
  odooPickingId: extra.pickingRef ? 501n : null,
  odooMoveId: moveId++,
  odooMoveLineId: null,
  product,
  lot,
  quantity,
  fromLocation: from,
  toLocation: to,
  origin: null,
  postedAt: at(minute),
  orderRef: extra.orderRef ?? null,
});

const productRecord = (p: ReturnType<typeof ref>, name: string, unit: string, barcode: string | null) => ({
  odooId: p.odooId,
  code: p.code,
  barcode,
  name,
  site: SITE,
  tracking: "lot" as const,
  unit,
  unitOdooId: unit === "kg" ? 3n : 1n,
  category: null,
  templateOdooId: p.odooId,
  active: true,
  updatedAt: at(0),
});

const locationRecord = (
  odooId: number,
  fullName: string,
  usage: EventPayloads["mfg.masterdata.location.v1"]["usage"],
) => ({
  odooId: BigInt(odooId),
  name: fullName.split("/").at(-1) ?? fullName,
  fullName,
  site: SITE,
  usage,
  parentOdooId: null,
  barcode: null,
  active: true,
  updatedAt: at(0),
});

const lotRegistered = (product: ReturnType<typeof ref>, lot: string, minute: number, extra = {}) => ({
  lot,
  odooId: null,
  product,
  site: SITE,
  orderRef: null,
  supplierLot: null,
  expiresAt: null,
  registeredAt: at(minute),
  ...extra,
});

const consumed = (
  orderRef: string,
  component: ReturnType<typeof ref>,
  componentLot: string,
  quantity: ReturnType<typeof qty>,
  produced: ReturnType<typeof ref>,
  producedLot: string,
  minute: number,
) => ({
  site: SITE,
  orderRef,
  component,
  componentLot,
  quantity,
  producedProduct: produced,
  producedLot,
  odooMoveId: null,
  consumedAt: at(minute),
});

/** One event of the story, its payload checked against its type. */
const ev = <K extends GenealogyEventType>(type: K, value: EventPayloads[K]): [K, EventPayloads[K]] => [
  type,
  value,
];

/** The story, in the order it happened (the projection would give the same graph in any order). */
function story(): [GenealogyEventType, unknown][] {
  const stock = "WH/Stock";
  const production = "Virtual Locations/Production";
  return [
    ev("mfg.masterdata.product.v1", productRecord(RAW, "Steel powder", "kg", null)),
    ev("mfg.masterdata.product.v1", productRecord(RAW2, "Bronze powder", "kg", null)),
    ev("mfg.masterdata.product.v1", productRecord(INT, "Green compact", "Units", null)),
    ev("mfg.masterdata.product.v1", productRecord(FG, "Brake disc", "Units", "03012345678901")),
    ev("mfg.masterdata.location.v1", locationRecord(1, stock, "internal")),
    ev("mfg.masterdata.location.v1", locationRecord(2, "Partners/Vendors", "supplier")),
    ev("mfg.masterdata.location.v1", locationRecord(3, "Partners/Customers", "customer")),
    ev("mfg.masterdata.location.v1", locationRecord(4, production, "production")),
    ev("mfg.masterdata.partner.v1", {
      odooId: 7n,
      name: CUSTOMER.name,
      ref: CUSTOMER.ref,
      site: SITE,
      country: "FR",
      isCompany: true,
      parentOdooId: null,
      active: true,
      updatedAt: at(0),
    }),
    // The supplier lot, received.
    ev("mfg.inventory.lot_registered.v1", lotRegistered(RAW, LOTS.raw.lot, 1, { supplierLot: "SUP-77" })),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("RECEIPT", RAW, LOTS.raw.lot, qty("100", "kg"), "Partners/Vendors", stock, 2),
    ),
    // The same lot name for two products.
    ev("mfg.inventory.lot_registered.v1", lotRegistered(RAW, LOTS.shared, 3)),
    ev("mfg.inventory.lot_registered.v1", lotRegistered(RAW2, LOTS.shared, 3)),
    // The intermediate lot, pressed on line-1/press-1.
    ev("mfg.production.production_order_released.v1", {
      orderRef: "WH/MO/00001",
      odooOrderId: 1n,
      product: INT,
      quantity: qty("100", "Units"),
      plannedStartAt: at(10),
      plannedEndAt: null,
      equipment: line("press-1"),
      workCenterCode: "PRESS",
      lotToProduce: LOTS.intermediate.lot,
      components: [],
      origin: null,
      materials: null,
      releasedAt: at(10),
    }),
    ev(
      "mfg.inventory.lot_registered.v1",
      lotRegistered(INT, LOTS.intermediate.lot, 10, { orderRef: "WH/MO/00001" }),
    ),
    ev(
      "mfg.inventory.material_consumed.v1",
      consumed("WH/MO/00001", RAW, LOTS.raw.lot, qty("40", "kg"), INT, LOTS.intermediate.lot, 12),
    ),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("CONSUMPTION", RAW, LOTS.raw.lot, qty("40", "kg"), stock, production, 12, {
        orderRef: "WH/MO/00001",
      }),
    ),
    ev("mfg.production.production_reported.v1", {
      equipment: line("press-1"),
      orderRef: "WH/MO/00001",
      lot: LOTS.intermediate.lot,
      goodQuantity: qty("100", "Units"),
      rejectQuantity: qty("0", "Units"),
      goodCounterFrom: 0n,
      goodCounterTo: 100n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: at(11),
      reportedAt: at(14),
      countingPoint: true,
      rejectedComponent: null,
      running: [],
    }),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("PRODUCTION", INT, LOTS.intermediate.lot, qty("100", "Units"), production, stock, 15, {
        orderRef: "WH/MO/00001",
      }),
    ),
    // The finished lot.
    ev(
      "mfg.inventory.lot_registered.v1",
      lotRegistered(FG, LOTS.finished.lot, 20, { orderRef: "WH/MO/00002" }),
    ),
    ev(
      "mfg.inventory.material_consumed.v1",
      consumed("WH/MO/00002", INT, LOTS.intermediate.lot, qty("100", "Units"), FG, LOTS.finished.lot, 22),
    ),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("CONSUMPTION", INT, LOTS.intermediate.lot, qty("100", "Units"), stock, production, 22, {
        orderRef: "WH/MO/00002",
      }),
    ),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("PRODUCTION", FG, LOTS.finished.lot, qty("100", "Units"), production, stock, 25, {
        orderRef: "WH/MO/00002",
      }),
    ),
    ev("mfg.production.production_posted.v1", {
      sourceEventId: "evt-report-fg",
      orderRef: "WH/MO/00002",
      odooOrderId: 2n,
      lot: LOTS.finished.lot,
      postedGoodQuantity: qty("100", "Units"),
      postedRejectQuantity: qty("0", "Units"),
      odooRecords: [],
      postedAt: at(25),
    }),
    // 60 shipped to the customer.
    ev("mfg.shipping.shipment_requested.v1", {
      pickingRef: SHIPMENT,
      odooPickingId: 501n,
      site: SITE,
      customerRef: CUSTOMER.ref,
      customerName: CUSTOMER.name,
      salesOrderRef: "S00017",
      lines: [{ product: FG, lot: LOTS.finished.lot, quantity: qty("60", "Units") }],
      scheduledAt: null,
      requestedAt: at(30),
    }),
    ev(
      "mfg.inventory.goods_movement_posted.v1",
      movement("DELIVERY", FG, LOTS.finished.lot, qty("60", "Units"), stock, "Partners/Customers", 35, {
        pickingRef: SHIPMENT,
      }),
    ),
    // The 40 left are held.
    ev("mfg.quality.quality_hold_placed.v1", {
      holdId: "HOLD-1",
      site: SITE,
      lot: LOTS.finished.lot,
      product: FG,
      quantity: null,
      reason: "bore diameter out of spec",
      status: "ACTIVE",
      triggeredBy: null,
      placedBy: "qa.lead",
      placedAt: at(40),
    }),
  ];
}

/** The story as the projection takes it: ids and sequences in order. */
export function genealogyEvents(): ProjectedEvent[] {
  return story().map(([type, value], i) => ({
    id: `evt-${String(i + 1).padStart(3, "0")}`,
    stream: `MFG_${type.split(".")[1]?.toUpperCase()}`,
    seq: i + 1,
    type,
    value,
  }));
}

/** An embedded database holding the story; `close` removes it. */
export async function genealogyDatabase(): Promise<{ db: Database; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-"));
  const db = await openDatabase({ dataDir: dir, owner: "genealogy-test" });
  await migrate(db, SCHEMA);
  await db.transaction((tx) => applyEvents(tx, SCHEMA, genealogyEvents()));
  return {
    db,
    close: async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The bearer token of the test server. */
export const TOKEN = "genealogy-test-token-0123456789";

export interface GenealogyServer {
  readonly app: FastifyInstance;
  /** How many times POST /genealogy/rebuild ran the rebuild. */
  readonly rebuilds: () => number;
  close(): Promise<void>;
}

/**
 * Fastify with the genealogy's routes over the story's database (as the service wires them: the real
 * queries, the default EPCIS export; the rebuild only counted). `queries` replaces the real queries (a service
 * still starting, a database gone).
 */
export async function genealogyServer(
  options: { queries?: () => GenealogyQueryApi | undefined; down?: () => boolean } = {},
): Promise<GenealogyServer> {
  const { db, close } = await genealogyDatabase();
  const queries = new GenealogyQueries(db, SCHEMA);
  let rebuilds = 0;
  const app = Fastify({ logger: false });
  registerGenealogyRoutes(app, {
    token: TOKEN,
    queries: options.queries ?? (() => (options.down?.() ? undefined : queries)),
    rebuild: async () => {
      rebuilds++;
      return { events: genealogyEvents().length };
    },
  });
  await app.ready();
  return {
    app,
    rebuilds: () => rebuilds,
    close: async () => {
      await app.close();
      await close();
    },
  };
}
