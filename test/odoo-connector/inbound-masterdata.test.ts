/**
 * Master data from Odoo, against the Odoo simulator (over HTTP) and a real nats-server: the inbound
 * sync publishes every unit, product, BoM, work centre, location and shipping partner of the seeded
 * database once, keeps the latest version per record in MFG_MASTERDATA, publishes a change once, and
 * refuses what it cannot vouch for (a zero unit ratio, a BoM cycle, an unknown shape) with a reason,
 * a metric and a dead letter in MFG_DLQ — kept and sent later when MFG_DLQ does not take it, and
 * allowed to the connector's least-privilege user; the SDK reader loads the current versions at start
 * and follows changes.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { EventType } from "../../contracts/src/events.generated.js";
import { ODOO_LETTER_HEADERS } from "../../services/odoo-connector/src/inbound/dead-letters.js";
import { InboundSync, type PassReport } from "../../services/odoo-connector/src/inbound/index.js";
import { MASTERDATA_SOURCES } from "../../services/odoo-connector/src/inbound/mapping/index.js";
import { stateKeyFor } from "../../services/odoo-connector/src/inbound/source.js";
import { INBOUND_DEAD_LETTERS, odooConnectorManifest } from "../../services/odoo-connector/src/manifest.js";
import { type DeadLetter, readDeadLetter } from "../../streams/src/dead-letter.js";
import { MasterData, type MasterDataChange } from "../../streams/src/masterdata.js";
import { DLQ_STREAM, dlqSubject } from "../../streams/src/names.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { readStream } from "../../streams/src/read.js";
import { platformDeclarations } from "../../tools/manifests.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { leastPrivilege } from "../harness/permissions.js";
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
const sum = (reports: readonly PassReport[], key: "refused" | "deadLettered" | "deadLettersPending") =>
  reports.reduce((n, r) => n + r[key], 0);

async function syncFor(
  t: { after(fn: () => unknown): void },
  sim: OdooSimulator,
  site: string,
  o: { nc?: NatsConnection; models?: string[] } = {},
) {
  const conn = o.nc ?? nc;
  const client = await connectOdoo(t as never, sim, { ratePerSecond: 1000 });
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
  });
  const sync = new InboundSync({
    client,
    publisher: connectorPublisher(conn, site),
    js: jetstream(conn),
    kv: await connectorStateKv(conn),
    db: sim.db,
    site,
    models: o.models ?? MODELS,
    minPassIntervalMs: 0,
    registry,
    logger: pino({ level: "info" }, sink),
  });
  t.after(() => sync.stop());
  return { sync, registry, logs: lines };
}

/** The dead letters of the records a site's sync refused (mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound). */
async function refusalLetters(site: string, conn = nc): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const filter = dlqSubject(INBOUND_DEAD_LETTERS.stream, INBOUND_DEAD_LETTERS.producer);
  await readStream(conn, { stream: DLQ_STREAM, filter, ifMissing: "empty" }, (m) => {
    const letter = readDeadLetter(m);
    if (letter.headers.get(ODOO_LETTER_HEADERS.site) === site) out.push(letter);
  });
  return out;
}

const recordOf = (l: DeadLetter) =>
  `${l.headers.get(ODOO_LETTER_HEADERS.model)}:${l.headers.get(ODOO_LETTER_HEADERS.id)}`;

/** A unit of the Dozens' category (Odoo 16–18), `factor` as Odoo stores it. */
async function newUnit(sim: OdooSimulator, name: string, vals: Record<string, unknown>): Promise<number> {
  const [dozens] = await sim.env.searchRead("uom.uom", [["name", "=", "Dozens"]], ["category_id"]);
  assert.ok(dozens);
  return sim.env.create("uom.uom", {
    name,
    category_id: (dozens["category_id"] as [number, string])[0],
    ...vals,
  });
}

/**
 * A unit written around the ORM, as a direct SQL import writes it (`sim.sql`): Odoo's CHECKs refuse a
 * zero factor or rounding over the API (uom_uom.py `_sql_constraints`), so a broken unit reaches the
 * connector only so — and it must refuse it all the same.
 */
