import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RawOdooClient } from "../../tools/sim/odoo/client.js";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

type Auth = { db: string; uid: number; password: string };
type Action = {
  type: string;
  res_model: string;
  target?: string;
  context: Record<string, unknown>;
  res_id?: number;
};

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - manufacturing and pickings`, () => {
    let sim: OdooSimulator;
    let client: RawOdooClient;
    let auth: Auth;
    const call = <T = unknown>(
      model: string,
      method: string,
      args: unknown[] = [],
      kwargs: Record<string, unknown> = {},
    ) => client.call<T>(auth, model, method, args, kwargs);
    const product = async (code: string) =>
      (
        (await call<number[]>("product.product", "search", [[["default_code", "=", code]]])) as number[]
      )[0] as number;
    const newMo = async (code: string, qty: number) => {
      const mo = await call<number>("mrp.production", "create", [
        { product_id: await product(code), product_qty: qty, origin: "TEST" },
      ]);
      await call("mrp.production", "action_confirm", [[mo]]);
      return mo;
    };
    const read = async (model: string, id: number, fields: string[]) =>
      (
        (await call<Record<string, unknown>[]>(model, "read", [[id], fields])) as Record<string, unknown>[]
      )[0] as Record<string, unknown>;

    before(async () => {
      sim = await startOdooSimulator({ profile, seed: 11 });
      client = new RawOdooClient(sim.url);
      auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
    });
    after(() => sim.stop());

    test("an MO gets a WH/MO name, component moves and work orders; confirm reserves components", async () => {
      const mo = await newMo("FIN-SB20", 10);
      const row = await read("mrp.production", mo, [
        "name",
        "state",
        "move_raw_ids",
        "move_finished_ids",
        "workorder_ids",
        "reservation_state",
      ]);
      assert.match(String(row["name"]), /^WH\/MO\/\d{5}$/);
      assert.equal(row["state"], "confirmed");
      assert.equal((row["move_raw_ids"] as number[]).length, 2);
      assert.equal((row["move_finished_ids"] as number[]).length, 1);
      assert.equal(row["reservation_state"], "assigned");
      const wos = (await call<Record<string, unknown>[]>("mrp.workorder", "read", [
        row["workorder_ids"],
        ["state", "workcenter_id"],
      ])) as Record<string, unknown>[];
      assert.deepEqual(
        wos.map((w) => w["state"]),
        profile >= 19 ? ["ready", "blocked"] : ["ready", "pending"],
      );
    });

    test("work orders: start logs productive time and puts the MO in progress; finish readies the next one", async () => {
      const mo = await newMo("FIN-SB20", 4);
      const [first, second] = (await read("mrp.production", mo, ["workorder_ids"]))[
        "workorder_ids"
      ] as number[];
      assert.equal(await call("mrp.workorder", "button_start", [[first]]), true);
      assert.equal((await read("mrp.production", mo, ["state"]))["state"], "progress");
      const [time] = (await call<Record<string, unknown>[]>(
        "mrp.workcenter.productivity",
        "search_read",
        [[["workorder_id", "=", first]]],
        {
          fields: ["loss_type", "date_end", "workcenter_id"],
        },
      )) as Record<string, unknown>[];
      assert.equal(time?.["loss_type"], "productive");
      assert.equal(time?.["date_end"], false);
      await call("mrp.workorder", "button_pending", [[first]]);
      assert.notEqual(
        (
          await call<Record<string, unknown>[]>("mrp.workcenter.productivity", "read", [
            [time?.["id"]],
            ["date_end"],
          ])
        )[0]?.["date_end"],
        false,
      );
      await call("mrp.workorder", "button_finish", [[first]]);
      assert.equal((await read("mrp.workorder", first as number, ["state"]))["state"], "done");
      assert.equal((await read("mrp.workorder", second as number, ["state"]))["state"], "ready");
      if (profile >= 17) {
        const wc = (await read("mrp.workorder", first as number, ["workcenter_id"]))["workcenter_id"] as [
          number,
          string,
        ];
        const found = await call<number[]>("mrp.production", "search", [
          [
            ["workcenter_id", "=", wc[0]],
            ["id", "=", mo],
          ],
        ]);
        assert.deepEqual(found, [mo]);
      }
    });

    test("button_mark_done with less produced returns the backorder wizard; action_backorder splits the MO", async () => {
      const mo = await newMo("FIN-SB20", 10);
      const name = (await read("mrp.production", mo, ["name"]))["name"] as string;
      if (profile === 16) {
        const immediate = (await call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
        assert.equal(immediate.res_model, "mrp.immediate.production");
        assert.equal(immediate.type, "ir.actions.act_window");
        assert.equal(immediate.target, "new");
      }
      await call("mrp.production", "write", [[mo], { qty_producing: 6 }]);
      assert.equal((await read("mrp.production", mo, ["state"]))["state"], "progress");
      const wizard = (await call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
      assert.equal(wizard.type, "ir.actions.act_window");
      assert.equal(wizard.res_model, "mrp.production.backorder");
      assert.equal(wizard.target, "new");
      assert.deepEqual(wizard.context["default_mrp_production_ids"], [mo]);
      const wizId = await call<number>("mrp.production.backorder", "create", [{}], {
        context: wizard.context,
      });
      const result = (await call<Action>("mrp.production.backorder", "action_backorder", [[wizId]], {
        context: wizard.context,
      })) as Action;
      assert.equal(result.res_model, "mrp.production");
      const original = await read("mrp.production", mo, ["name", "state", "product_qty", "qty_produced"]);
      assert.deepEqual(
        [original["name"], original["state"], original["product_qty"], original["qty_produced"]],
        [`${name}-001`, "done", 6, 6],
      );
      const backorder = await read("mrp.production", result.res_id as number, [
        "name",
        "state",
        "product_qty",
      ]);
      assert.deepEqual(
        [backorder["name"], backorder["state"], backorder["product_qty"]],
        [`${name}-002`, "confirmed", 4],
      );
    });

    test(
      profile === 16
        ? "with nothing produced, the immediate production wizard produces everything"
        : "with nothing produced, an untracked product is produced in full",
      async () => {
        const mo = await newMo("FIN-SB20", 8);
        const first = await call<Action | boolean>("mrp.production", "button_mark_done", [[mo]]);
        if (profile === 16) {
          const action = first as Action;
          assert.equal(action.res_model, "mrp.immediate.production");
          assert.deepEqual(action.context["button_mark_done_production_ids"], [mo]);
          const wiz = await call<number>(action.res_model, "create", [{}], { context: action.context });
          assert.equal(await call(action.res_model, "process", [[wiz]], { context: action.context }), true);
        } else assert.equal(first, true);
        const row = await read("mrp.production", mo, ["state", "qty_produced", "move_raw_ids"]);
        assert.deepEqual([row["state"], row["qty_produced"]], ["done", 8]);
        const qtyField = profile === 16 ? "quantity_done" : "quantity";
        const moves = (await call<Record<string, unknown>[]>("stock.move", "read", [
          row["move_raw_ids"],
          [qtyField, "product_uom_qty", "state"],
        ])) as Record<string, unknown>[];
        for (const m of moves) assert.deepEqual([m[qtyField], m["state"]], [m["product_uom_qty"], "done"]);
      },
    );

    test("consuming other quantities than the BoM says returns the consumption warning", async () => {
      const mo = await newMo("FIN-SB20", 4);
      await call("mrp.production", "write", [[mo], { qty_producing: 4 }]);
      const [raw] = (await read("mrp.production", mo, ["move_raw_ids"]))["move_raw_ids"] as number[];
      await call("stock.move", "write", [[raw], profile === 16 ? { quantity_done: 9 } : { quantity: 9 }]);
      const warning = (await call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
      assert.equal(warning.res_model, "mrp.consumption.warning");
      const wiz = await call<number>(warning.res_model, "create", [{}], { context: warning.context });
      const lines = (await call<Record<string, unknown>[]>(
        "mrp.consumption.warning.line",
        "search_read",
        [[["mrp_consumption_warning_id", "=", wiz]]],
        {
          fields: ["product_consumed_qty_uom", "product_expected_qty_uom"],
        },
      )) as Record<string, unknown>[];
      assert.deepEqual(
        lines.map((l) => [l["product_consumed_qty_uom"], l["product_expected_qty_uom"]]),
        [[9, 4]],
      );
      assert.equal(
        await call(warning.res_model, "action_confirm", [[wiz]], { context: warning.context }),
        true,
      );
      const qtyField = profile === 16 ? "quantity_done" : "quantity";
      assert.equal((await read("stock.move", raw as number, [qtyField]))[qtyField], 9);
      assert.equal((await read("mrp.production", mo, ["state"]))["state"], "done");
    });

    test("action_close_mo closes without a backorder", async () => {
      const mo = await newMo("FIN-SB20", 5);
      await call("mrp.production", "write", [[mo], { qty_producing: 2 }]);
      const wizard = (await call<Action>("mrp.production", "button_mark_done", [[mo]])) as Action;
      const wizId = await call<number>(wizard.res_model, "create", [{}], { context: wizard.context });
      assert.equal(
        await call(wizard.res_model, "action_close_mo", [[wizId]], { context: wizard.context }),
        true,
      );
      assert.equal((await read("mrp.production", mo, ["state"]))["state"], "done");
      assert.equal(
        (
          (await call<number[]>("mrp.production", "search", [
            [
              ["origin", "=", "TEST"],
              ["backorder_sequence", ">", 1],
            ],
          ])) as number[]
        ).length,
        1,
      );
    });

    test("a lot-tracked product needs a lot to be marked done; the lot is unique per product", async () => {
      const mo = await newMo("FIN-CC100", 1);
      await call("mrp.production", "write", [[mo], { qty_producing: 1 }]);
      const missing = await client.executeKw(auth, "mrp.production", "button_mark_done", [[mo]]);
      assert.equal(missing.error?.data["name"], "odoo.exceptions.UserError");
      assert.equal(
        missing.error?.data["message"],
        "You need to supply a Lot/Serial number for product:\n- [FIN-CC100] Control Cabinet CC-100",
      );
      const lot = await call<number>("stock.lot", "create", [
        { name: "CC-TEST-1", product_id: await product("FIN-CC100") },
      ]);
      const dup = await client.executeKw(auth, "stock.lot", "create", [
        { name: "CC-TEST-1", product_id: await product("FIN-CC100") },
      ]);
      assert.equal(dup.error?.data["name"], "odoo.exceptions.ValidationError");
      await call("mrp.production", "write", [
        [mo],
        profile >= 19 ? { lot_producing_ids: [[6, 0, [lot]]] } : { lot_producing_id: lot },
      ]);
      assert.equal(await call("mrp.production", "button_mark_done", [[mo]]), true);
      assert.equal((await read("mrp.production", mo, ["state"]))["state"], "done");
      assert.equal((await read("stock.lot", lot, ["product_qty"]))["product_qty"], 1);
    });

    test("negative quantities are refused", async () => {
      const mo = await newMo("FIN-SB20", 3);
      const neg = await client.executeKw(auth, "mrp.production", "write", [[mo], { qty_producing: -1 }]);
      assert.equal(neg.error?.data["name"], "odoo.exceptions.UserError");
      assert.equal(neg.error?.data["message"], "You can not enter negative quantities.");
      assert.equal((await read("mrp.production", mo, ["qty_producing"]))["qty_producing"], 0);
    });

    test("button_validate on a receipt: the version's wizard, then a backorder for what was not received", async () => {
      const receipts = sim.env.ref("stock.picking_type_in");
      const alu = await product("COMP-ALU");
      const picking = await call<number>("stock.picking", "create", [
        {
          picking_type_id: receipts,
          move_ids: [
            [
              0,
              0,
              {
                ...(profile <= 18 ? { name: "Alu" } : {}),
                product_id: alu,
                product_uom_qty: 10,
                location_id: sim.env.ref("stock.stock_location_suppliers"),
                location_dest_id: sim.env.ref("stock.stock_location_stock"),
              },
            ],
          ],
        },
      ]);
      await call("stock.picking", "action_confirm", [[picking]]);
      assert.equal((await read("stock.picking", picking, ["state"]))["state"], "assigned");
      const [line] = (await read("stock.picking", picking, ["move_line_ids"]))["move_line_ids"] as number[];
      if (profile === 16) {
        const immediate = (await call<Action>("stock.picking", "button_validate", [[picking]])) as Action;
        assert.equal(immediate.res_model, "stock.immediate.transfer");
        await call("stock.move.line", "write", [[line], { qty_done: 7 }]);
      } else {
        await call("stock.move.line", "write", [[line], { quantity: 7, picked: true }]);
      }
      const wizard = (await call<Action>("stock.picking", "button_validate", [[picking]])) as Action;
      assert.equal(wizard.res_model, "stock.backorder.confirmation");
      assert.deepEqual(wizard.context["button_validate_picking_ids"], [picking]);
      const wizId = await call<number>("stock.backorder.confirmation", "create", [{}], {
        context: wizard.context,
      });
      // without the action's context Odoo's process() validates nothing
      assert.equal(await call("stock.backorder.confirmation", "process", [[wizId]]), true);
      assert.equal((await read("stock.picking", picking, ["state"]))["state"], "assigned");
      assert.equal(
        await call("stock.backorder.confirmation", "process", [[wizId]], { context: wizard.context }),
        true,
      );
      const done = await read("stock.picking", picking, ["state", "backorder_ids", "date_done"]);
      assert.equal(done["state"], "done");
      assert.match(String(done["date_done"]), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      const [backorder] = done["backorder_ids"] as number[];
      const bo = await read("stock.picking", backorder as number, ["state", "move_ids", "backorder_id"]);
      assert.equal(bo["state"], "assigned");
      assert.deepEqual(bo["backorder_id"]?.constructor, Array);
      const [move] = (await call<Record<string, unknown>[]>("stock.move", "read", [
        bo["move_ids"],
        ["product_uom_qty"],
      ])) as Record<string, unknown>[];
      assert.equal(move?.["product_uom_qty"], 3);
    });

    test(
      profile === 16
        ? "the immediate transfer wizard processes everything reserved"
        : "validating with nothing picked picks everything reserved",
      async () => {
        const deliveries = sim.env.ref("stock.picking_type_out");
        const bracket = await product("FIN-SB20");
        const picking = await call<number>("stock.picking", "create", [
          {
            picking_type_id: deliveries,
            move_ids: [
              [
                0,
                0,
                {
                  ...(profile <= 18 ? { name: "SB20" } : {}),
                  product_id: bracket,
                  product_uom_qty: 2,
                  location_id: sim.env.ref("stock.stock_location_stock"),
                  location_dest_id: sim.env.ref("stock.stock_location_customers"),
                },
              ],
            ],
          },
        ]);
        const first = await call<Action | boolean>("stock.picking", "button_validate", [[picking]]);
        if (profile === 16) {
          const action = first as Action;
          assert.equal(action.res_model, "stock.immediate.transfer");
          const wiz = await call<number>(action.res_model, "create", [{}], { context: action.context });
          assert.equal(await call(action.res_model, "process", [[wiz]], { context: action.context }), true);
        } else assert.equal(first, true);
        const row = await read("stock.picking", picking, ["state", "move_ids"]);
        assert.equal(row["state"], "done");
        const qtyField = profile === 16 ? "quantity_done" : "quantity";
        const [move] = (await call<Record<string, unknown>[]>("stock.move", "read", [
          row["move_ids"],
          [qtyField, "state"],
        ])) as Record<string, unknown>[];
        assert.deepEqual([move?.[qtyField], move?.["state"]], [2, "done"]);
      },
    );

    test("quality checks pass and fail; alerts close in a done stage", async () => {
      const [check] = (await call<number[]>("quality.check", "search", [[["quality_state", "=", "none"]]], {
        limit: 1,
      })) as number[];
      assert.equal(await call("quality.check", "do_fail", [[check]]), true);
      assert.equal(
        (await read("quality.check", check as number, ["quality_state"]))["quality_state"],
        "fail",
      );
      const lot = (
        (await call<number[]>("stock.lot", "search", [[["name", "=", "STL-2402"]]])) as number[]
      )[0];
      const alert = await call<number>("quality.alert", "create", [
        { title: "Burr on edge", lot_id: lot, product_id: await product("COMP-STL") },
      ]);
      const solved = (
        (await call<number[]>("quality.alert.stage", "search", [[["done", "=", true]]])) as number[]
      )[0];
      await call("quality.alert", "write", [[alert], { stage_id: solved }]);
      const row = await read("quality.alert", alert, ["name", "date_close", "lot_id", "product_tmpl_id"]);
      assert.match(String(row["name"]), /^QA\d{5}$/);
      assert.notEqual(row["date_close"], false);
      assert.ok(Array.isArray(row["product_tmpl_id"]));
    });
  });
}
