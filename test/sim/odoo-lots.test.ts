/**
 * Specification: lots and serial numbers of produced goods (research note A §6): the missing-lot
 * error of `stock.move.line._action_done` per version, 19's `lot_producing_ids`, lot names from the
 * sequence, `action_generate_serial`, uniqueness of lots and serials.
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
  describe(`odoo simulator ${profile} - lots and serial numbers`, () => {
    let fx: SimFixture;
    let mrp: Session;
    const lotField = profile >= 19 ? "lot_producing_ids" : "lot_producing_id";
    const setLots = (mo: number, lots: number[]) =>
      mrp.call("mrp.production", "write", [
        [mo],
        profile >= 19 ? { [lotField]: [[6, 0, lots]] } : { [lotField]: lots[0] },
      ]);
    /** Produce `qty` with the components consumed as a connector posts them. */
    const produce = async (mo: number, qty: number) => {
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: qty }]);
      for (const m of (await mrp.components(mo)).values())
        await mrp.call("stock.move", "write", [
          [m["id"]],
          profile === 16 ? { quantity_done: qty } : { quantity: qty, picked: true },
        ]);
    };
    const lot = async (code: string, name: string) =>
      mrp.call<number>("stock.lot", "create", [{ name, product_id: await mrp.product(code) }]);

    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
      await specProduct(fx.admin, "SPEC-LOT", { tracking: "lot", lines: [["COMP-ALU", 1]] });
      await specProduct(fx.admin, "SPEC-SN", { tracking: "serial", lines: [["COMP-ALU", 1]] });
    });
    after(() => fx.sim.stop());

    test("a tracked product closed without a lot is refused with the version's wording; nothing is written", async () => {
      const mo = await mrp.newMo("SPEC-LOT", 4);
      await produce(mo, 4);
      const message =
        profile >= 18
          ? "You need to supply a Lot/Serial Number for product:\n- [SPEC-LOT] Spec SPEC-LOT"
          : "You need to supply a Lot/Serial Number for product: \n - [SPEC-LOT] Spec SPEC-LOT";
      await mrp.fails("mrp.production", "button_mark_done", [[mo]], "odoo.exceptions.UserError", message);
      const row = await mrp.read("mrp.production", mo, ["state", "qty_produced"]);
      assert.deepEqual([row["state"], row["qty_produced"]], ["to_close", 0]);
      await setLots(mo, [await lot("SPEC-LOT", `LOT-${profile}-A`)]);
      assert.equal(await mrp.call("mrp.production", "button_mark_done", [[mo]]), true);
      const [produced] = await mrp.search("stock.lot", [["name", "=", `LOT-${profile}-A`]]);
      assert.equal((await mrp.read("stock.lot", produced as number, ["product_qty"]))["product_qty"], 4);
    });

    test("a lot created without a name gets the next number of the lot sequence", async () => {
      const product = await mrp.product("SPEC-LOT");
      const [a, b] = await mrp.call<number[]>("stock.lot", "create", [
        [{ product_id: product }, { product_id: product }],
      ]);
      const names = (await mrp.readMany("stock.lot", [a as number, b as number], ["name"])).map((r) =>
        String(r["name"]),
      );
      assert.match(names[0] as string, /^\d{7}$/);
      assert.equal(Number(names[1]), Number(names[0]) + 1);
    });

    test("a lot name is unique per product (ValidationError, the version's wording)", async () => {
      await lot("SPEC-LOT", `DUP-${profile}`);
      const message =
        profile <= 17
          ? `The combination of serial number and product must be unique across a company.\nFollowing combination contains duplicates:\n - Product: [SPEC-LOT] Spec SPEC-LOT, Serial Number: DUP-${profile}`
          : `The combination of lot/serial number and product must be unique within a company including when no company is defined.\nThe following combinations contain duplicates:\n - Product: [SPEC-LOT] Spec SPEC-LOT, Lot/Serial Number: DUP-${profile}`;
      await mrp.fails(
        "stock.lot",
        "create",
        [{ name: `DUP-${profile}`, product_id: await mrp.product("SPEC-LOT") }],
        "odoo.exceptions.ValidationError",
        message,
      );
      // another product may use the same name
      await lot("SPEC-SN", `DUP-${profile}`);
    });

    test(
      profile >= 19
        ? "19 action_generate_serial: one lot for a lot product (a second is refused), one serial for one unit, else the assign action"
        : "action_generate_serial sets a new lot in lot_producing_id (a serial product's qty_producing becomes 1)",
      async () => {
        const lotMo = await mrp.newMo("SPEC-LOT", 3);
        const first = await mrp.envelope("mrp.production", "action_generate_serial", [[lotMo]]);
        assert.deepEqual([first.error, "result" in first], [undefined, false]);
        const lots = (await mrp.read("mrp.production", lotMo, [lotField]))[lotField];
        assert.ok(profile >= 19 ? (lots as number[]).length === 1 : m2o(lots));
        if (profile >= 19)
          await mrp.fails(
            "mrp.production",
            "action_generate_serial",
            [[lotMo]],
            "odoo.exceptions.UserError",
            "You cannot set more than 1 lot per product",
          );
        const one = await mrp.newMo("SPEC-SN", 1);
        await mrp.call("mrp.production", "action_generate_serial", [[one]]);
        assert.equal((await mrp.read("mrp.production", one, ["qty_producing"]))["qty_producing"], 1);
        const many = await mrp.newMo("SPEC-SN", 3);
        const result = await mrp.envelope("mrp.production", "action_generate_serial", [[many]]);
        if (profile >= 19) {
          const action = result.result as Action;
          assert.equal(action.xml_id, "mrp.action_assign_serial_numbers");
          assert.deepEqual(action.context, { default_production_id: many });
        } else assert.equal((await mrp.read("mrp.production", many, ["qty_producing"]))["qty_producing"], 1);
      },
    );

    if (profile >= 19) {
      test("19: lot_producing_ids holds one lot for a lot product", async () => {
        const mo = await mrp.newMo("SPEC-LOT", 3);
        const lots = [await lot("SPEC-LOT", "L19-1"), await lot("SPEC-LOT", "L19-2")];
        await mrp.fails(
          "mrp.production",
          "write",
          [[mo], { lot_producing_ids: [[6, 0, lots]] }],
          "odoo.exceptions.UserError",
          "You cannot set more than 1 lot",
        );
      });

      test("19: several serials on one order — qty_producing is their number, one move line per serial", async () => {
        const mo = await mrp.newMo("SPEC-SN", 3);
        const serials = [
          await lot("SPEC-SN", "SN19-1"),
          await lot("SPEC-SN", "SN19-2"),
          await lot("SPEC-SN", "SN19-3"),
        ];
        await setLots(mo, serials);
        await mrp.call("mrp.production", "write", [[mo], { qty_producing: 3 }]);
        await mrp.call("mrp.production", "set_qty_producing", [[mo]]);
        await produce(mo, 3);
        assert.equal(await mrp.call("mrp.production", "button_mark_done", [[mo]]), true);
        const [move] = (await mrp.read("mrp.production", mo, ["move_finished_ids"]))[
          "move_finished_ids"
        ] as number[];
        const lines = await mrp.call<Row[]>("stock.move.line", "search_read", [[["move_id", "=", move]]], {
          fields: ["lot_id", "quantity"],
        });
        assert.deepEqual(
          lines.map((l) => [(l["lot_id"] as [number, string])[1], l["quantity"]]),
          [
            ["SN19-1", 1],
            ["SN19-2", 1],
            ["SN19-3", 1],
          ],
        );
      });
    }

    test("a serial number cannot be produced twice", async () => {
      const serial = await lot("SPEC-SN", `SN-${profile}-X`);
      const first = await mrp.newMo("SPEC-SN", 1);
      await setLots(first, [serial]);
      await produce(first, 1);
      assert.equal(await mrp.call("mrp.production", "button_mark_done", [[first]]), true);
      const again = await mrp.newMo("SPEC-SN", 1);
      await setLots(again, [serial]);
      await produce(again, 1);
      await mrp.fails(
        "mrp.production",
        "button_mark_done",
        [[again]],
        "odoo.exceptions.UserError",
        profile >= 19
          ? "Serial number(s) for product Spec SPEC-SN already produced"
          : "This serial number for product Spec SPEC-SN has already been produced",
      );
    });

    test("a serial number counts once per location: receiving it twice is refused", async () => {
      const serial = await lot("SPEC-SN", `SN-${profile}-R`);
      const receive = async () => {
        const picking = await mrp.call<number>("stock.picking", "create", [
          {
            picking_type_id: fx.sim.env.ref("stock.picking_type_in"),
            move_ids: [
              [
                0,
                0,
                {
                  ...(profile <= 18 ? { name: "serial" } : {}),
                  product_id: await mrp.product("SPEC-SN"),
                  product_uom_qty: 1,
                  location_id: fx.sim.env.ref("stock.stock_location_suppliers"),
                  location_dest_id: fx.sim.env.ref("stock.stock_location_stock"),
                },
              ],
            ],
          },
        ]);
        await mrp.call("stock.picking", "action_confirm", [[picking]]);
        const [line] = (await mrp.read("stock.picking", picking, ["move_line_ids"]))[
          "move_line_ids"
        ] as number[];
        await mrp.call("stock.move.line", "write", [
          [line],
          profile === 16 ? { lot_id: serial, qty_done: 1 } : { lot_id: serial, quantity: 1, picked: true },
        ]);
        return mrp.envelope("stock.picking", "button_validate", [[picking]]);
      };
      assert.equal((await receive()).result, true);
      const second = await receive();
      assert.equal(second.error?.data["name"], "odoo.exceptions.ValidationError");
      assert.equal(
        second.error?.data["message"],
        `The serial number has already been assigned: \n Product: [SPEC-SN] Spec SPEC-SN, Serial Number: SN-${profile}-R`,
      );
    });
  });
}