async function importedUnit(
  sim: OdooSimulator,
  name: string,
  vals: Record<string, unknown>,
): Promise<number> {
  const [dozens] = await sim.env.searchRead("uom.uom", [["name", "=", "Dozens"]], ["category_id"]);
  assert.ok(dozens);
  return sim.sql.insert("uom.uom", {
    name,
    category_id: (dozens["category_id"] as [number, string])[0],
    ...vals,
  });
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

test("inbound master data - a zero unit ratio, a BoM cycle and an unknown shape are refused with a reason, a metric and a dead letter, never published, while the valid records of the same poll are", async (t) => {
  const site = "md-refused";
  const sim = await startOdoo(t, { profile: 17, db: "masterdata-refused" }, { threadline: false });
  const { sync, registry, logs } = await syncFor(t, sim, site);
  await sync.syncNow();
  assert.deepEqual(await refusalLetters(site), [], "the seeded data refuses nothing");

  const zero = await importedUnit(sim, "Broken", { uom_type: "bigger", factor: 0 });
  const shapeless = await importedUnit(sim, "Roundless", { uom_type: "smaller", factor: 10, rounding: 0 });
  const valid = await newUnit(sim, "Sixpack", { uom_type: "bigger", factor: 1 / 6 });
  // CC100 consumes COMP-STL; a BoM making COMP-STL out of FIN-CC100 closes the loop.
  const [dozens] = await sim.env.searchRead("uom.uom", [["name", "=", "Dozens"]], ["id"]);
  const [steel] = await sim.env.searchRead(
    "product.product",
    [["default_code", "=", "COMP-STL"]],
    ["product_tmpl_id"],
  );
  const [cabinet] = await sim.env.searchRead("product.product", [["default_code", "=", "FIN-CC100"]], ["id"]);
  assert.ok(dozens && steel && cabinet);
  const cycle = await sim.env.create("mrp.bom", {
    product_tmpl_id: (steel["product_tmpl_id"] as [number, string])[0],
    product_qty: 1,
    product_uom_id: dozens["id"] as number,
    code: "LOOP",
  });
  // Odoo runs `_check_bom_cycle` on mrp.bom's own create/write only (mrp_bom.py, odoo/models.py
  // `_validate_fields`): the BoM created with this line in `bom_line_ids` is refused, a line created
  // on its own is accepted — the test sim/odoo-masterdata-constraints shows both.
  await sim.env.create("mrp.bom.line", { bom_id: cycle, product_id: cabinet["id"], product_qty: 1 });

  const reports = await sync.syncNow();
  const refused = Object.fromEntries(reports.filter((r) => r.refused > 0).map((r) => [r.model, r.refused]));
  assert.deepEqual(refused, { "uom.uom": 2, "mrp.bom": 1, "mrp.bom.line": 1 });

  const units = (await storedEvents(nc, UNIT, site)).map((u) => u.value.name);
  assert.ok(!units.includes("Broken") && !units.includes("Roundless"), "refused units are not published");
  assert.ok(units.includes("Sixpack"), "the valid unit of the same poll is published");
  assert.equal((await versionsOf(UNIT, site, valid))[0]?.value.ratio, "6.000000");
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

  // ------------------------------------------------------------ each refused record once in MFG_DLQ
  // The BoM was refused twice (read through its own cursor and through its new line): one letter.
  const letters = await refusalLetters(site);
  assert.deepEqual(
    letters.map((l) => [recordOf(l), l.code]),
    [
      [`uom.uom:${zero}`, "CONNECTOR_UNIT_FACTOR_ZERO"],
      [`uom.uom:${shapeless}`, "CONNECTOR_MASTERDATA_SHAPE_UNKNOWN"],
      [`mrp.bom:${cycle}`, "CONNECTOR_BOM_CYCLE"],
    ],
    "in the order refused",
  );
  assert.equal(sum(reports, "deadLettered"), 3);
  assert.equal(sum(reports, "deadLettersPending"), 0);
  const broken = letters.find((l) => recordOf(l) === `uom.uom:${zero}`);
  assert.ok(broken);
  const [odooBroken] = await sim.env.read("uom.uom", [zero], ["write_date"]);
  assert.deepEqual(
    {
      stream: broken.stream,
      sequence: broken.sequence,
      subject: broken.subject,
      consumer: broken.consumer,
      deliveries: broken.deliveries,
    },
    {
      stream: "MFG_MASTERDATA",
      sequence: undefined,
      subject: `mfg.masterdata.unit.${site}.${zero}`,
      consumer: "odoo-connector-inbound",
      deliveries: 1,
    },
    "where the record would have gone, and that no stream ever held it",
  );
  assert.equal(
    broken.message,
    `uom.uom ${zero} refused: unit "Broken" has factor 0 (Odoo's ratio), which converts nothing`,
  );
  assert.deepEqual(Object.fromEntries(broken.headers.keys().map((k) => [k, broken.headers.get(k)])), {
    "content-type": "application/json",
    [ODOO_LETTER_HEADERS.db]: sim.db,
    [ODOO_LETTER_HEADERS.model]: "uom.uom",
    [ODOO_LETTER_HEADERS.id]: String(zero),
    [ODOO_LETTER_HEADERS.writeDate]: odooBroken?.["write_date"],
    [ODOO_LETTER_HEADERS.site]: site,
  });
  const body = JSON.parse(new TextDecoder().decode(broken.data)) as Record<string, unknown>;
  assert.deepEqual(
    [body["id"], body["name"], body["factor"], body["uom_type"]],
    [zero, "Broken", 0, "bigger"],
  );
  const bomLetter = letters.find((l) => l.code === "CONNECTOR_BOM_CYCLE");
  assert.equal(bomLetter?.subject, `mfg.masterdata.bill_of_materials.${site}.${cycle}`);
  assert.match(String(bomLetter?.message), /is in a cycle: product\.template:\d+ -> /);
  assert.equal(JSON.parse(new TextDecoder().decode(bomLetter?.data))["code"], "LOOP");
  const dead = await registry.getSingleMetricAsString("threadline_dead_lettered_total");
  assert.match(
    dead,
    /stream="MFG_MASTERDATA",consumer="odoo-connector-inbound",reason="CONNECTOR_BOM_CYCLE"} 1/,
  );

  // Refused records are read again only when they change: a re-read refuses nothing new.
  const again = await sync.syncNow();
  assert.deepEqual([sum(again, "refused"), sum(again, "deadLettered")], [0, 0]);
  // Read again all the same (its cursor lost): refused again, but MFG_DLQ keeps one letter per
  // record version and reason (Nats-Msg-Id).
  await (await connectorStateKv(nc)).delete(stateKeyFor(sim.db, ["uom.uom"]));
  const reread = await sync.syncNow("uom.uom");
  assert.deepEqual([sum(reread, "refused"), sum(reread, "deadLettered")], [2, 0]);
  assert.equal((await refusalLetters(site)).length, 3);
  // A changed record is a new version: refused again, dead-lettered again.
  // (an ORM write would be refused: PostgreSQL checks the whole row of an UPDATE)
  sim.sql.update("uom.uom", [zero], { name: "Still broken" });
  const changed = await sync.syncNow("uom.uom");
  assert.deepEqual([sum(changed, "refused"), sum(changed, "deadLettered")], [1, 1]);
  assert.deepEqual(
    (await refusalLetters(site)).filter((l) => recordOf(l) === `uom.uom:${zero}`).map((l) => l.message),
    [
      `uom.uom ${zero} refused: unit "Broken" has factor 0 (Odoo's ratio), which converts nothing`,
      `uom.uom ${zero} refused: unit "Still broken" has factor 0 (Odoo's ratio), which converts nothing`,
    ],
  );
});

