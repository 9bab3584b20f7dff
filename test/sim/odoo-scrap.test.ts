/**
 * Specification: `stock.scrap` with mrp (research note B §1): the scrap/move link per version, the
 * default locations, the order link of the scrap move and its exclusion from the order's moves, the
 * insufficient-quantity wizard from on-hand stock, lots, `do_scrap`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type Action, m2o, openSim, type Row, type Session, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - stock.scrap`, () => {
    let fx: SimFixture;
    let mrp: Session;
    const ref = (x: string) => fx.sim.env.ref(x);
    const scrap = async (vals: Row) => mrp.call<number>("stock.scrap", "create", [vals]);
    const scrapMoves = async (id: number): Promise<number[]> =>
      profile === 16
        ? [m2o((await mrp.read("stock.scrap", id, ["move_id"]))["move_id"]) as number].filter(Boolean)
        : ((await mrp.read("stock.scrap", id, ["move_ids"]))["move_ids"] as number[]);
    /** An order of FIN-GB40 (untracked) closed with its components consumed. */
    const doneOrder = async (qty: number) => {
      const mo = await mrp.newMo("FIN-GB40", qty);
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: qty }]);
      for (const m of (await mrp.components(mo)).values())
        await mrp.call("stock.move", "write", [
          [m["id"]],
          profile === 16
            ? { quantity_done: m["product_uom_qty"] }
            : { quantity: m["product_uom_qty"], picked: true },
        ]);
      assert.equal(await mrp.call("mrp.production", "button_mark_done", [[mo]]), true);
      return mo;
    };

    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
    });
    after(() => fx.sim.stop());

    test("the scrap/move link and the scrap flags of the version", async () => {
      const fields = (model: string) =>
        mrp.call<Row>(model, "fields_get", [], { attributes: ["type"] }).then((f) => Object.keys(f));
      const scrapFields = await fields("stock.scrap");
      const moveFields = await fields("stock.move");
      const locationFields = await fields("stock.location");
      assert.equal(scrapFields.includes("move_id"), profile === 16);
      assert.equal(scrapFields.includes("move_ids"), profile >= 17);
      assert.equal(moveFields.includes("scrap_ids"), profile === 16);
      assert.equal(moveFields.includes("scrap_id"), profile >= 17);
      assert.equal(moveFields.includes("scrapped"), profile <= 18);
      assert.equal(moveFields.includes("location_dest_usage"), profile >= 19);
      assert.equal(locationFields.includes("scrap_location"), profile <= 18);
    });

    test(
      profile >= 19
        ? "19: the default scrap location is the first inventory-loss location (Inventory adjustment)"
        : "the default scrap location is the first scrap location (Virtual Locations/Scrap)",
      async () => {
        const id = await scrap({ product_id: await mrp.product("COMP-SCR"), scrap_qty: 1 });
        const row = await mrp.read("stock.scrap", id, ["scrap_location_id", "location_id", "name", "state"]);
        assert.equal(
          m2o(row["scrap_location_id"]),
          ref(profile >= 19 ? "stock.location_inventory" : "stock.stock_location_scrapped"),
        );
        assert.deepEqual(
          [m2o(row["location_id"]), row["name"], row["state"]],
          [ref("stock.stock_location_stock"), "New", "draft"],
        );
      },
    );

    test(
      profile >= 18
        ? `${profile}: the source location follows the order — components location before it is done, finished products location after`
        : `${profile}: the order does not set the source location over RPC (an onchange): the warehouse stock`,
      async () => {
        const open = await mrp.newMo("FIN-GB40", 10);
        const done = await doneOrder(5);
        const product = await mrp.product("FIN-GB40");
        for (const mo of [open, done]) {
          const id = await scrap({ product_id: product, scrap_qty: 1, production_id: mo });
          const loc = m2o((await mrp.read("stock.scrap", id, ["location_id"]))["location_id"]);
          const expected = m2o(
            (await mrp.read("mrp.production", mo, ["location_src_id", "location_dest_id"]))[
              mo === done ? "location_dest_id" : "location_src_id"
            ],
          );
          assert.equal(loc, profile >= 18 ? expected : ref("stock.stock_location_stock"));
        }
      },
    );

    test("scrapping the order's product links the move to it as a finished move, a component as a raw move; neither counts in the order", async () => {
      const mo = await doneOrder(10);
      const before = await mrp.read("mrp.production", mo, [
        "move_raw_ids",
        "move_finished_ids",
        "qty_produced",
      ]);
      const finished = await scrap({
        product_id: await mrp.product("FIN-GB40"),
        scrap_qty: 2,
        production_id: mo,
      });
      const component = await scrap({
        product_id: await mrp.product("COMP-WRP"),
        scrap_qty: 3,
        production_id: mo,
      });
      assert.equal(await mrp.call("stock.scrap", "action_validate", [[finished]]), true);
      assert.equal(await mrp.call("stock.scrap", "action_validate", [[component]]), true);
      const [fMove] = await scrapMoves(finished);
      const [cMove] = await scrapMoves(component);
      const moves = await mrp.readMany(
        "stock.move",
        [fMove as number, cMove as number],
        [
          "production_id",
          "raw_material_production_id",
          "state",
          "origin",
          "picking_type_id",
          profile >= 19 ? "location_dest_usage" : "scrapped",
          ...(profile >= 17 ? ["scrap_id"] : []),
        ],
      );
      assert.deepEqual(
        moves.map((m) => [m2o(m["production_id"]), m2o(m["raw_material_production_id"]), m["state"]]),
        [
          [mo, false, "done"],
          [false, mo, "done"],
        ],
      );
      assert.equal(m2o(moves[0]?.["picking_type_id"]), ref("mrp.picking_type_manufacturing"));
      assert.equal(
        moves[0]?.[profile >= 19 ? "location_dest_usage" : "scrapped"],
        profile >= 19 ? "inventory" : true,
      );
      if (profile >= 17) assert.equal(m2o(moves[0]?.["scrap_id"]), finished);
      const after = await mrp.read("mrp.production", mo, [
        "move_raw_ids",
        "move_finished_ids",
        "qty_produced",
        "scrap_ids",
      ]);
      assert.deepEqual(
        [after["move_raw_ids"], after["move_finished_ids"], after["qty_produced"]],
        [before["move_raw_ids"], before["move_finished_ids"], 10],
      );
      assert.deepEqual((after["scrap_ids"] as number[]).sort(), [finished, component].sort());
      const done = await mrp.read("stock.scrap", finished, ["name", "state", "date_done"]);
      assert.match(String(done["name"]), /^SP\/\d{5}$/);
      assert.equal(done["state"], "done");
    });

    test("stock short in the source location: action_validate returns the insufficient-quantity wizard; its action_done scraps", async () => {
      const id = await scrap({ product_id: await mrp.product("COMP-JAR"), scrap_qty: 50_000 });
      const action = (await mrp.call<Action>("stock.scrap", "action_validate", [[id]])) as Action;
      assert.deepEqual(
        [action.type, action.res_model, action.target, action.name],
        [
          "ir.actions.act_window",
          "stock.warn.insufficient.qty.scrap",
          "new",
          "[COMP-JAR] Glass Jar 250 ml: Insufficient Quantity To Scrap",
        ],
      );
      assert.deepEqual(
        [
          action.context["default_scrap_id"],
          action.context["default_quantity"],
          action.context["default_location_id"],
        ],
        [id, 50_000, ref("stock.stock_location_stock")],
      );
      assert.equal((await mrp.read("stock.scrap", id, ["state"]))["state"], "draft");
      assert.equal(await mrp.answer(action, "action_done"), true);
      assert.equal((await mrp.read("stock.scrap", id, ["state"]))["state"], "done");
    });

    test("do_scrap is public: it scraps without the stock check", async () => {
      const id = await scrap({ product_id: await mrp.product("COMP-CAP"), scrap_qty: 99_999 });
      assert.equal(await mrp.call("stock.scrap", "do_scrap", [[id]]), true);
      assert.equal((await mrp.read("stock.scrap", id, ["state"]))["state"], "done");
    });

    test(
      profile >= 19
        ? "19: a tracked product without lot finds no stock (wizard); its do_scrap needs no lot unless the scrap is an order's"
        : "a tracked product without lot finds no stock (wizard) and do_scrap refuses it",
      async () => {
        const honey = await mrp.product("COMP-HNY");
        const id = await scrap({ product_id: honey, scrap_qty: 1 });
        const action = (await mrp.call<Action>("stock.scrap", "action_validate", [[id]])) as Action;
        assert.equal(action.res_model, "stock.warn.insufficient.qty.scrap");
        const lotMessage =
          profile >= 18
            ? "You need to supply a Lot/Serial Number for product:\n- [COMP-HNY] Bulk Honey"
            : "You need to supply a Lot/Serial Number for product: \n - [COMP-HNY] Bulk Honey";
        if (profile >= 19) assert.equal(await mrp.call("stock.scrap", "do_scrap", [[id]]), true);
        else await mrp.fails("stock.scrap", "do_scrap", [[id]], "odoo.exceptions.UserError", lotMessage);
        const mo = await mrp.newMo("FIN-HJ250", 10);
        const linked = await scrap({ product_id: honey, scrap_qty: 1, production_id: mo });
        await mrp.fails("stock.scrap", "do_scrap", [[linked]], "odoo.exceptions.UserError", lotMessage);
        assert.deepEqual(
          Object.values(await mrp.read("stock.scrap", linked, ["state", "name"])).slice(1),
          ["draft", "New"],
          "the whole call was rolled back",
        );
        const [lot] = await mrp.search("stock.lot", [["name", "=", "HNY-2401"]]);
        await mrp.call("stock.scrap", "write", [[linked], { lot_id: lot }]);
        assert.equal(await mrp.call("stock.scrap", "action_validate", [[linked]]), true);
      },
    );

    test("a zero quantity is refused; a done scrap cannot be deleted", async () => {
      const zero = await scrap({ product_id: await mrp.product("COMP-SCR"), scrap_qty: 0 });
      await mrp.fails(
        "stock.scrap",
        "action_validate",
        [[zero]],
        "odoo.exceptions.UserError",
        "You can only enter positive quantities.",
      );
      const id = await scrap({ product_id: await mrp.product("COMP-SCR"), scrap_qty: 1 });
      await mrp.call("stock.scrap", "action_validate", [[id]]);
      await fx.admin.fails(
        "stock.scrap",
        "unlink",
        [[id]],
        "odoo.exceptions.UserError",
        "You cannot delete a scrap which is done.",
      );
    });
  });
}
