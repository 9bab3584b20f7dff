/**
 * Master data from Odoo, against the Odoo simulator (over HTTP) and a real nats-server: the inbound
 * sync publishes every unit, product, BoM, work centre, location and shipping partner of the seeded
 * database once, keeps the latest version per record in MFG_MASTERDATA, publishes a change once, and
 * refuses what it cannot vouch for (a zero unit ratio, a BoM cycle, an unknown shape) with a reason
 * and a metric; the SDK reader loads the current versions at start and follows changes.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { EventType } from "../../contracts/src/events.generated.js";
import { InboundSync, type PassReport } from "../../services/odoo-connector/src/inbound/index.js";
import { MASTERDATA_SOURCES } from "../../services/odoo-connector/src/inbound/mapping/index.js";
import { MasterData, type MasterDataChange } from "../../streams/src/masterdata.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { until } from "../harness/wait.js";
import {
  connectOdoo,
  connectorPublisher,
  connectorStateKv,
  type Stored,
  startOdoo,
  startStreams,
  storedEvents,
} from "./fixture.js";

const { nc } = await startStreams();

const UNIT = "mfg.masterdata.unit.v1";
const PRODUCT = "mfg.masterdata.product.v1";
const BOM = "mfg.masterdata.bill_of_materials.v1";
const WORK_CENTER = "mfg.masterdata.work_center.v1";
const LOCATION = "mfg.masterdata.location.v1";
const PARTNER = "mfg.masterdata.partner.v1";
const MODELS = MASTERDATA_SOURCES.map((s) => s.model);
const EVERY = [["active", "in", [true, false]]];

const plain = <T>(v: T): T => structuredClone(v);
const published = (reports: readonly PassReport[]) => reports.reduce((n, r) => n + r.published, 0);

async function syncFor(t: { after(fn: () => unknown): void }, sim: OdooSimulator, site: string) {
  const client = await connectOdoo(t as never, sim, { ratePerSecond: 1000 });
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
  });
  const sync = new InboundSync({
    client,
    publisher: connectorPublisher(nc, site),
    kv: await connectorStateKv(nc),
    db: sim.db,
    site,
    models: MODELS,
    minPassIntervalMs: 0,
    registry,
    logger: pino({ level: "info" }, sink),
  });
  t.after(() => sync.stop());
  return { sync, registry, logs: lines };
}

/** The stored messages of one record's subject (MFG_MASTERDATA keeps one). */
async function versionsOf<K extends EventType>(type: K, site: string, odooId: number): Promise<Stored<K>[]> {
  return (await storedEvents(nc, type, site)).filter((e) => e.subject.endsWith(`.${site}.${odooId}`));
}

