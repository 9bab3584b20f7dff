/**
 * Specification: on-hand stock (quants from done move lines and the seeded inventory), reservation
 * of what is on hand, and transfers (`button_validate` and its wizards per version).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type Action, m2o, openSim, type Row, type Session, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - on-hand stock, reservation, transfers`, () => {
    let fx: SimFixture;
    let mrp: Session;
    let stockLoc: number;
    const onHand = async (code: string, lot?: string) => {
      const domain: unknown[] = [
        ["product_id", "=", await mrp.product(code)],
        ["location_id", "=", stockLoc],
      ];
      if (lot) domain.push(["lot_id.name", "=", lot]);
      const quants = await mrp.call<Row[]>("stock.quant", "search_read", [domain], {
        fields: ["quantity", "reserved_quantity"],
      });
      return quants.reduce<[number, number]>(
        (s, q) => [s[0] + Number(q["quantity"]), s[1] + Number(q["reserved_quantity"])],
        [0, 0],
      );
    };

    before(async () => {
      fx = await openSim(profile);
      mrp = fx.integration;
      stockLoc = fx.sim.env.ref("stock.stock_location_stock");
    });
    after(() => fx.sim.stop());

    test("on hand comes from done move lines: the seeded inventory adjustments and receipts are quants", async () => {
      assert.equal((await onHand("COMP-ALU"))[0], 550, "500 counted + 50 received");
      assert.equal((await onHand("COMP-STL", "STL-2402"))[0], 150);
      const [lot] = await mrp.search("stock.lot", [["name", "=", "HNY-2401"]]);
      assert.equal((await mrp.read("stock.lot", lot as number, ["product_qty"]))["product_qty"], 2500);
      const ctx = await mrp.call<Row[]>(
        "product.product",
        "read",
        [[await mrp.product("COMP-JAR")], ["qty_available"]],
        {
          context: { location: stockLoc },
        },
      );
      assert.equal(ctx[0]?.["qty_available"], 10_000);
      await mrp.fails(
        "stock.quant",
        "create",
        [{ product_id: await mrp.product("COMP-JAR"), location_id: stockLoc, quantity: 5 }],
        "odoo.exceptions.UserError",
        "Quant's creation is restricted, you can't do this operation.",
      );
    });

    test("reservation takes what is on hand (FIFO, lots of tracked components); the rest stays unreserved", async () => {
      const [, reservedBefore] = await onHand("COMP-PCB");
      const [qty] = await onHand("COMP-PCB");
      // one control board per cabinet: ask for more than there is
      const mo = await mrp.newMo("FIN-CC100", qty - reservedBefore + 10);
      const board = (await mrp.components(mo, ["move_line_ids"])).get("COMP-PCB") as Row;
      assert.equal(board["state"], "partially_available");
      const lines = await mrp.readMany("stock.move.line", board["move_line_ids"] as number[], [
        "lot_id",
        profile === 16 ? "reserved_uom_qty" : "quantity",
      ]);
      assert.equal(
        lines.reduce((s, l) => s + Number(l[profile === 16 ? "reserved_uom_qty" : "quantity"]), 0),
        qty - reservedBefore,
      );
      assert.ok(lines.every((l) => (l["lot_id"] as [number, string])[1] === "PCB-1001"));
      assert.equal(
        (await mrp.read("mrp.production", mo, ["reservation_state"]))["reservation_state"],
        "confirmed",
      );
      assert.deepEqual(await onHand("COMP-PCB"), [qty, qty]);
      await mrp.call("mrp.production", "action_cancel", [[mo]]);
      assert.deepEqual(
        await onHand("COMP-PCB"),
        [qty, reservedBefore],
        "cancelling releases the reservation",
      );
    });

    if (profile >= 17)
      test("Check availability leaves a picked move alone: its quantity is what was consumed, not a reservation to top up", async () => {
        const [qty, reservedBefore] = await onHand("COMP-PCB");
        const mo = await mrp.newMo("FIN-CC100", qty - reservedBefore + 10);
        const board = (await mrp.components(mo)).get("COMP-PCB") as Row;
        assert.equal(board["state"], "partially_available");
        await mrp.call("stock.move", "write", [[board["id"]], { quantity: 2, picked: true }]);
        await mrp.call("mrp.production", "action_assign", [[mo]]);
        const after = (await mrp.components(mo)).get("COMP-PCB") as Row;
        assert.deepEqual([after["quantity"], after["picked"]], [2, true]);
        await mrp.call("mrp.production", "action_cancel", [[mo]]);
      });

    test("closing an order moves quants: components out of stock, the product in", async () => {
      const [alu] = await onHand("COMP-ALU");
      const [oats] = await onHand("COMP-OAT");
      const [bars] = await onHand("FIN-GB40");
      const mo = await mrp.newMo("FIN-GB40", 100);
      await mrp.call("mrp.production", "write", [[mo], { qty_producing: 100 }]);
      for (const m of (await mrp.components(mo)).values())
        await mrp.call("stock.move", "write", [
          [m["id"]],
          profile === 16
            ? { quantity_done: m["product_uom_qty"] }
            : { quantity: m["product_uom_qty"], picked: true },
        ]);
      assert.equal(await mrp.call("mrp.production", "button_mark_done", [[mo]]), true);
      assert.equal((await onHand("COMP-OAT"))[0], oats - 2.5);
      assert.equal((await onHand("FIN-GB40"))[0], bars + 100);
      assert.equal((await onHand("COMP-ALU"))[0], alu);
    });

    test("button_validate on a receipt: the version's wizard, then a backorder for what was not received", async () => {
      const receipts = fx.sim.env.ref("stock.picking_type_in");
      const picking = await mrp.call<number>("stock.picking", "create", [
        {
          picking_type_id: receipts,
          move_ids: [
            [
              0,
              0,
              {
                ...(profile <= 18 ? { name: "Alu" } : {}),
                product_id: await mrp.product("COMP-ALU"),
                product_uom_qty: 10,
                location_id: fx.sim.env.ref("stock.stock_location_suppliers"),
                location_dest_id: stockLoc,
              },
            ],
          ],
        },
      ]);
      await mrp.call("stock.picking", "action_confirm", [[picking]]);
      assert.equal((await mrp.read("stock.picking", picking, ["state"]))["state"], "assigned");
      const [line] = (await mrp.read("stock.picking", picking, ["move_line_ids"]))[
        "move_line_ids"
      ] as number[];
      if (profile === 16) {
        const immediate = (await mrp.call<Action>("stock.picking", "button_validate", [[picking]])) as Action;
        assert.equal(immediate.res_model, "stock.immediate.transfer");
        await mrp.call("stock.move.line", "write", [[line], { qty_done: 7 }]);
      } else await mrp.call("stock.move.line", "write", [[line], { quantity: 7, picked: true }]);
      const wizard = (await mrp.call<Action>("stock.picking", "button_validate", [[picking]])) as Action;
      assert.equal(wizard.res_model, "stock.backorder.confirmation");
      assert.deepEqual(wizard.context["button_validate_picking_ids"], [picking]);
      const wizId = await mrp.call<number>("stock.backorder.confirmation", "create", [{}], {
        context: wizard.context,
      });
      // without the action's context Odoo's process() validates nothing
      assert.equal(await mrp.call("stock.backorder.confirmation", "process", [[wizId]]), true);
      assert.equal((await mrp.read("stock.picking", picking, ["state"]))["state"], "assigned");
      assert.equal(
        await mrp.call("stock.backorder.confirmation", "process", [[wizId]], { context: wizard.context }),
        true,
      );
      const done = await mrp.read("stock.picking", picking, ["state", "backorder_ids"]);
      assert.equal(done["state"], "done");
      const [backorder] = done["backorder_ids"] as number[];
      const bo = await mrp.read("stock.picking", backorder as number, ["state", "move_ids", "backorder_id"]);
      assert.deepEqual([bo["state"], m2o(bo["backorder_id"])], ["assigned", picking]);
      const [move] = await mrp.readMany("stock.move", bo["move_ids"] as number[], ["product_uom_qty"]);
      assert.equal(move?.["product_uom_qty"], 3);
    });

    test(
      profile === 16
        ? "16: the immediate transfer wizard processes everything reserved"
        : `${profile}: validating with nothing picked picks everything reserved`,
      async () => {
        const picking = await mrp.call<number>("stock.picking", "create", [
          {
            picking_type_id: fx.sim.env.ref("stock.picking_type_out"),
            move_ids: [
              [
                0,
                0,
                {
                  ...(profile <= 18 ? { name: "Screws" } : {}),
                  product_id: await mrp.product("COMP-SCR"),
                  product_uom_qty: 2,
                  location_id: stockLoc,
                  location_dest_id: fx.sim.env.ref("stock.stock_location_customers"),
                },
              ],
            ],
          },
        ]);
        const first = await mrp.call<Action | boolean>("stock.picking", "button_validate", [[picking]]);
        if (profile === 16) assert.equal(await mrp.answer(first as Action, "process"), true);
        else assert.equal(first, true);
        const row = await mrp.read("stock.picking", picking, ["state", "move_ids"]);
        assert.equal(row["state"], "done");
        const [move] = await mrp.readMany("stock.move", row["move_ids"] as number[], [mrp.qtyField, "state"]);
        assert.deepEqual([move?.[mrp.qtyField], move?.["state"]], [2, "done"]);
      },
    );
  });
}
