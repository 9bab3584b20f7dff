/**
 * Inbound sync against the Odoo simulator (over HTTP) and a real nats-server with the declared
 * streams, for every supported Odoo version: what the seeded database becomes, what later changes
 * become, that nothing is published twice, and that a restarted sync resumes from its cursor.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import type { EventType } from "../../contracts/src/events.generated.js";
import { InboundSync } from "../../services/odoo-connector/src/inbound/index.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
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

const RELEASED = "mfg.production.production_order_released.v1";
const CHANGED = "mfg.production.production_order_changed.v1";
const COMPLETED = "mfg.production.production_order_completed.v1";
const LOT = "mfg.inventory.lot_registered.v1";
const CONSUMED = "mfg.inventory.material_consumed.v1";
const MOVED = "mfg.inventory.goods_movement_posted.v1";
const SHIPMENT = "mfg.shipping.shipment_requested.v1";
const ALL = [RELEASED, CHANGED, COMPLETED, LOT, CONSUMED, MOVED, SHIPMENT] as const;

async function countsOf(site: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const type of ALL) out[type] = (await storedEvents(nc, type, site)).length;
  return out;
}

/** The manufacturing order with this origin (the seed gives each a distinct one). */
async function orderByOrigin(sim: OdooSimulator, origin: string): Promise<{ id: number; name: string }> {
  const [row] = await sim.env.searchRead("mrp.production", [["origin", "=", origin]], ["name"]);
  assert.ok(row, `no order with origin ${origin}`);
  return { id: row["id"] as number, name: row["name"] as string };
}

function byKey<K extends EventType>(events: Stored<K>[], key: string): Stored<K>[] {
  return events.filter((e) => e.key === key);
}

/** A decoded Avro record as a plain object (decoded records are class instances). */
const plain = <T>(v: T): T => structuredClone(v);

function assertUniqueIds(events: readonly { id: string }[], what: string): void {
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, `${what}: an event id repeats`);
}