test("inbound master data - a dead letter MFG_DLQ does not take is kept in the state bucket and stored by a later pass, after a restart too", async (t) => {
  const site = "md-dlq-down";
  const own = await startStreams(t);
  const sim = await startOdoo(t, { profile: 17, db: "masterdata-dlq-down" }, { threadline: false });
  const first = await syncFor(t, sim, site, { nc: own.nc, models: ["uom.uom"] });
  await first.sync.syncNow();
  await own.jsm.streams.delete(DLQ_STREAM);

  const zero = await importedUnit(sim, "Broken", { uom_type: "bigger", factor: 0 });
  await newUnit(sim, "Sixpack", { uom_type: "bigger", factor: 1 / 6 });
  const [down] = await first.sync.syncNow();
  assert.deepEqual(
    [down?.error, down?.refused, down?.deadLettered, down?.deadLettersPending, down?.published],
    [undefined, 1, 0, 1, 1],
    "the refusal waits; the valid unit is published; the pass succeeds",
  );
  const pending = await first.registry.getSingleMetricAsString(
    "threadline_odoo_masterdata_dead_letters_pending",
  );
  assert.match(pending, /model="uom.uom"} 1/);
  assert.ok(
    first.logs.some((l) =>
      String(l["msg"]).startsWith("dead letters of refused records not stored in MFG_DLQ"),
    ),
  );
  // Still missing: tried again, still waiting.
  const [still] = await first.sync.syncNow();
  assert.deepEqual([still?.refused, still?.deadLettered, still?.deadLettersPending], [0, 0, 1]);
  await first.sync.stop();

  // MFG_DLQ back (streams apply), the connector restarted: the letter comes from the state bucket.
  await applyPlan(
    own.jsm,
    await planChanges(own.jsm, platformDeclarations({ profile: "local" }), serverFacts(own.nc)),
    { force: false },
  );
  const second = await syncFor(t, sim, site, { nc: own.nc, models: ["uom.uom"] });
  const [back] = await second.sync.syncNow();
  assert.deepEqual([back?.refused, back?.deadLettered, back?.deadLettersPending], [0, 1, 0]);
  const letters = await refusalLetters(site, own.nc);
  assert.deepEqual(
    letters.map((l) => [recordOf(l), l.code]),
    [[`uom.uom:${zero}`, "CONNECTOR_UNIT_FACTOR_ZERO"]],
  );
  const [letter] = letters;
  assert.ok(letter && letter.firstFailureAt < letter.lastFailureAt, "first refused before the restart");
  const [after] = await second.sync.syncNow();
  assert.deepEqual([after?.deadLettered, after?.deadLettersPending], [0, 0]);
  assert.equal((await refusalLetters(site, own.nc)).length, 1);
});

