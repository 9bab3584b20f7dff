/**
 * A machine counting in one unit posting to an order in another, against the Odoo simulator over
 * HTTP as the integration user, per version 16–19 (16–18: categories and factors; 19: relative
 * factors): the counts arrive in the order's unit exactly, good and rejects in different units of one
 * category both convert, and a unit of another category or an unknown one is refused naming both.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProductionReported, Quantity } from "../../contracts/src/events.generated.js";
import type { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { postProductionReported, postRunEnded } from "../../services/odoo-connector/src/outbound/index.js";
import type { PostingContext, PostingEvent } from "../../services/odoo-connector/src/outbound/steps.js";
import { PermanentError } from "../../streams/src/index.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { startOdooSimulator } from "../../tools/sim/odoo/server.js";
import { connectIntegration, postingContext, setUpThreadline } from "./fixture.js";

const T0 = Date.now() - 3_600_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
let sequence = 0;
const q = (value: string, uom: string): Quantity => ({ value, uom });

function counted(order: string, good: Quantity, reject: Quantity): PostingEvent<ProductionReported> {
  return {
    id: `units-report-${++sequence}`,
    value: {
      equipment: { site: "lyon", area: null, line: "line-1", cell: null, machine: "labeler-1" },
      orderRef: order,
      lot: "LOT-U",
      goodQuantity: good,
      rejectQuantity: reject,
      goodCounterFrom: 0n,
      goodCounterTo: 0n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: at(0),
      reportedAt: at(1),
      countingPoint: true,
      rejectedComponent: null,
      running: [{ startedAt: at(0), endedAt: at(1) }],
    },
  };
}

/** An order of `qty` honey jars (a product in Units, its BoM per Unit) in the unit named `uom`. */
async function orderIn(sim: OdooSimulator, uom: string, qty: number): Promise<{ id: number; name: string }> {
  const [product] = await sim.env.search("product.product", [["default_code", "=", "FIN-HJ250"]]);
  const [unit] = await sim.env.search("uom.uom", [["name", "=", uom]]);
  const id = await sim.env.create("mrp.production", {
    product_id: product,
    product_qty: qty,
    product_uom_id: unit,
  });
  await sim.env.call("mrp.production", "action_confirm", [[id]]);
  const [row] = await sim.env.read("mrp.production", [id], ["name"]);
  return { id, name: String(row?.["name"]) };
}

async function order(sim: OdooSimulator, id: number) {
  const [mo] = await sim.env.read("mrp.production", [id], ["qty_producing", "qty_produced", "state"]);
  const v = sim.profile.version;
  const qty = v === 16 ? "quantity_done" : "quantity";
  const moves = await sim.env.searchRead(
    "stock.move",
    [
      ["raw_material_production_id", "=", id],
      ["state", "!=", "cancel"],
    ],
    ["product_id", qty],
  );
  const consumed: Record<string, number> = {};
  for (const m of moves)
    consumed[String((m["product_id"] as [number, string])[1]).replace(/^\[([^\]]+)\].*$/, "$1")] = Number(
      m[qty],
    );
  const postings = await sim.env.searchRead(
    "x_threadline_posting",
    [["x_production_id", "=", id]],
    ["x_good_qty", "x_reject_qty"],
  );
  return {
    producing: Number(mo?.["qty_producing"]),
    produced: Number(mo?.["qty_produced"]),
    state: String(mo?.["state"]),
    consumed,
    postings: postings.map((p) => [Number(p["x_good_qty"]), Number(p["x_reject_qty"])]),
  };
}

async function refused(p: Promise<unknown>): Promise<PermanentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PermanentError, `expected a PermanentError, got ${String(err)}`);
    return err;
  }
  assert.fail("the posting succeeded");
}

