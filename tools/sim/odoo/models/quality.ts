/**
 * Quality (Odoo Enterprise `quality_control`): teams, alert stages, control points, quality checks
 * (`do_pass` / `do_fail` / `do_measure`) and quality alerts.
 */
import type { Env, ModelSpec, Vals } from "../orm.js";

const firstId = (env: Env, model: string) => env.search(model, [], { limit: 1 })[0] ?? false;

function sequenced(prefix: string, code: string) {
  return (env: Env, vals: Vals) => {
    if (!vals["name"] || vals["name"] === "New")
      vals["name"] = `${prefix}${String(env.db.nextSequence(code)).padStart(5, "0")}`;
  };
}

export function qualityModels(): ModelSpec[] {
  return [
    {
      name: "quality.alert.team",
      description: "Quality Team",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Team Name", required: true },
        sequence: { type: "integer", string: "Sequence" },
      },
    },
    {
      name: "quality.alert.stage",
      description: "Quality Alert Stage",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Name", required: true },
        sequence: { type: "integer", string: "Sequence" },
        folded: { type: "boolean", string: "Folded" },
        done: { type: "boolean", string: "Alert Processed" },
      },
    },
    {
      name: "quality.point",
      description: "Quality Control Point",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Reference", default: "New" },
        title: { type: "char", string: "Title" },
        sequence: { type: "integer", string: "Sequence" },
        team_id: {
          type: "many2one",
          string: "Team",
          relation: "quality.alert.team",
          required: true,
          default: (env: Env) => firstId(env, "quality.alert.team"),
        },
        product_ids: { type: "many2many", string: "Products", relation: "product.product" },
        picking_type_ids: { type: "many2many", string: "Operation Types", relation: "stock.picking.type" },
        test_type: {
          type: "selection",
          string: "Test Type",
          selection: [
            ["passfail", "Pass - Fail"],
            ["measure", "Measure"],
            ["instructions", "Instructions"],
          ],
          default: "passfail",
          required: true,
        },
        norm: { type: "float", string: "Norm" },
        tolerance_min: { type: "float", string: "Min Tolerance" },
        tolerance_max: { type: "float", string: "Max Tolerance" },
      },
      beforeCreate: sequenced("QCP", "quality.point"),
    },
    {
      name: "quality.check",
      description: "Quality Check",
      order: "id desc",
      fields: {
        name: { type: "char", string: "Reference", default: "New" },
        point_id: { type: "many2one", string: "Control Point", relation: "quality.point" },
        title: { type: "char", string: "Title" },
        team_id: {
          type: "many2one",
          string: "Team",
          relation: "quality.alert.team",
          required: true,
          default: (env: Env) => firstId(env, "quality.alert.team"),
        },
        product_id: { type: "many2one", string: "Product", relation: "product.product" },
        lot_id: { type: "many2one", string: "Lot/Serial", relation: "stock.lot" },
        production_id: { type: "many2one", string: "Production Order", relation: "mrp.production" },
        workorder_id: { type: "many2one", string: "Operation", relation: "mrp.workorder" },
        picking_id: { type: "many2one", string: "Transfer", relation: "stock.picking" },
        quality_state: {
          type: "selection",
          string: "Status",
          selection: [
            ["none", "To do"],
            ["pass", "Passed"],
            ["fail", "Failed"],
          ],
          default: "none",
          required: true,
        },
        test_type: {
          type: "selection",
          string: "Test Type",
          selection: [
            ["passfail", "Pass - Fail"],
            ["measure", "Measure"],
            ["instructions", "Instructions"],
          ],
          default: "passfail",
        },
        measure: { type: "float", string: "Measure" },
        note: { type: "html", string: "Note" },
        user_id: { type: "many2one", string: "Responsible", relation: "res.users" },
        control_date: { type: "datetime", string: "Control Date" },
        alert_ids: { type: "one2many", string: "Alerts", relation: "quality.alert", inverse: "check_id" },
      },
      beforeCreate: sequenced("QC", "quality.check"),
      methods: {
        do_pass: { fn: ({ env, ids }) => judge(env, ids, "pass") },
        do_fail: { fn: ({ env, ids }) => judge(env, ids, "fail") },
        do_measure: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              const row = env.row("quality.check", id);
              const point = row["point_id"] as number | false;
              const m = Number(row["measure"]);
              const ok =
                !point ||
                (m >= Number(env.get("quality.point", point, "tolerance_min")) &&
                  m <= Number(env.get("quality.point", point, "tolerance_max")));
              judge(env, [id], ok ? "pass" : "fail");
            }
            return true;
          },
        },
      },
    },
    {
      name: "quality.alert",
      description: "Quality Alert",
      order: "priority desc, id desc",
      fields: {
        name: { type: "char", string: "Name", default: "New" },
        title: { type: "char", string: "Title" },
        description: { type: "html", string: "Description" },
        team_id: {
          type: "many2one",
          string: "Team",
          relation: "quality.alert.team",
          required: true,
          default: (env: Env) => firstId(env, "quality.alert.team"),
        },
        stage_id: {
          type: "many2one",
          string: "Stage",
          relation: "quality.alert.stage",
          default: (env: Env) => firstId(env, "quality.alert.stage"),
        },
        product_tmpl_id: { type: "many2one", string: "Product", relation: "product.template" },
        product_id: { type: "many2one", string: "Product Variant", relation: "product.product" },
        lot_id: { type: "many2one", string: "Lot", relation: "stock.lot" },
        workcenter_id: { type: "many2one", string: "Work Center", relation: "mrp.workcenter" },
        production_id: { type: "many2one", string: "Production Order", relation: "mrp.production" },
        picking_id: { type: "many2one", string: "Picking", relation: "stock.picking" },
        check_id: { type: "many2one", string: "Check", relation: "quality.check" },
        user_id: { type: "many2one", string: "Responsible", relation: "res.users" },
        priority: {
          type: "selection",
          string: "Priority",
          selection: [
            ["0", "Normal"],
            ["1", "Low"],
            ["2", "High"],
            ["3", "Very High"],
          ],
          default: "0",
        },
        date_assign: { type: "datetime", string: "Date Assigned" },
        date_close: { type: "datetime", string: "Date Closed" },
      },
      beforeCreate: (env, vals) => {
        sequenced("QA", "quality.alert")(env, vals);
        if (vals["product_id"] && !vals["product_tmpl_id"])
          vals["product_tmpl_id"] = env.get(
            "product.product",
            vals["product_id"] as number,
            "product_tmpl_id",
          );
      },
      afterWrite: (env, ids, vals) => {
        if (!("stage_id" in vals)) return;
        for (const id of ids) {
          const stage = env.get("quality.alert", id, "stage_id") as number | false;
          const done = stage ? env.get("quality.alert.stage", stage, "done") === true : false;
          env.setRaw("quality.alert", id, { date_close: done ? env.now() : false });
        }
      },
    },
  ];
}

function judge(env: Env, ids: number[], state: "pass" | "fail"): boolean {
  for (const id of ids)
    env.write("quality.check", [id], { quality_state: state, control_date: env.now(), user_id: env.uid });
  return true;
}
