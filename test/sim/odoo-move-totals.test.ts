/**
 * A stock move's `quantity` (17+) is the rounded sum of its lines' quantities, kept line by line
 * (orm.ts `Database.totals`, totals.ts) instead of summing the move's lines after each line written:
 * it must stay, to the bit, what summing the lines in id order gives — after creates, writes of
 * quantities and of `move_id`, unlinks and calls rolled back after they wrote lines.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Row, Vals } from "../../tools/sim/odoo/orm.js";
import { randomInt, seededRandom } from "../../tools/sim/odoo/prng.js";
import { ColumnTotals } from "../../tools/sim/odoo/totals.js";
import { m2o, openSim, type Session, type SimFixture } from "./odoo-helpers.js";

/** What the move's quantity must be: the lines summed in id order from 0, then rounded to 1e-6. */
function loopSum(values: readonly unknown[]): number {
  const s = values.reduce<number>((acc, v) => acc + (typeof v === "number" ? v : 0), 0);
  return Math.round(s * 1e6) / 1e6;
}

for (const profile of [17, 18, 19] as const) {
  describe(`odoo simulator ${profile} - a move's quantity follows its lines`, () => {
    let fx: SimFixture;
    let admin: Session;
    const moves: number[] = [];

    before(async () => {
      fx = await openSim(profile);
      admin = fx.admin;
      const product = await admin.product("COMP-SCR");
      for (const name of ["spec A", "spec B"])
        moves.push(
          await admin.call<number>("stock.move", "create", [
            {
              ...(profile <= 18 ? { name } : {}),
              product_id: product,
              product_uom_qty: 100,
              location_id: fx.sim.env.ref("stock.stock_location_stock"),
              location_dest_id: fx.sim.env.ref("stock.location_production"),
            },
          ]),
        );
    });
    after(() => fx.sim.stop());

    const line = (move: number, quantity: unknown, picked = false) =>
      admin.call<number>("stock.move.line", "create", [{ move_id: move, quantity, picked }]);

    /**
     * Each move's quantity is its lines' sum in id order and `picked` follows them: read after a write
     * of the move (which recomputes both, as after a line written; an unlinked line leaves the move
     * as it is until then).
     */
    const check = async (step: string) => {
      for (const move of moves) {
        await admin.call("stock.move", "write", [[move], { origin: step }]);
        const lines = await admin.call<Row[]>("stock.move.line", "search_read", [[["move_id", "=", move]]], {
          fields: ["quantity", "picked"],
          order: "id",
        });
        const read = await admin.read("stock.move", move, ["quantity", "picked", "move_line_ids"]);
        assert.deepEqual(
          [...(read["move_line_ids"] as number[])].sort((a, b) => a - b),
          lines.map((l) => l.id),
        );
        assert.ok(
          Object.is(read["quantity"], loopSum(lines.map((l) => l["quantity"]))),
          `${step}: move ${move} quantity ${read["quantity"]}, its lines [${lines.map((l) => l["quantity"])}]`,
        );
        if (lines.some((l) => l["picked"] === true)) assert.equal(read["picked"], true, step);
        else if (profile >= 18 && lines.length > 0) assert.equal(read["picked"], false, step);
      }
    };

    test("creates, writes of quantity and move_id, unlinks and rolled-back calls keep it exact", async () => {
      const [a, b] = moves as [number, number];
      // values whose sum lands on or near a rounding boundary of 1e-6 (…5e-7), and plain ones
      const values = [1, 0.1, 0.2, 0.3, 1 / 3, 2.0000005, 0.0000005, 7, 1e-7, 0.0000015, 12.25];
      const la: number[] = [];
      for (const [i, q] of values.entries()) {
        la.push(await line(a, q, i === 3));
        await check(`create ${i}`);
      }
      const lb = [await line(b, 5), await line(b, 0.0000025)];
      await check("lines of B");

      const write = (ids: number[], vals: Vals) => admin.call("stock.move.line", "write", [ids, vals]);
      await write([la[2] as number], { quantity: 0.7000005 }); // a middle line
      await check("middle line written");
      await write([la[la.length - 1] as number], { quantity: 3.0000005 }); // the last line
      await check("last line written");
      await write([la[0] as number], { quantity: 0 }); // the first line
      await check("first line written");
      await write([la[4] as number], { move_id: b }); // moved, quantity kept
      await check("a line moved to B");
      await write([lb[0] as number], { move_id: a, quantity: 0.4999995 }); // moved and changed
      await check("a line moved to A and changed");
      await write(la.slice(5, 8), { quantity: 1.1 });
      await check("three lines written in one call");

      await admin.call("stock.move.line", "unlink", [[la[6] as number, lb[1] as number]]);
      await check("unlinked: a middle line of A, the last line of B");
      await admin.call("stock.move.line", "unlink", [[la[la.length - 1] as number]]);
      await check("unlinked: the last line of A");

      // Rolled back: lines created, then a ValueError (the second vals has an unknown field).
      await admin.fails(
        "stock.move.line",
        "create",
        [
          [
            { move_id: a, quantity: 40 },
            { move_id: b, quantity: 50, no_such_field: 1 },
          ],
        ],
        "builtins.ValueError",
      );
      await check("rolled back: a create");
      // Rolled back after the moves were recomputed: a line moved to B and one of B written, then the
      // negative quantity is refused (constraints run last).
      const stillA = la.filter((l) => l !== la[6] && l !== la[la.length - 1] && l !== la[4]);
      await admin.fails(
        "stock.move.line",
        "write",
        [[stillA[1], la[4]], { move_id: b, quantity: -2 }],
        "odoo.exceptions.ValidationError",
        "You can not enter negative quantities.",
      );
      await check("rolled back: lines moved and written");
      // Rolled back after the move's own quantity was set (its lines rewritten, some unlinked).
      await admin.fails(
        "stock.move",
        "write",
        [[a], { quantity: 0.5, product_uom_qty: -1 }],
        "odoo.exceptions.ValidationError",
        "You can not enter negative quantities.",
      );
      await check("rolled back: the move's quantity set");

      // A direct SQL update, and a database restored from a backup taken before lines were written.
      fx.sim.sql.update("stock.move.line", [stillA[2] as number], { quantity: 4.25 });
      await check("SQL update");
      const backup = fx.sim.snapshot();
      await line(a, 9.5);
      await write([stillA[0] as number], { move_id: b, quantity: 0.25 });
      await check("after the backup");
      fx.sim.restore(backup);
      await check("backup restored");

      // The move's quantity set: lines taken in order, the rest unlinked (`_set_quantity`).
      await admin.call("stock.move", "write", [[a], { quantity: 2.0000005 }]);
      await check("the move's quantity set");
      // Lines unpicked, then all of a move's lines gone.
      await write((await admin.read("stock.move", a, ["move_line_ids"]))["move_line_ids"] as number[], {
        picked: false,
      });
      await check("unpicked");
      await admin.call("stock.move.line", "unlink", [
        (await admin.read("stock.move", b, ["move_line_ids"]))["move_line_ids"] as number[],
      ]);
      await check("B without lines");
      await line(b, 0.1, true);
      await check("B with a line again");
      assert.equal(m2o((await admin.read("stock.move.line", la[0] as number, ["move_id"]))["move_id"]), a);
    });

    test("many lines: appended one by one, every line rewritten, a few unlinked", async () => {
      const [a] = moves as [number, number];
      const ids: number[] = [];
      for (let i = 0; i < 60; i++) ids.push(await line(a, (i % 7) / 10 + 0.0000005 * (i % 3)));
      await check("60 lines appended");
      for (const [i, id] of ids.entries())
        await admin.call("stock.move.line", "write", [[id], { quantity: ((i * 13) % 11) / 3 }]);
      await check("every line rewritten");
      await admin.call("stock.move.line", "unlink", [ids.filter((_, i) => i % 9 === 4)]);
      await check("some unlinked");
    });
  });
}

