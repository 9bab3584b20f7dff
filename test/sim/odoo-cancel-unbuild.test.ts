/**
 * Specification: cancelling orders and transfers, and unbuilding (research note B §2–§3).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type Action, m2o, openSim, type Row, type Session, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - cancel and unbuild`, () => {
    let fx: SimFixture;
    let mrp: Session;
    const ref = (x: string) => fx.sim.env.ref(x);
    const lotField = profile >= 19 ? "lot_producing_ids" : "lot_producing_id";
    /** A closed order of honey jars (lot HJ-…), components consumed with the honey lot. */
    const doneJars = async (qty: number, lotName: string) => {
      const mo = await mrp.newMo("FIN-HJ250", qty);
      const lot = await mrp.call<number>("stock.lot", "create", [
        { name: lotName, product_id: await mrp.product("FIN-HJ250") },
      ]);
      await mrp.call("mrp.production", "write", [
        [mo],
        { qty_producing: qty, ...(profile >= 19 ? { [lotField]: [[6, 0, [lot]]] } : { [lotField]: lot }) },
      ]);
      for (const m of (await mrp.components(mo)).values())
        await mrp.call("stock.move", "write", [
          [m["id"]],
          profile === 16
            ? { quantity_done: m["product_uom_qty"] }
            : { quantity: m["product_uom_qty"], picked: true },
        ]);
      assert.equal(await mrp.call("mrp.production", "button_mark_done", [[mo]]), true);
      return { mo, lot };
    };

    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
    });
    after(() => fx.sim.stop());

    test("action_cancel on a confirmed order cancels it, its moves (reservations released) and its work orders", async () => {
      const mo = await mrp.newMo("FIN-GB40", 10);
      assert.equal(await mrp.call("mrp.production", "action_cancel", [[mo]]), true);
      const row = await mrp.read("mrp.production", mo, [
        "state",
        "move_raw_ids",
        "move_finished_ids",
        "workorder_ids",
      ]);
      assert.equal(row["state"], "cancel");
      const moves = await mrp.readMany(
        "stock.move",
        [...(row["move_raw_ids"] as number[]), ...(row["move_finished_ids"] as number[])],
        ["state", "move_line_ids"],
      );
      assert.ok(moves.every((m) => m["state"] === "cancel" && (m["move_line_ids"] as number[]).length === 0));
      const wos = await mrp.readMany("mrp.workorder", row["workorder_ids"] as number[], ["state"]);
      assert.ok(wos.every((w) => w["state"] === "cancel"));
    });

    test(
      profile >= 19
        ? "19: cancelling a done order is refused"
        : `${profile}: cancelling a done order leaves it done (its done moves are left alone)`,
      async () => {
        const { mo } = await doneJars(4, `HJ-C-${profile}`);
        if (profile >= 19)
          await mrp.fails(
            "mrp.production",
            "action_cancel",
            [[mo]],
            "odoo.exceptions.UserError",
            "You cannot cancel a manufacturing order that is already done.",
          );
        else assert.equal(await mrp.call("mrp.production", "action_cancel", [[mo]]), true);
        assert.equal((await mrp.read("mrp.production", mo, ["state"]))["state"], "done");
      },
    );

    test("stock.picking.action_cancel: a done transfer cannot be cancelled; an open one is cancelled and locked", async () => {
      const [done] = await mrp.search("stock.picking", [["state", "=", "done"]], { limit: 1 });
      await mrp.fails(
        "stock.picking",
        "action_cancel",
        [[done]],
        "odoo.exceptions.UserError",
        "You cannot cancel a stock move that has been set to 'Done'. Create a return in order to reverse the moves which took place.",
      );
      const [open] = await mrp.search("stock.picking", [["state", "=", "assigned"]], { limit: 1 });
      assert.equal(await mrp.call("stock.picking", "action_cancel", [[open]]), true);
      const row = await mrp.read("stock.picking", open as number, ["state", "is_locked"]);
      assert.deepEqual([row["state"], row["is_locked"]], ["cancel", true]);
    });

    test("unbuild: only done orders; a tracked product needs its lot", async () => {
      const open = await mrp.newMo("FIN-HJ250", 2);
      const product = await mrp.product("FIN-HJ250");
      const anyLot = await mrp.call<number>("stock.lot", "create", [
        { name: `HJ-U0-${profile}`, product_id: product },
      ]);
      const early = await mrp.call<number>("mrp.unbuild", "create", [
        { product_id: product, mo_id: open, product_qty: 1, lot_id: anyLot },
      ]);
      await mrp.fails(
        "mrp.unbuild",
        "action_unbuild",
        [[early]],
        "odoo.exceptions.UserError",
        "You cannot unbuild a undone manufacturing order.",
      );
      const { mo, lot } = await doneJars(6, `HJ-U1-${profile}`);
      const noLot = await mrp.call<number>("mrp.unbuild", "create", [
        { product_id: product, mo_id: mo, product_qty: 2 },
      ]);
      const row = await mrp.read("mrp.unbuild", noLot, ["lot_id", "name"]);
      assert.match(String(row["name"]), /^UB\/\d{5}$/);
      // 18 computes the lot from the order; 16/17 (onchange) and 19 do not
      assert.equal(m2o(row["lot_id"]), profile === 18 ? lot : false);
      if (profile !== 18)
        await mrp.fails(
          "mrp.unbuild",
          "action_unbuild",
          [[noLot]],
          "odoo.exceptions.UserError",
          "You should provide a lot number for the final product.",
        );
    });

    test("unbuild: the product goes back into production and the components return with their lots; every move has unbuild_id", async () => {
      const { mo, lot } = await doneJars(8, `HJ-U2-${profile}`);
      const stock = ref("stock.stock_location_stock");
      const quant = async (code: string) =>
        (
          await mrp.call<Row[]>(
            "stock.quant",
            "search_read",
            [
              [
                ["product_id", "=", await mrp.product(code)],
                ["location_id", "=", stock],
              ],
            ],
            {
              fields: ["quantity"],
            },
          )
        ).reduce((s, q) => s + Number(q["quantity"]), 0);
      const [jarsBefore, honeyBefore, productBefore] = [
        await quant("COMP-JAR"),
        await quant("COMP-HNY"),
        await quant("FIN-HJ250"),
      ];
      const id = await mrp.call<number>("mrp.unbuild", "create", [
        { product_id: await mrp.product("FIN-HJ250"), mo_id: mo, product_qty: 4, lot_id: lot },
      ]);
      assert.equal(await mrp.call("mrp.unbuild", "action_unbuild", [[id]]), true);
      const u = await mrp.read("mrp.unbuild", id, ["state", "produce_line_ids", "consume_line_ids"]);
      assert.equal(u["state"], "done");
      assert.deepEqual(u["consume_line_ids"], [], "Odoo never writes consume_unbuild_id");
      const moves = await mrp.call<Row[]>("stock.move", "search_read", [[["unbuild_id", "=", id]]], {
        fields: ["product_id", "product_uom_qty", "state", "move_line_ids"],
      });
      assert.equal(moves.length, 5, "the product and its four components");
      assert.deepEqual((u["produce_line_ids"] as number[]).length, 5);
      assert.ok(moves.every((m) => m["state"] === "done"));
      const honeyMove = moves.find((m) =>
        String((m["product_id"] as [number, string])[1]).includes("COMP-HNY"),
      ) as Row;
      const [honeyLine] = await mrp.readMany("stock.move.line", honeyMove["move_line_ids"] as number[], [
        "lot_id",
      ]);
      assert.equal((honeyLine?.["lot_id"] as [number, string] | undefined)?.[1], "HNY-2401");
      assert.deepEqual(
        [await quant("COMP-JAR"), await quant("COMP-HNY"), await quant("FIN-HJ250")],
        [jarsBefore + 4, honeyBefore + 1, productBefore - 4],
      );
    });

    test("unbuild action_validate: stock short returns stock.warn.insufficient.qty.unbuild", async () => {
      const { mo, lot } = await doneJars(2, `HJ-U3-${profile}`);
      const id = await mrp.call<number>("mrp.unbuild", "create", [
        { product_id: await mrp.product("FIN-HJ250"), mo_id: mo, product_qty: 50, lot_id: lot },
      ]);
      const action = (await mrp.call<Action>("mrp.unbuild", "action_validate", [[id]])) as Action;
      assert.equal(action.res_model, "stock.warn.insufficient.qty.unbuild");
      assert.equal(action.context["default_unbuild_id"], id);
    });
  });
}