for (const profile of [16, 17, 18, 19] as const) {
  test(`inbound sync - Odoo ${profile}: seeded data, later changes and a restart each publish every fact exactly once`, async (t) => {
    const site = `odoo${profile}`;
    const sim = await startOdoo(t, { profile, db: `inbound${profile}` });
    const client = await connectOdoo(t, sim, { ratePerSecond: 1000 });
    const kv = await connectorStateKv(nc);
    const newSync = () =>
      new InboundSync({
        client,
        publisher: connectorPublisher(nc, site),
        js: jetstream(nc),
        kv,
        db: sim.db,
        site,
        lineByWorkcenter: { CNC: "line-cnc" },
        minPassIntervalMs: 0,
        registry: new Registry(),
      });
    const sync = newSync();
    t.after(() => sync.stop());

    // ---------------------------------------------------------------- the seeded database
    const reports = await sync.syncNow();
    assert.deepEqual(
      reports.map((r) => [r.model, r.error, r.invalid]),
      sync.models.map((m) => [m, undefined, 0]),
    );

    const released = await storedEvents(nc, RELEASED, site);
    const open = await sim.env.searchRead(
      "mrp.production",
      [["state", "in", ["confirmed", "progress", "to_close", "done"]]],
      ["name"],
    );
    assert.deepEqual(
      released.map((e) => e.value.orderRef).sort(),
      open.map((r) => r["name"]).sort(),
      "every order past draft (and not cancelled) is released once",
    );
    assertUniqueIds(released, "released");

    const running = await orderByOrigin(sim, "SO-0050");
    const [runningRow] = await sim.env.read("mrp.production", [running.id], [sim.profile.mrpPlannedStart]);
    const [r] = byKey(released, running.name);
    assert.ok(r);
    assert.equal(r.subject, `mfg.production.production_order_released.${site}.line-cnc`);
    assert.equal(r.value.odooOrderId, BigInt(running.id));
    assert.deepEqual(plain(r.value.product), {
      code: "FIN-CC100",
      name: "Control Cabinet CC-100",
      odooId: r.value.product.odooId,
    });
    assert.deepEqual(plain(r.value.quantity), { value: "5.000000", uom: "Units" });
    assert.equal(
      r.value.plannedStartAt.toISOString(),
      new Date(`${String(runningRow?.[sim.profile.mrpPlannedStart]).replace(" ", "T")}Z`).toISOString(),
    );
    assert.equal(r.value.workCenterCode, "CNC");
    assert.deepEqual(plain(r.value.equipment), {
      site,
      area: null,
      line: "line-cnc",
      cell: null,
      machine: null,
    });
    assert.equal(r.value.lotToProduce, "CC-2024-0002");
    assert.equal(r.value.origin, "SO-0050");
    assert.deepEqual(
      r.value.components.map((c) => [c.product.code, c.quantity.value, c.quantity.uom, c.lot]),
      [
        ["COMP-STL", "20.000000", "Units", "STL-2401"],
        ["COMP-ALU", "30.000000", "Units", null],
        ["COMP-SCR", "120.000000", "Units", null],
        ["COMP-PCB", "5.000000", "Units", "PCB-1001"],
        ["COMP-PNT", "2.500000", "kg", "PNT-0001"],
      ],
    );

    const seededDone = await orderByOrigin(sim, "SO-0040");
    const completed = await storedEvents(nc, COMPLETED, site);
    assert.deepEqual(
      completed.map((e) => [e.value.orderRef, e.value.producedQuantity.value, e.value.lot]),
      [[seededDone.name, "25.000000", null]],
    );
    assert.ok(
      byKey(released, seededDone.name)[0] && byKey(released, seededDone.name)[0]!.seq < completed[0]!.seq,
      "an order first seen done is released before it is completed",
    );

    const lots = await storedEvents(nc, LOT, site);
    assert.deepEqual(lots.map((e) => e.value.lot).sort(), [
      "CC-2024-0001",
      "CC-2024-0002",
      "HNY-2401",
      "PCB-1001",
      "PNT-0001",
      "STL-2401",
      "STL-2402",
    ]);
    assert.equal(lots.find((e) => e.value.lot === "CC-2024-0002")?.value.orderRef, running.name);
    assert.equal(lots.find((e) => e.value.lot === "STL-2401")?.value.orderRef, null);

    const consumed = await storedEvents(nc, CONSUMED, site);
    assert.deepEqual(
      consumed
        .map((e) => [
          e.value.orderRef,
          e.value.component.code,
          e.value.componentLot,
          e.value.quantity.value,
          e.value.producedProduct.code,
        ])
        .sort(),
      [
        [seededDone.name, "COMP-SCR", null, "100.000000", "FIN-SB20"],
        [seededDone.name, "COMP-STL", "STL-2401", "25.000000", "FIN-SB20"],
      ],
    );

    const moved = await storedEvents(nc, MOVED, site);
    // The seeded stock came in by inventory adjustments (from Inventory adjustment to WH/Stock).
    const adjustments = moved.filter((e) => e.value.movementType === "ADJUSTMENT");
    assert.ok(adjustments.length >= 10, `${adjustments.length} seeded adjustments`);
    for (const a of adjustments) assert.equal(a.value.toLocation, "WH/Stock");
    assert.deepEqual(
      moved
        .filter((e) => e.value.movementType !== "ADJUSTMENT")
        .map((e) => [e.value.movementType, e.value.product.code, e.value.quantity.value, e.value.orderRef])
        .sort(),
      [
        ["CONSUMPTION", "COMP-SCR", "100.000000", seededDone.name],
        ["CONSUMPTION", "COMP-STL", "25.000000", seededDone.name],
        ["PRODUCTION", "FIN-SB20", "25.000000", seededDone.name],
        ["RECEIPT", "COMP-ALU", "50.000000", null],
      ],
    );
    const receipt = moved.find((e) => e.value.movementType === "RECEIPT");
    assert.equal(receipt?.value.pickingRef, "WH/IN/00002");
    assert.equal(receipt?.key, "WH/IN/00002");
    assert.equal(receipt?.value.origin, "PO-0006");
    assert.equal(receipt?.value.toLocation, "WH/Stock");

    const shipments = await storedEvents(nc, SHIPMENT, site);
    assert.equal(shipments.length, 1);
    assert.equal(shipments[0]?.value.customerName, "Deco Addict");
    assert.equal(shipments[0]?.value.salesOrderRef, "SO-0040");
    assert.deepEqual(
      shipments[0]?.value.lines.map((l) => [l.product.code, l.lot, l.quantity.value]),
      [["FIN-SB20", null, "25.000000"]],
    );

    // ---------------------------------------------------------------- nothing twice
    const afterSeed = await countsOf(site);
    const again = await sync.syncNow();
    assert.deepEqual(
      again.map((x) => x.published + x.duplicates + x.handled),
      again.map(() => 0),
      "a second pass finds every record version handled",
    );
    assert.deepEqual(await countsOf(site), afterSeed);

    // ---------------------------------------------------------------- later changes
    const draft = await orderByOrigin(sim, "SO-0042");
    await sim.env.call("mrp.production", "action_confirm", [[draft.id]]);
    const confirmed = await orderByOrigin(sim, "SO-0045"); // bracket, confirmed by the seed
    await sim.env.write("mrp.production", [confirmed.id], { product_qty: 33 });
    const toCancel = await orderByOrigin(sim, "SO-0047"); // housing, confirmed by the seed
    await sim.env.call("mrp.production", "action_cancel", [[toCancel.id]]);
    const closing = await orderByOrigin(sim, "SO-0052"); // to_close: every work order finished
    await sim.env.write("mrp.production", [closing.id], { qty_producing: 12 });
    // The planner books every component on the form ("consumed", with the reserved lots), then closes.
    const [closingRow] = await sim.env.read("mrp.production", [closing.id], ["product_qty", "move_raw_ids"]);
    for (const m of (closingRow?.["move_raw_ids"] ?? []) as number[]) {
      const [move] = await sim.env.read("stock.move", [m], ["product_uom_qty"]);
      const qty = (Number(move?.["product_uom_qty"]) * 12) / Number(closingRow?.["product_qty"]);
      await sim.env.write(
        "stock.move",
        [m],
        profile === 16 ? { quantity_done: qty } : { quantity: qty, picked: true },
      );
    }
    assert.equal(await sim.env.call("mrp.production", "button_mark_done", [[closing.id]]), true);
    const [delivery] = await sim.env.search("stock.picking", [["origin", "=", "SO-0053"]]);
    await sim.env.call("stock.picking", "action_confirm", [[delivery]]);

    await sync.syncNow();
    const released2 = await storedEvents(nc, RELEASED, site);
    assert.equal(released2.length, released.length + 1);
    assert.deepEqual(byKey(released2, draft.name).length, 1, "confirming a draft releases it");

    const changed = await storedEvents(nc, CHANGED, site);
    assert.deepEqual(
      changed
        .map((e) =>
          JSON.stringify([
            e.key,
            e.value.changedFields,
            e.value.quantity?.value ?? null,
            e.value.state,
            e.value.previousState,
          ]),
        )
        .sort(),
      [
        [confirmed.name, ["QUANTITY"], "33.000000", null, null],
        [toCancel.name, ["STATE"], null, "CANCEL", "CONFIRMED"],
      ]
        .map((x) => JSON.stringify(x))
        .sort(),
    );

    const completed2 = await storedEvents(nc, COMPLETED, site);
    assert.deepEqual(
      completed2.map((e) => [e.key, e.value.producedQuantity.value]),
      [
        [seededDone.name, "25.000000"],
        [closing.name, "12.000000"],
      ],
    );
    const consumed2 = await storedEvents(nc, CONSUMED, site);
    assert.deepEqual(
      consumed2
        .filter((e) => e.key === closing.name)
        .map((e) => [e.value.component.code, e.value.componentLot, e.value.quantity.value])
        .sort(),
      [
        ["COMP-SCR", null, "48.000000"],
        ["COMP-STL", "STL-2401", "12.000000"],
      ],
    );
    const moved2 = await storedEvents(nc, MOVED, site);
    assert.equal(moved2.length, moved.length + 3, "two components consumed and one product made");

    const shipments2 = await storedEvents(nc, SHIPMENT, site);
    assert.equal(shipments2.length, 2);
    assert.deepEqual(
      shipments2[1]?.value.lines.map((l) => [l.product.code, l.lot, l.quantity.value]),
      [["FIN-CC100", "CC-2024-0001", "1.000000"]],
      "a reserved delivery names its lots",
    );
    for (const type of ALL) assertUniqueIds(await storedEvents(nc, type, site), type);

    // ---------------------------------------------------------------- restart on the same KV
    await sync.stop();
    const beforeRestart = await countsOf(site);
    const restarted = newSync();
    t.after(() => restarted.stop());
    const resumed = await restarted.syncNow();
    assert.deepEqual(
      resumed.map((x) => [x.model, x.published, x.duplicates]),
      resumed.map((x) => [x.model, 0, 0]),
      "a restarted sync resumes from its cursor",
    );
    assert.deepEqual(await countsOf(site), beforeRestart);
    await sim.env.write("mrp.production", [confirmed.id], { product_qty: 34 });
    await restarted.syncNow("mrp.production");
    const changed3 = await storedEvents(nc, CHANGED, site);
    assert.equal(changed3.length, changed.length + 1);
    assert.equal(changed3.at(-1)?.value.quantity?.value, "34.000000");
  });
}
