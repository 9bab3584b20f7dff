/**
 * Specification: reservation of a manufacturing order's components — at confirmation when the
 * operation type says so, partial when stock is short, `reservation_state` from the component moves,
 * and stock that arrives later reserved only by "Check availability" (`action_assign`).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { receiveStock } from "../../tools/sim/odoo/scenarios.js";
import { openSim, type Session, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - reservation of an order's components`, () => {
    let fx: SimFixture;
    let mrp: Session;
    const reserved = profile === 16 ? "reserved_availability" : "quantity";
    const moves = async (mo: number) => {
      const out: Record<string, [string, number, number]> = {};
      for (const [code, m] of await mrp.components(mo, [reserved]))
        out[code] = [String(m["state"]), Number(m["product_uom_qty"]), Number(m[reserved])];
      return out;
    };
    const readiness = async (mo: number) =>
      (await mrp.read("mrp.production", mo, ["reservation_state"]))["reservation_state"];

    before(async () => {
      // 400 jars on hand: an order of 1 000 honey jars is short of jars only
      fx = await openSim(profile, { onHand: { "COMP-JAR": 400 } });
      mrp = fx.integration;
    });
    after(() => fx.sim.stop());

    test("confirming reserves what is on hand: everything in stock → assigned moves, the order Ready", async () => {
      const mo = await mrp.newMo("FIN-GB40", 100);
      const got = await moves(mo);
      assert.deepEqual(got["COMP-OAT"], ["assigned", 2.5, 2.5]);
      assert.deepEqual(got["COMP-WRP"], ["assigned", 100, 100]);
      assert.equal(await readiness(mo), "assigned");
      await mrp.call("mrp.production", "action_cancel", [[mo]]);
    });

    test("a short component is partially reserved and the order Waiting; stock received is not reserved until Check availability", async () => {
      const mo = await mrp.newMo("FIN-HJ250", 1000);
      let got = await moves(mo);
      assert.deepEqual(got["COMP-JAR"], ["partially_available", 1000, 400]);
      assert.deepEqual(got["COMP-CAP"], ["assigned", 1000, 1000]);
      assert.equal(await readiness(mo), "confirmed", "partially_available reads Waiting");

      await receiveStock(fx.sim.env, profile, "COMP-JAR", 600);
      got = await moves(mo);
      assert.deepEqual(
        got["COMP-JAR"],
        ["partially_available", 1000, 400],
        "Odoo does not re-reserve by itself",
      );
      assert.equal(await readiness(mo), "confirmed");

      assert.equal(await mrp.call("mrp.production", "action_assign", [[mo]]), true);
      got = await moves(mo);
      assert.deepEqual(got["COMP-JAR"], ["assigned", 1000, 1000]);
      assert.equal(await readiness(mo), "assigned");
      await mrp.call("mrp.production", "action_cancel", [[mo]]);
    });

    test("nothing on hand: the move stays confirmed with nothing reserved, the order Waiting", async () => {
      const jars = (await moves(await mrp.newMo("FIN-HJ250", 1000)))["COMP-JAR"] as [string, number, number];
      // the previous order's cancel released its jars: take them all first
      assert.equal(jars[0], "assigned");
      const mo = await mrp.newMo("FIN-HJ250", 10);
      assert.deepEqual((await moves(mo))["COMP-JAR"], ["confirmed", 10, 0]);
      assert.equal(await readiness(mo), "confirmed");
    });

    test("an operation type reserving 'manual'ly reserves nothing at confirmation; action_assign does", async () => {
      const type = fx.sim.env.ref("mrp.picking_type_manufacturing");
      await fx.admin.call("stock.picking.type", "write", [[type], { reservation_method: "manual" }]);
      try {
        const mo = await mrp.newMo("FIN-GB40", 10);
        const before = await moves(mo);
        assert.deepEqual(before["COMP-OAT"], ["confirmed", 0.25, 0]);
        assert.equal(await readiness(mo), "confirmed");
        await mrp.call("mrp.production", "action_assign", [[mo]]);
        assert.deepEqual((await moves(mo))["COMP-OAT"], ["assigned", 0.25, 0.25]);
        assert.equal(await readiness(mo), "assigned");
      } finally {
        await fx.admin.call("stock.picking.type", "write", [[type], { reservation_method: "at_confirm" }]);
      }
    });
  });
}