for (const profile of [16, 19] as const) {
  test(`inbound master data - Odoo ${profile}: every kind is published once from the seeded data, a change once as the latest version, and a re-read publishes nothing`, async (t) => {
    const site = `md${profile}`;
    const sim = await startOdoo(t, { profile, db: `masterdata${profile}` }, { threadline: false });
    const { sync } = await syncFor(t, sim, site);

    const first = await sync.syncNow();
    assert.deepEqual(
      first.map((r) => [r.model, r.error, r.invalid, r.refused]),
      MODELS.map((m) => [m, undefined, 0, 0]),
    );

    // ------------------------------------------------------------ units
    const units = await storedEvents(nc, UNIT, site);
    const odooUnits = await sim.env.searchRead("uom.uom", EVERY, ["name"]);
    assert.equal(units.length, odooUnits.length, "one message per unit");
    const dozens = units.find((u) => u.value.name === "Dozens");
    assert.ok(dozens);
    assert.equal(dozens.subject, `mfg.masterdata.unit.${site}.${dozens.value.odooId}`);
    if (profile === 16) {
      assert.equal(dozens.value.category, "Unit");
      assert.equal(dozens.value.uomType, "bigger");
      assert.equal(dozens.value.ratio, "12.000000", "the ratio as typed, not Odoo's 1/12 float");
      assert.equal(dozens.value.relativeFactor, null);
    } else {
      assert.equal(dozens.value.category, null);
      assert.equal(dozens.value.relativeFactor, "12.000000");
      assert.equal(dozens.value.relativeUnit, "Units");
      assert.equal(dozens.value.ratio, null);
    }

    // ------------------------------------------------------------ products
    const products = await storedEvents(nc, PRODUCT, site);
    const odooProducts = await sim.env.searchRead("product.product", EVERY, ["default_code"]);
    assert.equal(products.length, odooProducts.length, "one message per product");
    const cabinet = products.find((p) => p.value.code === "FIN-CC100");
    assert.ok(cabinet);
    assert.equal(cabinet.value.name, "Control Cabinet CC-100");
    assert.equal(cabinet.value.unit, "Units");
    assert.equal(cabinet.value.active, true);
    assert.equal(products.find((p) => p.value.code === "COMP-STL")?.value.tracking, "lot");
    assert.equal(products.find((p) => p.value.code === "COMP-PNT")?.value.unit, "kg");

    // ------------------------------------------------------------ BoMs, work centres, locations, partners
    const boms = await storedEvents(nc, BOM, site);
    assert.equal(boms.length, (await sim.env.searchRead("mrp.bom", EVERY, ["id"])).length);
    const cc100 = boms.find((b) => b.value.code === "CC100");
    assert.ok(cc100);
    assert.equal(cc100.value.consumption, "flexible");
    assert.deepEqual(
      cc100.value.lines.map((l) => [l.product.code, l.quantity.value, l.quantity.uom]),
      [
        ["COMP-STL", "4.000000", "Units"],
        ["COMP-ALU", "6.000000", "Units"],
        ["COMP-SCR", "24.000000", "Units"],
        ["COMP-PCB", "1.000000", "Units"],
        ["COMP-PNT", "0.500000", "kg"],
      ],
    );
    assert.deepEqual(
      cc100.value.operations.map((o) => [o.name, o.durationMinutes]),
      [
        ["Cutting", "12.000000"],
        ["Assembly", "30.000000"],
        ["Painting", "15.000000"],
        ["Packing", "5.000000"],
      ],
    );
    const hj250 = boms.find((b) => b.value.code === "HJ250");
    assert.deepEqual(
      hj250?.value.operations.map((o) => o.workCenter),
      ["L1-FILL", "L1-CAP", "L1-LAB"],
    );
    assert.equal(hj250?.value.lines.find((l) => l.operation !== null)?.operation, "Labelling");

    const centres = await storedEvents(nc, WORK_CENTER, site);
    assert.equal(centres.length, (await sim.env.searchRead("mrp.workcenter", EVERY, ["id"])).length);
    assert.ok(centres.some((w) => w.value.code === "L1-FILL" && w.value.name === "Line 1 Filler"));

    const locations = await storedEvents(nc, LOCATION, site);
    assert.equal(locations.length, (await sim.env.searchRead("stock.location", EVERY, ["id"])).length);
    assert.ok(locations.some((l) => l.value.usage === "customer" && l.value.name === "Customers"));

    const partners = await storedEvents(nc, PARTNER, site);
    const deliveries = await sim.env.searchRead(
      "stock.picking",
      [["picking_type_code", "=", "outgoing"]],
      ["partner_id"],
    );
    const shipTo = new Set(
      deliveries.flatMap((d) => (Array.isArray(d["partner_id"]) ? [d["partner_id"][0]] : [])),
    );
    assert.ok(shipTo.size > 0);
    assert.deepEqual(
      partners.map((p) => Number(p.value.odooId)).sort(),
      [...shipTo].sort(),
      "only the partners deliveries go to (no employees, vendors or the company itself)",
    );

    // ------------------------------------------------------------ a re-read publishes nothing
    assert.equal(published(await sync.syncNow()), 0);

    // ------------------------------------------------------------ changes: each once, the latest kept
    const cabinetId = Number(cabinet.value.odooId);
    await sim.env.write("product.product", [cabinetId], { name: "Control Cabinet CC-100 Mk2" });
    assert.equal(published(await sync.syncNow()), 1, "a rename is one new version");
    let kept = await versionsOf(PRODUCT, site, cabinetId);
    assert.equal(kept.length, 1, "the stream keeps the latest version only");
    assert.equal(kept[0]?.value.name, "Control Cabinet CC-100 Mk2");

    await sim.env.write("product.product", [cabinetId], { active: false });
    assert.equal(published(await sync.syncNow()), 1, "archiving is one new version");
    kept = await versionsOf(PRODUCT, site, cabinetId);
    assert.deepEqual(
      kept.map((k) => [k.value.name, k.value.active]),
      [["Control Cabinet CC-100 Mk2", false]],
    );

    const steelLine = cc100.value.lines.find((l) => l.product.code === "COMP-STL");
    assert.ok(steelLine);
    await sim.env.write("mrp.bom.line", [Number(steelLine.odooId)], { product_qty: 5 });
    assert.equal(published(await sync.syncNow()), 1, "a line change publishes its BoM once");
    const bomKept = await versionsOf(BOM, site, Number(cc100.value.odooId));
    assert.equal(bomKept.length, 1);
    assert.equal(bomKept[0]?.value.lines[0]?.quantity.value, "5.000000");

    // 16-18 store a unit's rounding; 19 computes it from the decimal precision, so there the unit's
    // relative factor changes instead.
    const kg = units.find((u) => u.value.name === "kg");
    assert.ok(kg);
    const unitId = Number((profile === 16 ? kg : dozens).value.odooId);
    await sim.env.write("uom.uom", [unitId], profile === 16 ? { rounding: 0.001 } : { relative_factor: 6 });
    assert.equal(published(await sync.syncNow()), 1, "a unit change is one new version");
    const unitKept = await versionsOf(UNIT, site, unitId);
    assert.deepEqual(
      unitKept.map((u) => (profile === 16 ? u.value.rounding : u.value.relativeFactor)),
      [profile === 16 ? "0.001000" : "6.000000"],
    );
    assert.equal(published(await sync.syncNow()), 0, "and nothing twice");
  });
}

