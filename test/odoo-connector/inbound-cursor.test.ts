/**
 * The inbound sync's cursor against the Odoo simulator: many records sharing one transaction time
 * across page boundaries (under both of Odoo's datetime comparisons), records committed late with an
 * old write_date, and a lost cursor that must not publish anything twice.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { InboundSync, type InboundSyncOptions } from "../../services/odoo-connector/src/inbound/index.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
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
const LOT = "mfg.inventory.lot_registered.v1";

/** A simulator whose transaction clock the test sets (`clock.at`), the wall clock otherwise. */
async function simWithClock(t: Parameters<typeof startOdoo>[0], profile: 16 | 17 | 18 | 19, db: string) {
  const clock: { at?: () => Date } = {};
  const sim = await startOdoo(t, { profile, db, clock: () => clock.at?.() ?? new Date() });
  return { sim, clock };
}

async function syncFor(
  t: Parameters<typeof startOdoo>[0],
  sim: OdooSimulator,
  site: string,
  options: Partial<InboundSyncOptions> = {},
): Promise<InboundSync> {
  const sync = new InboundSync({
    client: await connectOdoo(t, sim, { ratePerSecond: 1000 }),
    publisher: connectorPublisher(nc, site),
    js: jetstream(nc),
    kv: await connectorStateKv(nc),
    db: sim.db,
    site,
    minPassIntervalMs: 0,
    registry: new Registry(),
    ...options,
  });
  t.after(() => sync.stop());
  return sync;
}

function duplicatesIn(values: readonly string[]): string[] {
  return values.filter((v, i) => values.indexOf(v) !== i);
}

for (const profile of [18, 19] as const) {
  test(`inbound cursor - Odoo ${profile}: 250 records written in one transaction, more than a page, are each published once`, async (t) => {
    const site = `many${profile}`;
    const { sim, clock } = await simWithClock(t, profile, `many${profile}`);
    // Every transaction starts at .437 of its second: up to 18 `> 'S'` matches such rows, on 19 not.
    clock.at = () => {
      const d = new Date();
      d.setUTCMilliseconds(437);
      return d;
    };
    const sync = await syncFor(t, sim, site);
    await sync.syncNow();
    const seeded = (await storedEvents(nc, LOT, site)).length;

    const [product] = await sim.env.search("product.product", [["default_code", "=", "COMP-STL"]]);
    const lotIds = (await sim.env.call("stock.lot", "create", [
      Array.from({ length: 250 }, (_, i) => ({
        name: `BULK-${String(i).padStart(3, "0")}`,
        product_id: product,
      })),
    ])) as number[];
    assert.equal(lotIds.length, 250);
    const [bracket] = await sim.env.search("product.product", [["default_code", "=", "FIN-SB20"]]);
    const orderIds = (await sim.env.call("mrp.production", "create", [
      Array.from({ length: 250 }, (_, i) => ({
        product_id: bracket,
        product_qty: i + 1,
        origin: `BULK-${i}`,
      })),
    ])) as number[];
    await sim.env.call("mrp.production", "action_confirm", [orderIds]);
    const stamps = await sim.env.read("mrp.production", orderIds, ["write_date"]);
    assert.equal(new Set(stamps.map((s) => s["write_date"])).size, 1, "the orders share one write_date");

    const [orders, lots] = await sync
      .syncNow("mrp.production")
      .then(async (r1) => [r1, await sync.syncNow("stock.lot")]);
    assert.equal(orders?.[0]?.published, 250);
    assert.equal(lots?.[0]?.published, 250);

    const lotEvents = await storedEvents(nc, LOT, site);
    const bulkLots = lotEvents.map((e) => e.value.lot).filter((l) => l.startsWith("BULK-"));
    assert.equal(bulkLots.length, 250);
    assert.deepEqual(duplicatesIn(bulkLots), []);
    assert.equal(lotEvents.length, seeded + 250);
    const released = await storedEvents(nc, RELEASED, site);
    const bulkOrders = released
      .filter((e) => e.value.origin?.startsWith("BULK-"))
      .map((e) => e.value.orderRef);
    assert.equal(bulkOrders.length, 250);
    assert.deepEqual(duplicatesIn(bulkOrders), []);

    const again = await sync.syncNow();
    assert.deepEqual(
      again.map((r) => [r.model, r.published, r.duplicates]),
      again.map((r) => [r.model, 0, 0]),
    );
  });

  test(`inbound cursor - Odoo ${profile}: records of one second written by two transactions in reverse id order are all read with tiny pages`, async (t) => {
    const site = `order${profile}`;
    const { sim, clock } = await simWithClock(t, profile, `order${profile}`);
    const sync = await syncFor(t, sim, site, { pageSize: 3, models: ["stock.lot"] });
    await sync.syncNow();
    const [product] = await sim.env.search("product.product", [["default_code", "=", "COMP-PCB"]]);
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 + 2000);
    // The first transaction (lower ids) started later in the second than the second one (higher ids):
    // ordered by write_date, the higher ids come first.
    clock.at = () => new Date(second.getTime() + 800);
    await sim.env.call("stock.lot", "create", [
      Array.from({ length: 10 }, (_, i) => ({ name: `LATE-HALF-${i}`, product_id: product })),
    ]);
    clock.at = () => new Date(second.getTime() + 100);
    await sim.env.call("stock.lot", "create", [
      Array.from({ length: 10 }, (_, i) => ({ name: `EARLY-HALF-${i}`, product_id: product })),
    ]);
    clock.at = undefined;
    await sync.syncNow();
    const names = (await storedEvents(nc, LOT, site))
      .map((e) => e.value.lot)
      .filter((n) => n.includes("-HALF-"));
    assert.equal(names.length, 20);
    assert.deepEqual(duplicatesIn(names), []);
  });
}