test("inbound master data - the connector's least-privilege NATS user may dead-letter a refused record, and no other dead-letter subject", async (t) => {
  const site = "md-leastpriv";
  const auth = leastPrivilege(odooConnectorManifest);
  const server = await startTestServer({ extraConfig: auth.authorization }, t);
  const admin = await connectTo(server, auth.admin, t);
  const jsm = await jetstreamManager(admin);
  await applyPlan(
    jsm,
    await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(admin)),
    {
      force: false,
    },
  );
  const errors: string[] = [];
  const service = await connectTo(server, { ...auth.service, inboxPrefix: `_INBOX_${auth.service.user}` }, t);
  void (async () => {
    for await (const s of service.status()) if (s.type === "error") errors.push(String(s.error));
  })();
  const sim = await startOdoo(t, { profile: 17, db: "masterdata-leastpriv" }, { threadline: false });
  const { sync } = await syncFor(t, sim, site, { nc: service, models: ["uom.uom"] });
  await sync.syncNow();
  const zero = await importedUnit(sim, "Broken", { uom_type: "bigger", factor: 0 });
  const [report] = await sync.syncNow();
  assert.deepEqual([report?.error, report?.refused, report?.deadLettered], [undefined, 1, 1]);
  assert.deepEqual(
    (await refusalLetters(site, admin)).map((l) => [recordOf(l), l.code]),
    [[`uom.uom:${zero}`, "CONNECTOR_UNIT_FACTOR_ZERO"]],
  );
  // Exactly that subject: not another stream's, not a durable's.
  for (const subject of [
    dlqSubject("MFG_PRODUCTION", INBOUND_DEAD_LETTERS.producer),
    dlqSubject("MFG_MASTERDATA", "odoo-connector-other"),
  ])
    await assert.rejects(jetstream(service).publish(subject, new Uint8Array(), { timeout: 2_000 }));
  assert.ok(
    errors.every((e) => !e.includes(dlqSubject(INBOUND_DEAD_LETTERS.stream, INBOUND_DEAD_LETTERS.producer))),
    errors.join("; "),
  );
});