for (const profile of [16, 17, 18, 19] as const) {
  describe(`odoo outbound - units: a machine's unit converted to the order's - Odoo ${profile}`, () => {
    let sim: OdooSimulator;
    let client: OdooClient;
    let ctx: PostingContext;

    test("a machine counting Units posts to an order in Dozens exactly: good in Units and rejects in Dozens both convert, components follow, the close scraps the rejects in Dozens", async (t) => {
      sim = await startOdooSimulator({ profile });
      t.after(() => sim.stop());
      await setUpThreadline(t, sim);
      client = await connectIntegration(t, sim);
      ctx = postingContext(client);
      const mo = await orderIn(sim, "Dozens", 10);
      const first = await postProductionReported(ctx, counted(mo.name, q("24", "Units"), q("0.5", "Dozens")));
      assert.equal(first.outcome, "applied");
      assert.deepEqual(first.posted?.postedGoodQuantity, { value: "2.00", uom: "Dozens" });
      assert.deepEqual(first.posted?.postedRejectQuantity, { value: "0.5", uom: "Dozens" });
      // 6 more jars: 0.5 Dozen. 2.5 + 0.5 = 3 Dozens, no float left over.
      await postProductionReported(ctx, counted(mo.name, q("6", "Units"), q("0", "kg")));
      const o = await order(sim, mo.id);
      assert.equal(o.producing, 3, "24 + 6 Units and half a Dozen rejected are 3 Dozens on the order");
      assert.deepEqual(o.postings, [
        [2, 0.5],
        [0.5, 0],
      ]);
      // 3 Dozens are 36 jars: the BoM per Unit scaled through the unit (0.25 kg of honey per jar).
      assert.equal(o.consumed["COMP-JAR"], 36);
      assert.equal(o.consumed["COMP-HNY"], 9);

      const end = await postRunEnded(ctx, {
        id: `units-end-${++sequence}`,
        value: {
          equipment: { site: "lyon", area: null, line: "line-1", cell: null, machine: "labeler-1" },
          orderRef: mo.name,
          lot: "LOT-U",
          reason: "ORDER_CHANGE",
          nextOrderRef: null,
          nextLot: null,
          requestedBy: null,
          endedAt: at(2),
        },
      });
      assert.equal(end.outcome, "applied");
      const done = await order(sim, mo.id);
      assert.equal(done.state, "done");
      assert.equal(done.produced, 3);
      const scraps = await sim.env.searchRead(
        "stock.scrap",
        [
          ["production_id", "=", mo.id],
          ["state", "=", "done"],
        ],
        ["scrap_qty", "product_uom_id"],
      );
      assert.deepEqual(
        scraps.map((s) => [Number(s["scrap_qty"]), (s["product_uom_id"] as [number, string])[1]]),
        [[0.5, "Dozens"]],
      );
      // Stock is kept in the product's unit: 3 Dozens produced, half a Dozen scrapped, 30 jars left.
      const [product] = await sim.env.search("product.product", [["default_code", "=", "FIN-HJ250"]]);
      const quants = await sim.env.searchRead(
        "stock.quant",
        [
          ["product_id", "=", product],
          ["lot_id.name", "=", "LOT-U"],
          ["location_id.usage", "=", "internal"],
        ],
        ["quantity"],
      );
      assert.equal(
        quants.reduce((s, x) => s + Number(x["quantity"]), 0),
        30,
      );

      // A unit of another category, or one Odoo does not know: refused naming both, nothing posted.
      const next = await orderIn(sim, "Units", 100);
      const mismatch = await refused(
        postProductionReported(ctx, counted(next.name, q("20", "Units"), q("0.4", "kg"))),
      );
      assert.equal(mismatch.code, "UOM_CATEGORY_MISMATCH");
      assert.match(mismatch.message, /cannot convert kg .* to Units /);
      const unknown = await refused(
        postProductionReported(ctx, counted(next.name, q("20", "jar"), q("0", "Units"))),
      );
      assert.equal(unknown.code, "UOM_UNKNOWN");
      assert.match(unknown.message, /cannot convert jar to Units: "jar" is not a known unit/);
      const untouched = await order(sim, next.id);
      assert.equal(untouched.producing, 0);
      assert.deepEqual(untouched.postings, []);
    });
  });
}
