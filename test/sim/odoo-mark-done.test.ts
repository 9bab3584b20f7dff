/**
 * Specification: closing a manufacturing order with `button_mark_done`, per version (research note A
 * §2–§5, §8). Products are made for each case by the administrator; postings run as the integration
 * user (Manufacturing / User only).
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

const NOW = "2025-06-02 10:00:00";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - button_mark_done`, () => {
    let fx: SimFixture;
    let mrp: Session;
    let admin: Session;
    const mo = (code: string, qty: number, vals: Row = {}) => mrp.newMo(code, qty, vals);
    const state = async (id: number) => (await mrp.read("mrp.production", id, ["state"]))["state"];
    const markDone = (id: number, context: Row = {}) =>
      mrp.call<Action | boolean>("mrp.production", "button_mark_done", [[id]], { context });
    /** What a connector does to post consumption: 16 `quantity_done`, 17+ `quantity` + `picked`. */
    const consume = async (id: number, code: string, qty: number) => {
      const move = (await mrp.components(id)).get(code) as Row;
      await mrp.call("stock.move", "write", [
        [move["id"]],
        profile === 16 ? { quantity_done: qty } : { quantity: qty, picked: true },
      ]);
    };

    /** A manufacturing operation type like the seeded one, with `create_backorder` = policy. */
    const typeWith = async (policy: string) => {
      const manufacturing = fx.sim.env.ref("mrp.picking_type_manufacturing");
      const [copy] = await admin.readMany(
        "stock.picking.type",
        [manufacturing],
        [
          "name",
          "code",
          "sequence_code",
          "warehouse_id",
          "default_location_src_id",
          "default_location_dest_id",
        ],
      );
      return admin.call<number>("stock.picking.type", "create", [
        {
          name: `Manufacturing ${policy}`,
          code: "mrp_operation",
          sequence_code: `MO${policy.toUpperCase()}`,
          warehouse_id: m2o(copy?.["warehouse_id"]),
          default_location_src_id: m2o(copy?.["default_location_src_id"]),
          default_location_dest_id: m2o(copy?.["default_location_dest_id"]),
          create_backorder: policy,
        },
      ]);
    };
    const short = async (policy: string) => {
      const id = await mo("SPEC-FLEX", 10, { picking_type_id: await typeWith(policy) });
      await mrp.call("mrp.production", "write", [[id], { qty_producing: 4 }]);
      await consume(id, "COMP-ALU", 8);
      await consume(id, "COMP-SCR", 16);
      return id;
    };

    before(async () => {
      fx = await openSim(profile, { clock: () => new Date(`${NOW.replace(" ", "T")}Z`) });
      mrp = fx.integration;
      admin = fx.admin;
      await specProduct(admin, "SPEC-FLEX", {
        lines: [
          ["COMP-ALU", 2],
          ["COMP-SCR", 4],
        ],
      });
      await specProduct(admin, "SPEC-WARN", {
        consumption: "warning",
        lines: [
          ["COMP-ALU", 2],
          ["COMP-SCR", 4],
        ],
      });
      await specProduct(admin, "SPEC-STRICT", {
        consumption: "strict",
        lines: [
          ["COMP-ALU", 2],
          ["COMP-SCR", 4],
        ],
      });
      await specProduct(admin, "SPEC-OPS", {
        lines: [
          ["COMP-ALU", 2, 0],
          ["COMP-SCR", 4],
        ],
        ops: [["L2-MIX", 2]],
      });
      await specProduct(admin, "SPEC-SERIAL", { tracking: "serial", lines: [["COMP-ALU", 1]] });
    });
    after(() => fx.sim.stop());

    if (profile === 16) {
      test("16: with nothing produced or consumed, the immediate production wizard; processing it produces everything", async () => {
        const id = await mo("SPEC-FLEX", 5);
        const action = (await markDone(id)) as Action;
        assert.equal(action.res_model, "mrp.immediate.production");
        assert.equal(action.type, "ir.actions.act_window");
        assert.deepEqual(action.context["default_mo_ids"], [[4, id]]);
        assert.deepEqual(action.context["button_mark_done_production_ids"], [id]);
        assert.equal(await mrp.answer(action, "process"), true);
        assert.equal(await state(id), "done");
        const c = await mrp.components(id);
        assert.deepEqual(
          [...c.values()].map((m) => [m["quantity"], m["state"]]),
          [
            [10, "done"],
            [20, "done"],
          ],
        );
      });

      test("16: something produced but no component consumed is refused", async () => {
        const id = await mo("SPEC-FLEX", 5);
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        await mrp.fails(
          "mrp.production",
          "button_mark_done",
          [[id]],
          "odoo.exceptions.UserError",
          "You must indicate a non-zero amount consumed for at least one of your components",
        );
        // no work orders and qty_producing >= product_qty: `_compute_state` says to_close
        assert.equal(await state(id), "to_close");
      });

      test("16: components with no done quantity are cancelled at close, the others consumed", async () => {
        const id = await mo("SPEC-FLEX", 5);
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        await consume(id, "COMP-ALU", 10);
        assert.equal(await markDone(id), true);
        const c = await mrp.components(id);
        assert.deepEqual(
          [c.get("COMP-ALU")?.["state"], c.get("COMP-ALU")?.["quantity"], c.get("COMP-SCR")?.["state"]],
          ["done", 10, "cancel"],
        );
      });
    } else {
      test(`${profile}: with nothing produced, _set_quantities produces and consumes everything`, async () => {
        const id = await mo("SPEC-FLEX", 5);
        assert.equal(await markDone(id), true);
        const row = await mrp.read("mrp.production", id, ["state", "qty_produced", "qty_producing"]);
        assert.deepEqual([row["state"], row["qty_produced"], row["qty_producing"]], ["done", 5, 5]);
        const c = await mrp.components(id);
        assert.deepEqual(
          [...c.values()].map((m) => [m["quantity"], m["state"], m["picked"]]),
          [
            [10, "done", true],
            [20, "done", true],
          ],
        );
      });

      test(`${profile}: qty_producing written without set_qty_producing closes a flexible order and cancels every un-picked component`, async () => {
        const id = await mo("SPEC-FLEX", 5);
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        assert.equal(await markDone(id), true);
        const row = await mrp.read("mrp.production", id, ["state", "qty_produced"]);
        assert.deepEqual([row["state"], row["qty_produced"]], ["done", 5]);
        const c = await mrp.components(id);
        assert.deepEqual(
          [...c.values()].map((m) => [m["state"], m["quantity"]]),
          [
            ["cancel", 0],
            ["cancel", 0],
          ],
        );
      });

      test(
        profile === 17
          ? "17: components of work orders are not picked by button_finish: cancelled at close"
          : profile === 18
            ? "18: button_finish picks the un-picked components of the work orders (all of them are linked) at close"
            : "19: button_finish picks the un-picked components consumed in an operation; the others are cancelled",
        async () => {
          const id = await mo("SPEC-OPS", 5);
          await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
          assert.equal(await markDone(id), true);
          const c = await mrp.components(id);
          const got = [c.get("COMP-ALU")?.["state"], c.get("COMP-SCR")?.["state"]];
          if (profile === 17) assert.deepEqual(got, ["cancel", "cancel"]);
          if (profile === 18) assert.deepEqual(got, ["done", "done"]);
          if (profile === 19) assert.deepEqual(got, ["done", "cancel"]);
          if (profile >= 18) assert.equal(c.get("COMP-ALU")?.["quantity"], 10);
        },
      );

      test(
        profile === 17
          ? "17: a manual-consumption component filled but not picked is cancelled at close"
          : `${profile}: manual-consumption components not picked are picked at close with the quantity they hold`,
        async () => {
          const id = await mo("FIN-HJ250", 20);
          await mrp.call("mrp.production", "write", [[id], { qty_producing: 20 }]);
          await mrp.call("mrp.production", "set_qty_producing", [[id]]);
          const lot = await mrp.call<number>("stock.lot", "create", [
            { name: `HJ-SPEC-${profile}`, product_id: await mrp.product("FIN-HJ250") },
          ]);
          await mrp.call("mrp.production", "write", [
            [id],
            profile >= 19 ? { lot_producing_ids: [[6, 0, [lot]]] } : { lot_producing_id: lot },
          ]);
          if (profile === 17) {
            // strict BoM: un-picked label and honey count as nothing consumed
            const action = (await markDone(id)) as Action;
            assert.equal(action.res_model, "mrp.consumption.warning");
            assert.equal(await markDone(id, { skip_consumption: true }), true);
            const c = await mrp.components(id);
            assert.deepEqual(
              [c.get("COMP-LBL")?.["state"], c.get("COMP-JAR")?.["state"]],
              ["cancel", "done"],
            );
            return;
          }
          assert.equal(await markDone(id), true);
          const c = await mrp.components(id);
          assert.deepEqual(
            [c.get("COMP-LBL")?.["state"], c.get("COMP-LBL")?.["quantity"], c.get("COMP-LBL")?.["picked"]],
            ["done", 20, true],
          );
        },
      );
    }

    if (profile === 18)
      test("18: nothing produced on a serial product of several units returns the mass-produce wizard", async () => {
        const id = await mo("SPEC-SERIAL", 3);
        const action = (await markDone(id)) as Action;
        assert.equal(action.res_model, "mrp.batch.produce");
        assert.equal(action.context["default_production_id"], id);
        assert.equal(await state(id), "confirmed");
      });
    if (profile === 19)
      test("19: nothing produced on a serial product without serials returns action_generate_serial's action", async () => {
        const id = await mo("SPEC-SERIAL", 3);
        const action = (await markDone(id)) as Action;
        assert.equal(action.xml_id, "mrp.action_assign_serial_numbers");
        assert.equal(action.context["default_production_id"], id);
        const two = [await mo("SPEC-SERIAL", 3), await mo("SPEC-SERIAL", 2)];
        await mrp.fails(
          "mrp.production",
          "button_mark_done",
          [two],
          "odoo.exceptions.UserError",
          "You need to generate Lot/Serial Number(s) to mark as done some productions",
        );
      });

    test("the consumption check: warning and strict BoMs return mrp.consumption.warning (copied from the BoM at confirm); flexible does not", async () => {
      for (const [code, mode] of [
        ["SPEC-WARN", "warning"],
        ["SPEC-STRICT", "strict"],
      ] as const) {
        const id = await mo(code, 5);
        assert.equal((await mrp.read("mrp.production", id, ["consumption"]))["consumption"], mode);
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        await consume(id, "COMP-ALU", 12);
        await consume(id, "COMP-SCR", 20);
        const action = (await markDone(id)) as Action;
        assert.equal(action.type, "ir.actions.act_window");
        assert.equal(action.res_model, "mrp.consumption.warning");
        assert.equal(action.xml_id, "mrp.action_mrp_consumption_warning");
        assert.deepEqual(action.context["default_mrp_production_ids"], [id]);
        const lines = (
          action.context["default_mrp_consumption_warning_line_ids"] as [number, number, Row][]
        ).map((l) => [
          l[2]["consumption"],
          l[2]["product_consumed_qty_uom"],
          l[2]["product_expected_qty_uom"],
        ]);
        assert.deepEqual(lines, [[mode, 12, 10]]);
        // strict is only enforced by the wizard's view: its action_confirm closes the order over RPC
        assert.equal(await mrp.answer(action, "action_confirm"), true);
        assert.equal(await state(id), "done");
      }
      const flex = await mo("SPEC-FLEX", 5);
      await mrp.call("mrp.production", "write", [[flex], { qty_producing: 5 }]);
      await consume(flex, "COMP-ALU", 12);
      assert.equal(await markDone(flex), true);
    });

    if (profile >= 17)
      test(`${profile}: un-picked components count as nothing consumed in the consumption check`, async () => {
        const id = await mo("SPEC-WARN", 5);
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        const alu = (await mrp.components(id)).get("COMP-ALU") as Row;
        await mrp.call("stock.move", "write", [[alu["id"]], { quantity: 10 }]);
        const action = (await markDone(id)) as Action;
        const lines = (
          action.context["default_mrp_consumption_warning_line_ids"] as [number, number, Row][]
        ).map((l) => [l[2]["product_consumed_qty_uom"], l[2]["product_expected_qty_uom"]]);
        assert.deepEqual(lines, [
          [0, 10],
          [0, 20],
        ]);
        // action_set_qty sets the expected quantities, picked, and closes
        assert.equal(await mrp.answer(action, "action_set_qty"), true);
        const c = await mrp.components(id);
        assert.deepEqual(
          [...c.values()].map((m) => [m["quantity"], m["state"]]),
          [
            [10, "done"],
            [20, "done"],
          ],
        );
      });

    test("skip_consumption bypasses the check (strict too)", async () => {
      const id = await mo("SPEC-STRICT", 5);
      await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
      await consume(id, "COMP-ALU", 1);
      assert.equal(await markDone(id, { skip_consumption: true }), true);
      assert.equal(await state(id), "done");
    });

    test(
      profile === 16
        ? "16 ignores create_backorder: producing less always returns the backorder wizard"
        : `${profile}: create_backorder of the operation type — ask returns the wizard, always closes with a backorder, never without`,
      async () => {
        const ask = await short("ask");
        const wizard = (await markDone(ask)) as Action;
        assert.equal(wizard.res_model, "mrp.production.backorder");
        assert.equal(wizard.xml_id, "mrp.action_mrp_production_backorder");
        assert.deepEqual(wizard.context["default_mrp_production_ids"], [ask]);
        if (profile >= 18) assert.deepEqual(wizard.context["always_backorder_mo_ids"], []);
        const never = await short("never");
        const always = await short("always");
        if (profile === 16) {
          assert.equal(((await markDone(never)) as Action).res_model, "mrp.production.backorder");
          assert.equal(((await markDone(always)) as Action).res_model, "mrp.production.backorder");
          return;
        }
        assert.equal(await markDone(never), true);
        assert.equal(await state(never), "done");
        const result = (await markDone(always)) as Action;
        assert.deepEqual(
          [result.type, result.res_model, result.view_mode],
          ["ir.actions.act_window", "mrp.production", "form"],
        );
        assert.equal(await state(always), "done");
        assert.equal(
          (await mrp.read("mrp.production", result.res_id as number, ["product_qty"]))["product_qty"],
          6,
        );
      },
    );

    if (profile === 16)
      test("16: skip_immediate skips the immediate wizard (and the consumption check)", async () => {
        const id = await mo("SPEC-WARN", 5);
        await mrp.fails(
          "mrp.production",
          "button_mark_done",
          [[id]],
          "odoo.exceptions.UserError",
          "The quantity to produce must be positive!",
          { context: { skip_immediate: true } },
        );
      });
    else
      test(`${profile}: an 'always' order next to an 'ask' one: the wizard carries always_backorder_mo_ids and Close still backorders the 'always' order`, async () => {
        const ask = await short("ask");
        const always = await short("always");
        const wizard = (await mrp.call<Action>("mrp.production", "button_mark_done", [
          [ask, always],
        ])) as Action;
        assert.equal(wizard.res_model, "mrp.production.backorder");
        assert.deepEqual(wizard.context["always_backorder_mo_ids"], [always]);
        const lines = (
          wizard.context["default_mrp_production_backorder_line_ids"] as [number, number, Row][]
        ).map((l) => l[2]["mrp_production_id"]);
        assert.deepEqual(lines, [ask]);
        const result = (await mrp.answer(wizard, "action_close_mo")) as Action;
        assert.equal(result.res_model, "mrp.production");
        const rows = await mrp.readMany(
          "mrp.production",
          [ask, always],
          ["state", "mrp_production_backorder_count"],
        );
        assert.deepEqual(
          rows.map((r) => [r["state"], r["mrp_production_backorder_count"]]),
          [
            ["done", 1],
            ["done", 2],
          ],
        );
      });

    test("context: skip_backorder closes short without a backorder; with mo_ids_to_backorder it creates one", async () => {
      const close = await mo("SPEC-FLEX", 10);
      await mrp.call("mrp.production", "write", [[close], { qty_producing: 4 }]);
      await consume(close, "COMP-ALU", 8);
      assert.equal(await markDone(close, { skip_backorder: true }), true);
      const row = await mrp.read("mrp.production", close, ["state", "product_qty", "qty_produced", "name"]);
      assert.deepEqual(
        [row["state"], row["product_qty"], row["qty_produced"]],
        ["done", profile === 16 ? 4 : 10, 4],
        "16 rewrites product_qty = qty_produced",
      );
      assert.doesNotMatch(String(row["name"]), /-001$/);
      const split = await mo("SPEC-FLEX", 10);
      await mrp.call("mrp.production", "write", [[split], { qty_producing: 4 }]);
      await consume(split, "COMP-ALU", 8);
      const action = (await markDone(split, {
        skip_backorder: true,
        mo_ids_to_backorder: [split],
      })) as Action;
      assert.equal(action.res_model, "mrp.production");
      assert.equal(action.context["skip_backorder"], false, "skip_* keys are reset in the returned action");
      assert.equal(action.context["mo_ids_to_backorder"], null);
      assert.equal(
        (await mrp.read("mrp.production", action.res_id as number, ["product_qty"]))["product_qty"],
        6,
      );
    });

    test(
      profile === 16
        ? "16: a work order with no time gets a log ending now of expected × qty_produced / product_qty"
        : profile === 17
          ? "17: a work order with no time gets a log ending now of expected × qty_producing / product_qty"
          : `${profile}: a work order with no time gets a log ending now of its expected duration`,
      async () => {
        const id = await mo("SPEC-OPS", 10);
        const [wo] = (await mrp.read("mrp.production", id, ["workorder_ids"]))["workorder_ids"] as number[];
        assert.equal(
          (await mrp.read("mrp.workorder", wo as number, ["duration_expected"]))["duration_expected"],
          20,
        );
        await mrp.call("mrp.production", "write", [[id], { qty_producing: 5 }]);
        await consume(id, "COMP-ALU", 10);
        await consume(id, "COMP-SCR", 20);
        assert.equal(await markDone(id, { skip_backorder: true }), true);
        const logs = await mrp.call<Row[]>(
          "mrp.workcenter.productivity",
          "search_read",
          [[["workorder_id", "=", wo]]],
          {
            fields: ["duration", "date_start", "date_end", "loss_id", "loss_type"],
          },
        );
        const minutes = profile >= 18 ? 20 : 10;
        assert.equal(logs.length, 1);
        assert.deepEqual(
          [logs[0]?.["duration"], logs[0]?.["date_end"], logs[0]?.["loss_type"]],
          [minutes, NOW, "productive"],
        );
        assert.equal(m2o(logs[0]?.["loss_id"]), fx.sim.env.ref("mrp.block_reason7"));
        const wor = await mrp.read("mrp.workorder", wo as number, ["state", "duration"]);
        assert.deepEqual([wor["state"], wor["duration"]], ["done", minutes]);
      },
    );

    test("done: the order, its moves and their lines are dated now; button_mark_done answers true", async () => {
      const id = await mo("SPEC-FLEX", 2);
      await mrp.call("mrp.production", "write", [[id], { qty_producing: 2 }]);
      await consume(id, "COMP-ALU", 4);
      await consume(id, "COMP-SCR", 8);
      assert.equal(await markDone(id), true);
      const row = await mrp.read("mrp.production", id, [
        "date_finished",
        "move_finished_ids",
        "move_raw_ids",
        "is_locked",
      ]);
      assert.deepEqual([row["date_finished"], row["is_locked"]], [NOW, true]);
      const moves = await mrp.readMany(
        "stock.move",
        [...(row["move_raw_ids"] as number[]), ...(row["move_finished_ids"] as number[])],
        ["date", "state"],
      );
      assert.ok(moves.every((m) => m["date"] === NOW && m["state"] === "done"));
    });
  });
}