test("inbound master data - the reader loads the current versions at start (not the history) and follows a later change", async (t) => {
  const site = "md-reader";
  const sim = await startOdoo(t, { profile: 17, db: "masterdata-reader" }, { threadline: false });
  const { sync } = await syncFor(t, sim, site);
  await sync.syncNow();
  const [cabinet] = await sim.env.searchRead("product.product", [["default_code", "=", "FIN-CC100"]], ["id"]);
  assert.ok(cabinet);
  const cabinetId = cabinet["id"] as number;
  // Two versions stored one after the other: the reader must see the second only.
  await sim.env.write("product.product", [cabinetId], { name: "Cabinet v2" });
  await sync.syncNow();
  await sim.env.write("product.product", [cabinetId], { name: "Cabinet v3", barcode: "3012345678901" });
  await sync.syncNow();

  const md = MasterData.open(nc, { site });
  t.after(() => md.close());
  await md.ready;
  const products = await sim.env.searchRead("product.product", EVERY, ["id"]);
  assert.equal(md.all("product").length, products.length, "one current version per product");
  assert.equal(md.product("FIN-CC100")?.name, "Cabinet v3");
  assert.equal(md.productByBarcode("3012345678901")?.code, "FIN-CC100");
  assert.equal(md.productById(cabinetId)?.unit, "Units");
  assert.equal(md.unit("Dozens")?.ratio, "12.000000");
  assert.equal(md.workCenter("L1-FILL")?.name, "Line 1 Filler");
  const bom = md.bomOf(cabinetId);
  assert.equal(bom?.code, "CC100");
  assert.equal(bom?.lines.length, 5);
  const customers = md.all("location").find((l) => l.usage === "customer");
  assert.ok(customers);
  assert.equal(md.locationByName(customers.fullName)?.odooId, customers.odooId);

  const changes: MasterDataChange[] = [];
  md.onChange((c) => changes.push(c));
  await sim.env.write("product.product", [cabinetId], { name: "Cabinet v4" });
  await sync.syncNow();
  await until("the change reaches the reader", () => changes.length > 0, { timeoutMs: 10_000 });
  assert.equal(changes.length, 1);
  const [change] = changes;
  assert.equal(change?.kind, "product");
  assert.equal((change?.previous as { name: string } | undefined)?.name, "Cabinet v3");
  assert.equal(plain(change?.value as { name: string }).name, "Cabinet v4");
  assert.equal(md.product("FIN-CC100")?.name, "Cabinet v4");
});

