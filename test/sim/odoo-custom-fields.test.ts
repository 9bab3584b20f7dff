/**
 * Specification: custom models and fields created over RPC (`ir.model`, `ir.model.fields`,
 * `ir.model.access`; research note B §4). They are live at once and copied as their flag says.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { m2o, openSim, type Row, type Session, type SimFixture } from "./odoo-helpers.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - custom models and fields`, () => {
    let fx: SimFixture;
    let admin: Session;
    let mrp: Session;
    const modelId = async (model: string) =>
      (await admin.search("ir.model", [["model", "=", model]]))[0] as number;

    before(async () => {
      fx = await openSim(profile);
      admin = fx.admin;
      mrp = fx.integration;
    });
    after(() => fx.sim.stop());

    test("a custom field is live at once: fields_get, read, write, search; ir.model.fields shows it as Odoo does", async () => {
      const fieldId = await admin.call<number>("ir.model.fields", "create", [
        {
          name: "x_threadline_event_id",
          model_id: await modelId("stock.picking"),
          ttype: "char",
          field_description: "Threadline Event ID",
          index: true,
        },
      ]);
      const [f] = await admin.call<Row[]>("ir.model.fields", "search_read", [[["id", "=", fieldId]]], {
        fields: ["name", "model", "ttype", "state", "copied", "index", "field_description", "model_id"],
      });
      assert.deepEqual(
        [f?.["model"], f?.["ttype"], f?.["state"], f?.["copied"], f?.["index"]],
        ["stock.picking", "char", "manual", true, true],
      );
      const described = await mrp.call<Row>("stock.picking", "fields_get", [["x_threadline_event_id"]], {
        attributes: ["type", "manual", "string"],
      });
      assert.deepEqual(described["x_threadline_event_id"], {
        type: "char",
        manual: true,
        string: "Threadline Event ID",
      });
      const [picking] = await mrp.search("stock.picking", [], { limit: 1 });
      await mrp.call("stock.picking", "write", [[picking], { x_threadline_event_id: "01J0ABC" }]);
      assert.deepEqual(await mrp.search("stock.picking", [["x_threadline_event_id", "=", "01J0ABC"]]), [
        picking,
      ]);
    });

    test("copied follows Odoo's compute (not one2many, related or computed) and can be given", async () => {
      const model = await modelId("mrp.production");
      const ids = await admin.call<number[]>("ir.model.fields", "create", [
        [
          { name: "x_a", model_id: model, ttype: "integer", field_description: "A" },
          { name: "x_b", model_id: model, ttype: "float", field_description: "B", copied: false },
          {
            name: "x_c",
            model_id: model,
            ttype: "char",
            field_description: "C",
            related: "product_id.default_code",
          },
        ],
      ]);
      const rows = await admin.readMany("ir.model.fields", ids, ["copied"]);
      assert.deepEqual(
        rows.map((r) => r["copied"]),
        [true, false, false],
      );
      await admin.call("ir.model.fields", "write", [[ids[1]], { copied: true }]);
      assert.equal((await admin.read("ir.model.fields", ids[1] as number, ["copied"]))["copied"], true);
      const [mo] = await mrp.search("mrp.production", [["state", "=", "confirmed"]], { limit: 1 });
      const code = (await mrp.read("mrp.production", mo as number, ["x_c"]))["x_c"];
      assert.match(String(code), /^FIN-/);
    });

    test(
      profile === 16
        ? "16: a custom field name must start with x_ (Python constraint)"
        : `${profile}: a custom field name must start with x_ (SQL constraint name_manual_field)`,
      async () => {
        await admin.fails(
          "ir.model.fields",
          "create",
          [
            {
              name: "threadline_id",
              model_id: await modelId("mrp.production"),
              ttype: "char",
              field_description: "T",
            },
          ],
          "odoo.exceptions.ValidationError",
          profile === 16
            ? "Custom fields must have a name that starts with 'x_' !"
            : "The operation cannot be completed: Custom fields must have a name that starts with 'x_'!",
        );
        await admin.fails(
          "ir.model.fields",
          "create",
          [
            {
              name: "x_a",
              model_id: await modelId("mrp.production"),
              ttype: "char",
              field_description: "again",
            },
          ],
          "odoo.exceptions.ValidationError",
          "The operation cannot be completed: Field names must be unique per model.",
        );
        await admin.fails(
          "ir.model.fields",
          "write",
          [
            await admin.search("ir.model.fields", [
              ["model", "=", "mrp.production"],
              ["name", "=", "origin"],
            ]),
            { copied: false },
          ],
          "odoo.exceptions.UserError",
          "Properties of base fields cannot be altered in this manner! Please modify them through Python code, preferably through a custom addon!",
        );
      },
    );

    test("custom fields need Administration / Access Rights: the integration user is refused", async () => {
      await mrp.fails(
        "ir.model.fields",
        "create",
        [{ name: "x_nope", model_id: 1, ttype: "char", field_description: "Nope" }],
        "odoo.exceptions.AccessError",
        profile >= 19
          ? "You are not allowed to create 'Fields' (ir.model.fields) records.\n\nThis operation is allowed for the following groups:\n\t- Access Rights\n\nContact your administrator to request access if necessary."
          : "You are not allowed to create 'Fields' (ir.model.fields) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.",
      );
    });

    test("a custom model: x_ name, x_name by default, no access for anyone until ir.model.access says so", async () => {
      await admin.fails(
        "ir.model",
        "create",
        [{ name: "Posting", model: "threadline_posting" }],
        "odoo.exceptions.ValidationError",
        "The model name must start with 'x_'.",
      );
      const model = await admin.call<number>("ir.model", "create", [
        { name: "Threadline Posting", model: "x_threadline_posting" },
      ]);
      const fields = await admin.call<Row[]>("ir.model.fields", "search_read", [[["model_id", "=", model]]], {
        fields: ["name", "ttype", "state"],
      });
      assert.deepEqual(
        fields.map((f) => [f["name"], f["ttype"], f["state"]]),
        [["x_name", "char", "manual"]],
      );
      await admin.fails(
        "x_threadline_posting",
        "search",
        [[]],
        "odoo.exceptions.AccessError",
        /^You are not allowed to access 'Threadline Posting' \(x_threadline_posting\) records\.\n\nNo group currently allows this operation\./,
      );
      await admin.call("ir.model.access", "create", [
        {
          name: "threadline posting",
          model_id: model,
          group_id: fx.sim.env.ref("mrp.group_mrp_user"),
          perm_read: true,
          perm_write: true,
          perm_create: true,
          perm_unlink: false,
        },
      ]);
      const id = await mrp.call<number>("x_threadline_posting", "create", [{ x_name: "evt-1" }]);
      assert.deepEqual(await mrp.call("x_threadline_posting", "name_search", ["evt"]), [[id, "evt-1"]]);
      await mrp.fails(
        "x_threadline_posting",
        "unlink",
        [[id]],
        "odoo.exceptions.AccessError",
        /^You are not allowed to delete/,
      );
    });

    test("many2one / one2many custom fields: commands, domains through them, selection fields", async () => {
      const posting = await modelId("x_threadline_posting");
      await admin.call("ir.model.fields", "create", [
        [
          {
            name: "x_production_id",
            model_id: posting,
            ttype: "many2one",
            relation: "mrp.production",
            field_description: "Order",
          },
          {
            name: "x_kind",
            model_id: posting,
            ttype: "selection",
            selection: "[('good', 'Good'), ('scrap', 'Scrap')]",
            field_description: "Kind",
          },
        ],
      ]);
      await admin.call("ir.model.fields", "create", [
        {
          name: "x_posting_ids",
          model_id: await modelId("mrp.production"),
          ttype: "one2many",
          relation: "x_threadline_posting",
          relation_field: "x_production_id",
          field_description: "Postings",
        },
      ]);
      const [mo] = await mrp.search("mrp.production", [["state", "=", "confirmed"]], { limit: 1 });
      await mrp.call("mrp.production", "write", [
        [mo],
        { x_posting_ids: [[0, 0, { x_name: "evt-2", x_kind: "good" }]] },
      ]);
      const found = await mrp.search("mrp.production", [["x_posting_ids.x_name", "=", "evt-2"]]);
      assert.deepEqual(found, [mo]);
      const [p] = await mrp.call<Row[]>("x_threadline_posting", "search_read", [[["x_name", "=", "evt-2"]]], {
        fields: ["x_production_id", "x_kind"],
      });
      assert.deepEqual([m2o(p?.["x_production_id"]), p?.["x_kind"]], [mo, "good"]);
      const bad = await mrp.envelope("x_threadline_posting", "create", [{ x_name: "evt-3", x_kind: "nope" }]);
      assert.equal(bad.error?.data["name"], "builtins.ValueError");
      await admin.fails(
        "ir.model.fields",
        "create",
        [
          {
            name: "x_wrong",
            model_id: posting,
            ttype: "many2one",
            relation: "x_nowhere",
            field_description: "W",
          },
        ],
        "odoo.exceptions.ValidationError",
        "Unknown model name 'x_nowhere' in Related Model",
      );
      await admin.fails(
        "ir.model.fields",
        "create",
        [
          {
            name: "x_bad_ids",
            model_id: await modelId("mrp.production"),
            ttype: "one2many",
            relation: "x_threadline_posting",
            relation_field: "x_nothing",
            field_description: "Bad",
          },
        ],
        "odoo.exceptions.UserError",
        "Many2one x_nothing on model x_threadline_posting does not exist!",
      );
      const leftover = await admin.search("ir.model.fields", [["name", "in", ["x_wrong", "x_bad_ids"]]]);
      assert.deepEqual(leftover, [], "a failed creation leaves nothing behind");
      const unknown = await mrp.envelope("mrp.production", "search", [[["x_bad_ids", "=", false]]]);
      assert.equal(unknown.error?.data["name"], "builtins.ValueError");
    });

    test("a picking backorder copies custom fields whose copied flag is set", async () => {
      const model = await modelId("stock.picking");
      await admin.call("ir.model.fields", "create", [
        { name: "x_not_copied", model_id: model, ttype: "char", field_description: "N", copied: false },
      ]);
      const picking = await mrp.call<number>("stock.picking", "create", [
        {
          picking_type_id: fx.sim.env.ref("stock.picking_type_in"),
          x_threadline_event_id: "evt-pick",
          x_not_copied: "no",
          move_ids: [
            [
              0,
              0,
              {
                ...(profile <= 18 ? { name: "Alu" } : {}),
                product_id: await mrp.product("COMP-ALU"),
                product_uom_qty: 10,
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
        profile === 16 ? { qty_done: 4 } : { quantity: 4, picked: true },
      ]);
      await mrp
        .call("stock.picking", "button_validate", [[picking]], { context: { skip_backorder: false } })
        .then((wizard) => mrp.answer(wizard as never, "process"));
      const [bo] = (await mrp.read("stock.picking", picking, ["backorder_ids"]))["backorder_ids"] as number[];
      const row = await mrp.read("stock.picking", bo as number, ["x_threadline_event_id", "x_not_copied"]);
      assert.deepEqual([row["x_threadline_event_id"], row["x_not_copied"]], ["evt-pick", false]);
    });
  });
}
