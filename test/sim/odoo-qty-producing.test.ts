/**
 * Specification: how a manufacturing order's components get their quantities (research note A §1).
 * FIN-HJ250 (honey jar) consumes a jar, a cap, a label (consumed in the Labelling operation: manual
 * consumption in every version) and lot-tracked bulk honey (manual consumption in 16/17 only).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { openSim, type Row, type Session, type SimFixture } from "./odoo-helpers.js";

const snapshot = (c: Map<string, Row>) =>
  Object.fromEntries([...c].map(([k, v]) => [k, [v["quantity"], v["picked"] ?? null, v["state"]]]));

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - qty_producing and component quantities`, () => {
    let fx: SimFixture;
    let mrp: Session;
    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
    });
    after(() => fx.sim.stop());

    test("a plain write of qty_producing never touches the component moves", async () => {
      const mo = await mrp.newMo("FIN-HJ250", 100);
      const before = snapshot(await mrp.components(mo));
      assert.equal(await mrp.call("mrp.production", "write", [[mo], { qty_producing: 40 }]), true);
      assert.deepEqual(snapshot(await mrp.components(mo)), before);
      assert.equal((await mrp.read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 40);
    });

    if (profile === 16)
      test("16 has no public set_qty_producing: calling it fails as for any unknown method", async () => {
        const mo = await mrp.newMo("FIN-HJ250", 10);
        await mrp.fails(
          "mrp.production",
          "set_qty_producing",
          [[mo]],
          "builtins.AttributeError",
          "type object 'mrp.production' has no attribute 'set_qty_producing'",
        );
        await mrp.fails(
          "mrp.production",
          "_set_qty_producing",
          [[mo]],
          "odoo.exceptions.AccessError",
          "Private methods (such as _set_qty_producing) cannot be called remotely.",
        );
      });
    else
      test(
        profile === 17
          ? "17 set_qty_producing fills every component and picks all but manual-consumption moves (label, tracked honey)"
          : `${profile} set_qty_producing runs _set_qty_producing(False): manual-consumption moves (the label) are filled but not picked`,
        async () => {
          const mo = await mrp.newMo("FIN-HJ250", 100);
          await mrp.call("mrp.production", "write", [[mo], { qty_producing: 40 }]);
          // it returns None: JSON-RPC leaves `result` out (odoo/http.py `_response`)
          const done = await mrp.envelope("mrp.production", "set_qty_producing", [[mo]]);
          assert.deepEqual([done.error, "result" in done], [undefined, false]);
          const c = await mrp.components(mo);
          assert.deepEqual(snapshot(c), {
            "COMP-JAR": [40, true, "assigned"],
            "COMP-CAP": [40, true, "assigned"],
            "COMP-LBL": [40, false, "assigned"],
            "COMP-HNY": [10, profile >= 18, "assigned"],
          });
          const many = await mrp.envelope("mrp.production", "set_qty_producing", [[mo, mo + 1]]);
          assert.equal(many.error?.data["name"], "builtins.ValueError");
        },
      );

    test(
      profile === 16
        ? "writing qty_producing on a work order fills the components _set_qty_producing may fill (16: not tracked, not manual)"
        : "writing qty_producing on a work order runs the order's _set_qty_producing",
      async () => {
        const mo = await mrp.newMo("FIN-HJ250", 100);
        const [wo] = (await mrp.read("mrp.production", mo, ["workorder_ids"]))["workorder_ids"] as number[];
        await mrp.call("mrp.workorder", "write", [[wo], { qty_producing: 50 }]);
        assert.equal((await mrp.read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 50);
        const c = snapshot(await mrp.components(mo));
        if (profile === 16)
          assert.deepEqual(c, {
            "COMP-JAR": [50, null, "assigned"],
            "COMP-CAP": [50, null, "assigned"],
            "COMP-LBL": [0, null, "assigned"],
            "COMP-HNY": [0, null, "assigned"],
          });
        else
          assert.deepEqual(c, {
            "COMP-JAR": [50, true, "assigned"],
            "COMP-CAP": [50, true, "assigned"],
            "COMP-LBL": [50, false, "assigned"],
            "COMP-HNY": [12.5, profile >= 18, "assigned"],
          });
      },
    );

    test("the work order's inverse does nothing when the value equals the order's", async () => {
      const mo = await mrp.newMo("FIN-HJ250", 100);
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: 30 }]);
      const before = snapshot(await mrp.components(mo));
      const [wo] = (await mrp.read("mrp.production", mo, ["workorder_ids"]))["workorder_ids"] as number[];
      await mrp.call("mrp.workorder", "write", [[wo], { qty_producing: 30 }]);
      assert.deepEqual(snapshot(await mrp.components(mo)), before);
    });

    test(
      profile === 19
        ? "19: a serial product's qty_producing follows its serial numbers (unless it equals the quantity to produce)"
        : "a serial product is produced one unit at a time: qty_producing is forced to 1",
      async () => {
        const mo = await mrp.newMo("FIN-PH5", 3);
        if (profile === 19) {
          const product = await mrp.product("FIN-PH5");
          const serials = await mrp.call<number[]>("stock.lot", "create", [
            [
              { name: "PH5-SPEC-1", product_id: product },
              { name: "PH5-SPEC-2", product_id: product },
            ],
          ]);
          await mrp.call("mrp.production", "write", [
            [mo],
            { lot_producing_ids: [[6, 0, serials]], qty_producing: 1 },
          ]);
          await mrp.call("mrp.production", "set_qty_producing", [[mo]]);
          assert.equal((await mrp.read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 2);
          return;
        }
        const [wo] = (await mrp.read("mrp.production", mo, ["workorder_ids"]))["workorder_ids"] as number[];
        await mrp.call("mrp.workorder", "write", [[wo], { qty_producing: 3 }]);
        assert.equal((await mrp.read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 1);
        if (profile >= 17) {
          await mrp.call("mrp.production", "write", [[mo], { qty_producing: 3 }]);
          await mrp.call("mrp.production", "set_qty_producing", [[mo]]);
          assert.equal((await mrp.read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 1);
        }
      },
    );

    test("move_raw_ids (1, id, {…}) commands write the component move", async () => {
      const mo = await mrp.newMo("FIN-HJ250", 20);
      const jar = (await mrp.components(mo)).get("COMP-JAR") as Row;
      const vals = profile === 16 ? { quantity_done: 7 } : { quantity: 7, picked: true };
      await mrp.call("mrp.production", "write", [[mo], { move_raw_ids: [[1, jar["id"], vals]] }]);
      const after = (await mrp.components(mo)).get("COMP-JAR") as Row;
      assert.equal(after["quantity"], 7);
      if (profile >= 17) assert.equal(after["picked"], true);
    });

    if (profile >= 17)
      test("a manual-consumption move already picked keeps its quantity when set_qty_producing runs", async () => {
        const mo = await mrp.newMo("FIN-HJ250", 20);
        const label = (await mrp.components(mo)).get("COMP-LBL") as Row;
        await mrp.call("stock.move", "write", [[label["id"]], { quantity: 3, picked: true }]);
        await mrp.call("mrp.production", "write", [[mo], { qty_producing: 20 }]);
        await mrp.call("mrp.production", "set_qty_producing", [[mo]]);
        const c = await mrp.components(mo);
        assert.deepEqual([c.get("COMP-LBL")?.["quantity"], c.get("COMP-JAR")?.["quantity"]], [3, 20]);
      });
  });
}