test("inbound master data - a zero unit ratio, a BoM cycle and an unknown shape are refused with a reason and a metric, never published", async (t) => {
  const site = "md-refused";
  const sim = await startOdoo(t, { profile: 17, db: "masterdata-refused" }, { threadline: false });
  const { sync, registry, logs } = await syncFor(t, sim, site);
  await sync.syncNow();

  const [dozens] = await sim.env.searchRead("uom.uom", [["name", "=", "Dozens"]], ["category_id"]);
  assert.ok(dozens);
  const category = (dozens["category_id"] as [number, string])[0];
  const zero = await sim.env.create("uom.uom", {
    name: "Broken",
    category_id: category,
    uom_type: "bigger",
    factor: 0,
  });
  const shapeless = await sim.env.create("uom.uom", {
    name: "Roundless",
    category_id: category,
    uom_type: "smaller",
    factor: 10,
    rounding: 0,
  });
  // CC100 consumes COMP-STL; a BoM making COMP-STL out of FIN-CC100 closes the loop.
  const [steel] = await sim.env.searchRead(
    "product.product",
    [["default_code", "=", "COMP-STL"]],
    ["product_tmpl_id"],
  );
  const [cabinet] = await sim.env.searchRead("product.product", [["default_code", "=", "FIN-CC100"]], ["id"]);
  assert.ok(steel && cabinet);
  const cycle = await sim.env.create("mrp.bom", {
    product_tmpl_id: (steel["product_tmpl_id"] as [number, string])[0],
    product_qty: 1,
    product_uom_id: dozens["id"] as number,
    code: "LOOP",
  });
  await sim.env.create("mrp.bom.line", { bom_id: cycle, product_id: cabinet["id"], product_qty: 1 });

  const reports = await sync.syncNow();
  const refused = Object.fromEntries(reports.filter((r) => r.refused > 0).map((r) => [r.model, r.refused]));
  assert.deepEqual(refused, { "uom.uom": 2, "mrp.bom": 1, "mrp.bom.line": 1 });

  const units = (await storedEvents(nc, UNIT, site)).map((u) => u.value.name);
  assert.ok(!units.includes("Broken") && !units.includes("Roundless"), "refused units are not published");
  const boms = (await storedEvents(nc, BOM, site)).map((b) => b.value.code);
  assert.ok(!boms.includes("LOOP"), "the BoM in a cycle is not published");

  const metric = await registry.getSingleMetricAsString("threadline_odoo_masterdata_refused_total");
  assert.match(metric, /model="uom.uom",code="CONNECTOR_UNIT_FACTOR_ZERO"} 1/);
  assert.match(metric, /model="uom.uom",code="CONNECTOR_MASTERDATA_SHAPE_UNKNOWN"} 1/);
  assert.match(metric, /model="mrp.bom",code="CONNECTOR_BOM_CYCLE"} 2/);

  const refusals = logs.filter((l) => l["msg"]?.toString().startsWith("record refused"));
  const reasons = refusals.map((l) => [l["record"], l["code"]]);
  assert.deepEqual(
    reasons.filter(([r]) => r === `uom.uom:${zero}` || r === `uom.uom:${shapeless}`),
    [
      [`uom.uom:${zero}`, "CONNECTOR_UNIT_FACTOR_ZERO"],
      [`uom.uom:${shapeless}`, "CONNECTOR_MASTERDATA_SHAPE_UNKNOWN"],
    ],
  );
  const loop = refusals.find((l) => l["record"] === `mrp.bom:${cycle}`);
  assert.match(
    String(loop?.["reason"]),
    /is in a cycle: product\.template:\d+ -> product\.template:\d+ -> product\.template:\d+/,
  );

  // Refused records are read again only when they change: a re-read refuses nothing new.
  assert.equal(
    (await sync.syncNow()).reduce((n, r) => n + r.refused, 0),
    0,
  );
});
