/**
 * Master-data constraints the simulator enforces as Odoo does (README "Conformance" §12): uom.uom's
 * SQL CHECKs (16–18 `factor`/`rounding`/reference factor, 19 `relative_factor` and `_check_factor`),
 * mrp.bom `_check_bom_cycle` and the unit of a new mrp.bom.line — and `sim.sql`, the backdoor that
 * writes around them as a direct SQL import does.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { m2o, openSim, type Session, type SimFixture } from "./odoo-helpers.js";

const CHECK = "odoo.exceptions.ValidationError";
const ZERO = "The operation cannot be completed: The conversion ratio for a unit of measure cannot be 0!";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - master-data constraints`, () => {
    let fx: SimFixture;
    let admin: Session;
    let units: number;
    let dozens: number;
    let category: number | false;
    before(async () => {
      fx = await openSim(profile);
      admin = fx.admin;
      units = fx.sim.env.ref("uom.product_uom_unit");
      [dozens] = (await admin.search("uom.uom", [["name", "=", "Dozens"]])) as [number];
      category =
        profile <= 18 ? m2o((await admin.read("uom.uom", units, ["category_id"]))["category_id"]) : false;
    });
    after(() => fx.sim.stop());

    const unitVals = (extra: Record<string, unknown>) =>
      profile <= 18
        ? { category_id: category, uom_type: "bigger", ...extra }
        : { relative_uom_id: units, ...extra };

    test("a unit with a zero factor is refused on create and on write (the SQL CHECK factor_gt_zero)", async () => {
      const zero = profile <= 18 ? { factor: 0 } : { relative_factor: 0 };
      await admin.fails("uom.uom", "create", [{ name: "Zero", ...unitVals(zero) }], CHECK, ZERO);
      await admin.fails("uom.uom", "write", [[dozens], zero], CHECK, ZERO);
      assert.equal(
        (await admin.read("uom.uom", dozens, [profile <= 18 ? "factor" : "relative_factor"]))[
          profile <= 18 ? "factor" : "relative_factor"
        ],
        profile <= 18 ? 1 / 12 : 12,
        "the refused write left the unit as it was",
      );
    });

    if (profile <= 18) {
      test("16–18: a zero rounding and a reference unit whose factor is not 1 are refused (rounding_gt_zero, factor_reference_is_one)", async () => {
        await admin.fails(
          "uom.uom",
          "create",
          [{ name: "Roundless", ...unitVals({ factor: 10, uom_type: "smaller", rounding: 0 }) }],
          CHECK,
          "The operation cannot be completed: The rounding precision must be strictly positive.",
        );
        await admin.fails(
          "uom.uom",
          "write",
          [[units], { factor: 2 }],
          CHECK,
          "The operation cannot be completed: The reference unit must have a conversion factor equal to 1.",
        );
      });
    } else {
      test("19: a unit without reference unit must contain 1 (_check_factor, a UserError)", async () => {
        await admin.fails(
          "uom.uom",
          "create",
          [{ name: "Orphan", relative_factor: 6 }],
          "odoo.exceptions.UserError",
          "Reference unit of measure is missing.",
        );
      });
    }

    test("sim.sql writes what the ORM refuses, as a direct SQL import does; the ORM then refuses any write of that row", async () => {
      const broken = fx.sim.sql.insert("uom.uom", {
        name: "Imported zero",
        ...unitVals(profile <= 18 ? { factor: 0 } : { relative_factor: 0 }),
      });
      const row = await admin.read("uom.uom", broken, ["name", profile <= 18 ? "factor" : "relative_factor"]);
      assert.equal(row[profile <= 18 ? "factor" : "relative_factor"], 0);
      await admin.fails("uom.uom", "write", [[broken], { name: "Renamed" }], CHECK, ZERO);
      fx.sim.sql.update("uom.uom", [broken], { name: "Renamed" });
      assert.equal((await admin.read("uom.uom", broken, ["name"]))["name"], "Renamed");
    });

    test("a BoM line created without unit gets its component's unit (MrpBomLine.create)", async () => {
      const [bom] = await admin.search("mrp.bom", [["code", "=", "CC100"]]);
      const paint = await admin.product("COMP-PNT");
      const kg = fx.sim.env.ref("uom.product_uom_kgm");
      assert.equal(m2o((await admin.read("product.product", paint, ["uom_id"]))["uom_id"]), kg);
      const line = await admin.call<number>("mrp.bom.line", "create", [{ bom_id: bom, product_id: paint }]);
      assert.equal(m2o((await admin.read("mrp.bom.line", line, ["product_uom_id"]))["product_uom_id"]), kg);
      const seeded = await admin.search("mrp.bom.line", [["bom_id", "=", bom]]);
      for (const l of await admin.readMany("mrp.bom.line", seeded, ["product_uom_id"]))
        assert.ok(l["product_uom_id"], "the seeded lines have a unit too");
      await admin.call("mrp.bom.line", "unlink", [[line]]);
    });

    test("a BoM closing a cycle is refused (_check_bom_cycle); a line created on its own is not checked, as in Odoo", async () => {
      // CC100 consumes COMP-STL: a BoM making COMP-STL out of FIN-CC100 closes the loop.
      const steel = await admin.product("COMP-STL");
      const cabinet = await admin.product("FIN-CC100");
      const tmpl = m2o((await admin.read("product.product", steel, ["product_tmpl_id"]))["product_tmpl_id"]);
      const names = (await admin.readMany("product.product", [steel, cabinet], ["display_name"])).map(
        (r) => r["display_name"],
      );
      await admin.fails(
        "mrp.bom",
        "create",
        [
          {
            product_tmpl_id: tmpl,
            code: "LOOP",
            bom_line_ids: [[0, 0, { product_id: cabinet, product_qty: 1 }]],
          },
        ],
        CHECK,
        `The current configuration is incorrect because it would create a cycle between these products: ${names.join(", ")}.`,
      );
      const bom = await admin.call<number>("mrp.bom", "create", [{ product_tmpl_id: tmpl, code: "LOOP" }]);
      assert.equal(
        m2o((await admin.read("mrp.bom", bom, ["product_uom_id"]))["product_uom_id"]),
        (await admin.search("uom.uom", [], { order: "id", limit: 1 }))[0],
        "a BoM without unit gets the first unit (_get_default_product_uom_id)",
      );
      await admin.fails(
        "mrp.bom",
        "write",
        [[bom], { bom_line_ids: [[0, 0, { product_id: cabinet, product_qty: 1 }]] }],
        CHECK,
        /would create a cycle between these products/,
      );
      // odoo/models.py validates the created model's own fields: mrp.bom's constraint does not run.
      await admin.call("mrp.bom.line", "create", [{ bom_id: bom, product_id: cabinet, product_qty: 1 }]);
      // …until the BoM itself is written on one of the constraint's fields (or its sequence).
      await admin.fails("mrp.bom", "write", [[bom], { sequence: 5 }], CHECK, /would create a cycle/);
      await admin.call("mrp.bom", "write", [[bom], { code: "LOOP2" }]);
      await admin.call("mrp.bom", "unlink", [[bom]]);
    });
  });
}