test("inbound cursor - a record committed late with a write_date older than the cursor is published thanks to the overlap window", async (t) => {
  const site = "late";
  const { sim, clock } = await simWithClock(t, 17, "late");
  const kv = await connectorStateKv(nc);
  const sync = await syncFor(t, sim, site, { models: ["mrp.production"], overlapMs: 60_000 });
  await sync.syncNow();
  const cursor = (await kv.get("odoo-connector.late.mrp.production"))?.json<{ at: string }>();
  assert.ok(cursor?.at);

  const [a, b] = await sim.env.search("mrp.production", [["state", "=", "confirmed"]], { order: "id" });
  assert.ok(a && b);
  // A transaction that started 20 s ago commits now: its write_date is before the cursor.
  clock.at = () => new Date(Date.now() - 20_000);
  await sim.env.write("mrp.production", [a], { product_qty: 7 });
  // One that started 3 minutes ago: older than the overlap window.
  clock.at = () => new Date(Date.now() - 180_000);
  await sim.env.write("mrp.production", [b], { product_qty: 8 });
  clock.at = undefined;
  const [rowA] = await sim.env.read("mrp.production", [a], ["write_date", "name"]);
  assert.ok(String(rowA?.["write_date"]) < cursor.at, "the late record's write_date is before the cursor");

  await sync.syncNow();
  const changed = await storedEvents(nc, CHANGED, site);
  assert.deepEqual(
    changed.map((e) => [e.key, e.value.quantity?.value]),
    [[rowA?.["name"], "7.000000"]],
    "the late write is published; a write older than the overlap window is not (the window must exceed the longest Odoo transaction)",
  );
  // The older one is picked up with the order's next change, with everything that changed.
  await sim.env.write("mrp.production", [b], { origin: "touched" });
  await sync.syncNow();
  const [, late] = await storedEvents(nc, CHANGED, site);
  assert.equal(late?.value.quantity?.value, "8.000000");
});

test("inbound cursor - a lost cursor and lost order snapshots publish nothing twice (the stream drops re-derived ids)", async (t) => {
  const site = "lost";
  const sim = await startOdoo(t, { profile: 18, db: "lost" });
  const kv = await connectorStateKv(nc);
  const sync = await syncFor(t, sim, site);
  const first = await sync.syncNow();
  const published = first.reduce((n, r) => n + r.published, 0);
  assert.ok(published > 15, `the seed published ${published} events`);
  // Master data is derived by more than one source (a BoM from its lines too, a partner from its
  // deliveries too): the copies were dropped by the stream already on the first pass.
  const derived = published + first.reduce((n, r) => n + r.duplicates, 0);

  for await (const key of await kv.keys("odoo-connector.lost.>")) await kv.delete(key);
  const replayed = await sync.syncNow();
  assert.deepEqual(
    replayed.map((r) => r.error),
    replayed.map(() => undefined),
  );
  assert.equal(
    replayed.reduce((n, r) => n + r.published, 0),
    0,
    "nothing new is stored",
  );
  assert.equal(
    replayed.reduce((n, r) => n + r.duplicates, 0),
    derived,
    "every re-derived event had the id of the one already stored",
  );
});
