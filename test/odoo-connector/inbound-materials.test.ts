/**
 * Inbound sync of component availability (ProductionOrderReleased / Changed `materials`) against the
 * Odoo simulator over HTTP and a real nats-server, per Odoo version: what Odoo reserved per component
 * move (16 `reserved_availability`, 17+ `quantity`), a shortage, stock arriving and "Check
 * availability" pressed by the planner, and nothing new on a re-read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { InboundSync } from "../../services/odoo-connector/src/inbound/index.js";
import { receiveStock } from "../../tools/sim/odoo/scenarios.js";
import {
  connectOdoo,
  connectorPublisher,
  connectorStateKv,
  startOdoo,
  startStreams,
  storedEvents,
} from "./fixture.js";

const { nc } = await startStreams();

const RELEASED = "mfg.production.production_order_released.v1";
const CHANGED = "mfg.production.production_order_changed.v1";

/** A decoded Avro record as a plain object. */
const plain = <T>(v: T): T => structuredClone(v);

for (const profile of [16, 17, 18, 19] as const) {
  test(`inbound materials - Odoo ${profile}: availability on release, a shortage, stock arriving and Check availability, nothing on a re-read`, async (t) => {
    const site = `materials${profile}`;
    // 400 jars on hand: an order of 1 000 honey jars is short of jars only
    const sim = await startOdoo(t, { profile, db: `materials${profile}`, onHand: { "COMP-JAR": 400 } });
    const client = await connectOdoo(t, sim, { ratePerSecond: 1000 });
    const sync = new InboundSync({
      client,
      publisher: connectorPublisher(nc, site),
      js: jetstream(nc),
      kv: await connectorStateKv(nc),
      db: sim.db,
      site,
      lineByWorkcenter: {},
      minPassIntervalMs: 0,
      registry: new Registry(),
    });
    t.after(() => sync.stop());
    await sync.syncNow();

    const release = async (code: string, qty: number) => {
      const [product] = await sim.env.search("product.product", [["default_code", "=", code]]);
      const id = await sim.env.create("mrp.production", {
        product_id: product,
        product_qty: qty,
        origin: "MAT",
      });
      await sim.env.call("mrp.production", "action_confirm", [[id]]);
      const [row] = await sim.env.read("mrp.production", [id], ["name"]);
      return { id, name: String(row?.["name"]) };
    };
    const bars = await release("FIN-GB40", 100);
    const jars = await release("FIN-HJ250", 1000);
    await sync.syncNow("mrp.production");

    const released = async (name: string) => {
      const all = (await storedEvents(nc, RELEASED, site)).filter((e) => e.key === name);
      assert.equal(all.length, 1, `one release of ${name}`);
      return plain(all[0]?.value.materials);
    };
    const row = (m: unknown, code: string) =>
      (m as { components: { product: { code: string }; required: unknown; reserved: unknown }[] }).components
        .filter((c) => c.product.code === code)
        .map((c) => [c.required, c.reserved])[0];

    // all components in stock: reserved = required
    const barMaterials = await released(bars.name);
    assert.equal(barMaterials?.state, "AVAILABLE");
    assert.deepEqual(row(barMaterials, "COMP-OAT"), [
      { value: "2.500000", uom: "kg" },
      { value: "2.500000", uom: "kg" },
    ]);
    assert.deepEqual(row(barMaterials, "COMP-WRP"), [
      { value: "100.000000", uom: "Units" },
      { value: "100.000000", uom: "Units" },
    ]);

    // one component short: PARTIAL, naming it with what is needed and what Odoo reserved
    const jarMaterials = await released(jars.name);
    assert.equal(jarMaterials?.state, "PARTIAL");
    assert.deepEqual(row(jarMaterials, "COMP-JAR"), [
      { value: "1000.000000", uom: "Units" },
      { value: "400.000000", uom: "Units" },
    ]);
    assert.deepEqual(row(jarMaterials, "COMP-CAP"), [
      { value: "1000.000000", uom: "Units" },
      { value: "1000.000000", uom: "Units" },
    ]);

    // stock arrives: Odoo reserves nothing by itself, so nothing changes for the order
    await receiveStock(sim.env, profile, "COMP-JAR", 600);
    await sync.syncNow();
    const changesOf = async (name: string) =>
      (await storedEvents(nc, CHANGED, site)).filter((e) => e.key === name).map((e) => plain(e.value));
    assert.deepEqual(await changesOf(jars.name), []);

    // the planner presses "Check availability": one change, MATERIALS only, now AVAILABLE
    await sim.env.call("mrp.production", "action_assign", [[jars.id]]);
    await sync.syncNow("mrp.production");
    const changes = await changesOf(jars.name);
    assert.equal(changes.length, 1, JSON.stringify(changes.map((c) => c.changedFields)));
    assert.deepEqual(changes[0]?.changedFields, ["MATERIALS"]);
    assert.equal(changes[0]?.materials?.state, "AVAILABLE");
    assert.deepEqual(row(changes[0]?.materials, "COMP-JAR"), [
      { value: "1000.000000", uom: "Units" },
      { value: "1000.000000", uom: "Units" },
    ]);

    // a re-read publishes nothing new
    await sync.syncNow();
    assert.equal((await changesOf(jars.name)).length, 1);
    assert.equal((await changesOf(bars.name)).length, 0);
  });
}