describe("ColumnTotals: a sum kept change by change rounds as the loop over the rows in id order", () => {
  test("random creates, changes, moves, deletes and rollbacks, with values on rounding boundaries", () => {
    const random = seededRandom(7);
    const totals = new ColumnTotals("move_id", "quantity", "picked");
    const rows = new Map<number, Row>();
    let nextId = 1;
    const value = (): unknown => {
      const kind = randomInt(random, 0, 19);
      if (kind < 6) return randomInt(random, 0, 10_000_000) / 1e6; // kept to 1e-6, as postings are
      if (kind < 10) return (randomInt(random, 0, 3000) + 0.5) / 1e6; // on a rounding boundary
      if (kind < 13) return random() * 1000; // any double
      if (kind === 13) return random() * 1e-7;
      if (kind === 14) return random() * 1e12;
      if (kind === 15) return 0;
      if (kind === 16) return randomInt(random, 0, 30) / 10;
      if (kind === 17) return random() < 0.5 ? -1.5 : -0;
      if (kind === 18) return [Number.NaN, Number.POSITIVE_INFINITY, 1e308][randomInt(random, 0, 2)];
      return false; // not a number: counts 0
    };
    const groups = [1, 2, 3, false];
    const group = () => groups[randomInt(random, 0, groups.length - 1)];
    const set = (id: number, row: Row | undefined) => {
      if (row) rows.set(id, row);
      else rows.delete(id);
      totals.rowChanged(id, row);
    };
    const verify = (step: number) => {
      for (const g of groups) {
        const members = [...rows.values()].filter((r) => r["move_id"] === g).sort((x, y) => x.id - y.id);
        const expected = loopSum(members.map((r) => r["quantity"]));
        const got = totals.roundedSum(g, 1e6);
        assert.ok(Object.is(got, expected), `step ${step}, group ${g}: ${got} ≠ ${expected}`);
        assert.equal(totals.count(g), members.length);
        assert.equal(totals.flagged(g), members.filter((r) => r["picked"] === true).length);
      }
    };
    for (let step = 0; step < 4000; step++) {
      const ids = [...rows.keys()];
      const pick = () => ids[randomInt(random, 0, ids.length - 1)] as number;
      const op = ids.length < 5 ? 0 : randomInt(random, 0, 9);
      if (op <= 3) {
        const id = nextId++;
        set(id, { id, move_id: group(), quantity: value(), picked: random() < 0.3 });
      } else if (op <= 5) {
        const id = pick();
        set(id, { ...(rows.get(id) as Row), quantity: value() });
      } else if (op === 6) {
        const id = pick();
        set(id, { ...(rows.get(id) as Row), move_id: group(), picked: random() < 0.5 });
      } else if (op === 7) set(pick(), undefined);
      else {
        // A transaction rolled back: rows created, changed and deleted, then restored in the undo
        // log's order (first remembered first).
        const undo = new Map<number, Row | null>();
        for (let i = 0; i < randomInt(random, 1, 6); i++) {
          const kind = randomInt(random, 0, 2);
          const id = kind === 0 ? nextId++ : pick();
          if (!undo.has(id)) undo.set(id, rows.has(id) ? { ...(rows.get(id) as Row) } : null);
          if (kind === 0) set(id, { id, move_id: group(), quantity: value(), picked: false });
          else if (kind === 1 && rows.has(id)) set(id, { ...(rows.get(id) as Row), quantity: value() });
          else if (rows.has(id)) set(id, undefined);
          if (random() < 0.5) verify(step);
        }
        for (const [id, before] of undo) set(id, before ?? undefined);
      }
      verify(step);
    }
  });

  test("appends to a group of thousands of rows, and a change of any row, cost no loop over the group", () => {
    const totals = new ColumnTotals("move_id", "quantity", "picked");
    const quantities: number[] = [];
    for (let id = 1; id <= 5000; id++) {
      const q = id % 3 === 0 ? 0.1 : 1.000003;
      quantities.push(q);
      totals.rowChanged(id, { id, move_id: 1, quantity: q, picked: false });
      if (id % 1000 === 0) assert.ok(Object.is(totals.roundedSum(1, 1e6), loopSum(quantities)));
    }
    // With the group's entries dropped, any loop over them would throw: only a kept sum can answer.
    const entries = (totals as unknown as { entries: Map<number, unknown> }).entries;
    for (let id = 4000; id > 10; id -= 97) {
      totals.rowChanged(id, { id, move_id: 1, quantity: 2.3, picked: false });
      quantities[id - 1] = 2.3;
      const saved = new Map(entries);
      entries.clear();
      assert.ok(Object.is(totals.roundedSum(1, 1e6), loopSum(quantities)));
      for (const [k, v] of saved) entries.set(k, v);
    }
  });
});
