/**
 * Specification: the seeded database every profile starts with (tools/sim/odoo/seed.ts): the demo
 * plant's work centres and routings, tracked products, BoMs in each consumption mode, initial stock,
 * the manufacturing operation type, the users.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { LINE_WORKCENTERS } from "../../tools/sim/odoo/seed.js";
import { m2o, openSim, type Row, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - seeded data`, () => {
    let fx: SimFixture;
    before(async () => {
      fx = await openSim(profile);
    });
    after(() => fx.sim.stop());

    test("one work centre per machine of the demo plant's lines, with the routings on them", async () => {
      const mrp = fx.integration;
      const centres = await mrp.call<Row[]>("mrp.workcenter", "search_read", [[["code", "=like", "L_-%"]]], {
        fields: ["code", "name"],
        order: "id",
      });
      assert.deepEqual(
        centres.map((c) => c["code"]),
        ["L1-FILL", "L1-CAP", "L1-LAB", "L2-MIX", "L2-OVEN", "L2-PACK"],
      );
      for (const w of LINE_WORKCENTERS)
        assert.equal(fx.sim.env.ref(w.xmlId), centres.find((c) => c["code"] === w.code)?.["id"]);
      const ops = async (bomXmlId: string) =>
        (
          await mrp.call<Row[]>(
            "mrp.routing.workcenter",
            "search_read",
            [[["bom_id", "=", fx.sim.env.ref(bomXmlId)]]],
            {
              fields: ["workcenter_id"],
            },
          )
        ).map((o) => (o["workcenter_id"] as [number, string])[1]);
      assert.deepEqual(await ops("threadline.bom_hj250"), [
        "Line 1 Filler",
        "Line 1 Capper",
        "Line 1 Labeler",
      ]);
      assert.deepEqual(await ops("threadline.bom_gb40"), ["Line 2 Mixer", "Line 2 Oven", "Line 2 Packer"]);
    });

    test("tracked finished products and BoMs in every consumption mode", async () => {
      const mrp = fx.integration;
      const products = await mrp.call<Row[]>(
        "product.product",
        "search_read",
        [[["default_code", "=like", "FIN-%"]]],
        {
          fields: ["default_code", "tracking"],
        },
      );
      const tracking = Object.fromEntries(products.map((p) => [p["default_code"], p["tracking"]]));
      assert.deepEqual(tracking, {
        "FIN-CC100": "lot",
        "FIN-GB40": "none",
        "FIN-HJ250": "lot",
        "FIN-PH5": "serial",
        "FIN-SB20": "none",
      });
      const boms = await mrp.call<Row[]>("mrp.bom", "search_read", [[]], { fields: ["code", "consumption"] });
      assert.deepEqual(Object.fromEntries(boms.map((b) => [b["code"], b["consumption"]])), {
        CC100: "flexible",
        SB20: "warning",
        PH5: "flexible",
        HJ250: "strict",
        GB40: "warning",
      });
    });

    test("components are in stock (some in lots); the manufacturing type asks about backorders", async () => {
      const mrp = fx.integration;
      const quants = await mrp.call<Row[]>(
        "stock.quant",
        "search_read",
        [
          [
            ["location_id", "=", fx.sim.env.ref("stock.stock_location_stock")],
            ["product_id.default_code", "in", ["COMP-JAR", "COMP-HNY"]],
          ],
        ],
        { fields: ["product_id", "lot_id", "quantity"] },
      );
      assert.deepEqual(
        quants.map((q) => [
          (q["product_id"] as [number, string])[1],
          q["lot_id"] ? (q["lot_id"] as [number, string])[1] : false,
        ]),
        [
          ["[COMP-JAR] Glass Jar 250 ml", false],
          ["[COMP-HNY] Bulk Honey", "HNY-2401"],
        ],
      );
      const type = await mrp.read("stock.picking.type", fx.sim.env.ref("mrp.picking_type_manufacturing"), [
        "create_backorder",
        "use_create_lots",
        "code",
      ]);
      assert.deepEqual(
        [type["create_backorder"], type["use_create_lots"], type["code"]],
        ["ask", true, "mrp_operation"],
      );
    });

    test("users: admin, the integration user and the restricted one, each logging in with password or API key", async () => {
      const { admin, integration, restricted } = fx.sim.users;
      assert.equal(admin.uid, 2);
      assert.deepEqual(
        [admin.login, integration.login, restricted.login],
        ["admin", "threadline", "shopfloor"],
      );
      assert.deepEqual(fx.sim.credentials, admin);
      assert.deepEqual(fx.sim.restricted, restricted);
      const me = await fx.integration.read("res.users", integration.uid, ["name", "login"]);
      assert.deepEqual([me["name"], me["login"]], ["Threadline Integration", "threadline"]);
      assert.equal(m2o(me["id"] as number), integration.uid);
    });
  });
}
