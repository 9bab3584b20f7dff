/**
 * Specification: manufacturing backorders (`_split_productions`, research note A §4): naming, the
 * group that links the splits, and what `copy_data` carries over — custom fields by their `copied` flag.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import {
  type Action,
  m2o,
  openSim,
  type Row,
  type Session,
  type SimFixture,
  specProduct,
} from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - manufacturing backorders`, () => {
    let fx: SimFixture;
    let mrp: Session;
    const groupField = profile >= 19 ? "production_group_id" : "procurement_group_id";
    /** Produces `qty` (components consumed) and answers the backorder wizard with "Create backorder". */
    const produceWithBackorder = async (mo: number, qty: number): Promise<number> => {
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: qty }]);
      const moves = (await mrp.components(mo)).values();
      for (const m of moves)
        await mrp.call("stock.move", "write", [
          [m["id"]],
          profile === 16 ? { quantity_done: qty * 2 } : { quantity: qty * 2, picked: true },
        ]);
      const wizard = (await mrp.call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
      assert.equal(wizard.res_model, "mrp.production.backorder");
      const result = (await mrp.answer(wizard, "action_backorder")) as Action;
      assert.equal(result.res_model, "mrp.production");
      return result.res_id as number;
    };

    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
      await specProduct(fx.admin, "SPEC-BO", { lines: [["COMP-ALU", 2]], ops: [["L1-FILL", 1]] });
      // custom fields an integration would create: an event id copied to backorders, a counter not
      const model = (await fx.admin.search("ir.model", [["model", "=", "mrp.production"]]))[0];
      await fx.admin.call("ir.model.fields", "create", [
        [
          { name: "x_event_ref", model_id: model, ttype: "char", field_description: "Event" },
          {
            name: "x_counter",
            model_id: model,
            ttype: "integer",
            field_description: "Counter",
            copied: false,
          },
        ],
      ]);
    });
    after(() => fx.sim.stop());

    test("the original is renamed NAME-001, the backorder NAME-002; both share the group", async () => {
      const mo = await mrp.newMo("SPEC-BO", 10);
      const name = String((await mrp.read("mrp.production", mo, ["name"]))["name"]);
      const backorder = await produceWithBackorder(mo, 6);
      const [orig, bo] = await mrp.readMany(
        "mrp.production",
        [mo, backorder],
        [
          "name",
          "state",
          "product_qty",
          "qty_produced",
          "backorder_sequence",
          groupField,
          "mrp_production_backorder_count",
        ],
      );
      assert.deepEqual(
        [
          orig?.["name"],
          orig?.["state"],
          orig?.["product_qty"],
          orig?.["qty_produced"],
          orig?.["backorder_sequence"],
        ],
        [`${name}-001`, "done", 6, 6, 1],
      );
      assert.deepEqual(
        [bo?.["name"], bo?.["state"], bo?.["product_qty"], bo?.["backorder_sequence"]],
        [`${name}-002`, "confirmed", 4, 2],
      );
      assert.ok(m2o(orig?.[groupField]));
      assert.equal(m2o(orig?.[groupField]), m2o(bo?.[groupField]));
      assert.deepEqual(
        [orig?.["mrp_production_backorder_count"], bo?.["mrp_production_backorder_count"]],
        [2, 2],
      );
      const groupModel = profile >= 19 ? "mrp.production.group" : "procurement.group";
      const group = await mrp.read(groupModel, m2o(orig?.[groupField]) as number, [
        profile >= 19 ? "production_ids" : "mrp_production_ids",
      ]);
      assert.deepEqual((Object.values(group).find(Array.isArray) as number[]).sort(), [mo, backorder].sort());
      // the backorder of the backorder is -003
      const third = await produceWithBackorder(backorder, 1);
      assert.equal((await mrp.read("mrp.production", third, ["name"]))["name"], `${name}-003`);
      assert.equal((await mrp.read("mrp.production", backorder, ["name"]))["name"], `${name}-002`);
    });

    test("copy_data: copy=False fields start afresh, custom fields are copied when their copied flag is set", async () => {
      const deadline = "2030-01-01 12:00:00";
      const mo = await mrp.newMo("SPEC-BO", 10, { date_deadline: deadline, priority: "1" });
      await mrp.call("mrp.production", "write", [[mo], { x_event_ref: "evt-42", x_counter: 7 }]);
      const backorder = await produceWithBackorder(mo, 4);
      const bo = await mrp.read("mrp.production", backorder, [
        "x_event_ref",
        "x_counter",
        "origin",
        "date_deadline",
        "qty_producing",
        "state",
        "move_raw_ids",
        "workorder_ids",
        "product_qty",
        "priority",
      ]);
      assert.deepEqual(
        [
          bo["x_event_ref"],
          bo["x_counter"],
          bo["origin"],
          bo["date_deadline"],
          bo["qty_producing"],
          bo["state"],
        ],
        ["evt-42", 0, "SPEC", deadline, 0, "confirmed"],
      );
      // priority is copied, then reset on the original when it is done ('priority': '0')
      assert.equal(bo["priority"], "1");
      assert.equal((bo["move_raw_ids"] as number[]).length, 1);
      assert.equal((bo["workorder_ids"] as number[]).length, 1);
      const [raw] = await mrp.readMany("stock.move", bo["move_raw_ids"] as number[], [
        "product_uom_qty",
        "state",
      ]);
      assert.deepEqual([raw?.["product_uom_qty"], raw?.["state"]], [12, "assigned"]);
    });

    test(
      profile >= 18
        ? "18/19 _get_name_backorder: a trailing number is replaced once the group has a backorder beyond 1"
        : "16/17 _get_name_backorder: the first split of an order appends -001 even after a trailing number",
      async () => {
        const first = await mrp.newMo("SPEC-BO", 10);
        const base = String((await mrp.read("mrp.production", first, ["name"]))["name"]);
        await produceWithBackorder(first, 5);
        const group = m2o((await mrp.read("mrp.production", first, [groupField]))[groupField]);
        const joined = await mrp.newMo("SPEC-BO", 10, { name: `${base}-777`, [groupField]: group });
        await produceWithBackorder(joined, 5);
        const name = (await mrp.read("mrp.production", joined, ["name"]))["name"];
        assert.equal(name, profile >= 18 ? `${base}-001` : `${base}-777-001`);
      },
    );

    test("closing with action_close_mo creates no backorder", async () => {
      const mo = await mrp.newMo("SPEC-BO", 10);
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: 3 }]);
      const alu = (await mrp.components(mo)).get("COMP-ALU") as Row;
      await mrp.call("stock.move", "write", [
        [alu["id"]],
        profile === 16 ? { quantity_done: 6 } : { quantity: 6, picked: true },
      ]);
      const wizard = (await mrp.call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
      assert.equal(await mrp.answer(wizard, "action_close_mo"), true);
      const row: Row = await mrp.read("mrp.production", mo, [
        "state",
        "name",
        "mrp_production_backorder_count",
      ]);
      assert.deepEqual([row["state"], row["mrp_production_backorder_count"]], ["done", 1]);
    });
  });
}
