/**
 * Bills of materials and operations (mrp/models/mrp_bom.py, mrp_routing.py; sources: README "Conformance"):
 * - `mrp.bom.consumption` flexible/warning/strict, default 'warning', copied on the order at confirm;
 *   SQL `qty_positive` "The quantity to produce must be positive!";
 * - `mrp.bom.line.manual_consumption`: 16/17 a stored compute (tracked component or consumed in an
 *   operation), writable; 18 a plain boolean; removed in 19 (`_determine_is_manual_consumption` then
 *   only looks at `operation_id`);
 * - `mrp.routing.workcenter`: an operation on a work centre with a manual cycle time in minutes.
 */
import { ValidationError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

export const CONSUMPTION = [
  ["flexible", "Allowed"],
  ["warning", "Allowed with warning"],
  ["strict", "Blocked"],
] as const;

export function bomModels(p: Profile): ModelSpec[] {
  const lineManual: ModelSpec["fields"] =
    p.version >= 19
      ? {}
      : {
          manual_consumption: {
            type: "boolean",
            string: p.version >= 18 ? "Highlight Consumption" : "Manual Consumption",
            default:
              p.version <= 17
                ? // `_compute_manual_consumption`: tracking != 'none' or operation_id
                  (env: Env, vals: Vals) =>
                    Boolean(vals["operation_id"]) ||
                    (vals["product_id"]
                      ? env.get("product.product", vals["product_id"] as number, "tracking") !== "none"
                      : false)
                : false,
          },
        };
  return [
    {
      name: "mrp.routing.workcenter",
      description: "Work Center Usage",
      order: "bom_id, sequence, id",
      fields: {
        name: { type: "char", string: "Operation", required: true },
        workcenter_id: {
          type: "many2one",
          string: "Work Center",
          relation: "mrp.workcenter",
          required: true,
        },
        bom_id: {
          type: "many2one",
          string: "Bill of Material",
          relation: "mrp.bom",
          ondelete: "cascade",
          required: true,
        },
        sequence: { type: "integer", string: "Sequence", default: 100 },
        time_mode: {
          type: "selection",
          string: "Duration Computation",
          selection: [
            ["auto", "Compute based on tracked time"],
            ["manual", "Set duration manually"],
          ],
          default: "manual",
        },
        time_cycle_manual: { type: "float", string: "Manual Duration", default: 60 },
        time_cycle: {
          type: "float",
          string: "Duration",
          compute: (_env, row) => float(row["time_cycle_manual"]),
        },
      },
    },
    {
      name: "mrp.bom",
      description: "Bill of Material",
      order: "sequence, id",
      recName: "product_tmpl_id",
      fields: {
        product_tmpl_id: {
          type: "many2one",
          string: "Product",
          relation: "product.template",
          required: true,
        },
        product_id: { type: "many2one", string: "Product Variant", relation: "product.product" },
        product_qty: { type: "float", string: "Quantity", default: 1, required: true },
        product_uom_id: { type: "many2one", string: "Unit", relation: "uom.uom" },
        code: { type: "char", string: "Reference" },
        sequence: { type: "integer", string: "Sequence" },
        active: { type: "boolean", string: "Active", default: true },
        type: {
          type: "selection",
          string: "BoM Type",
          selection: [
            ["normal", "Manufacture this product"],
            ["phantom", "Kit"],
          ],
          default: "normal",
          required: true,
        },
        consumption: {
          type: "selection",
          string: "Flexible Consumption",
          selection: CONSUMPTION,
          default: "warning",
          required: true,
        },
        bom_line_ids: {
          type: "one2many",
          string: "BoM Lines",
          relation: "mrp.bom.line",
          inverse: "bom_id",
          copy: true,
        },
        operation_ids: {
          type: "one2many",
          string: "Operations",
          relation: "mrp.routing.workcenter",
          inverse: "bom_id",
          copy: true,
        },
      },
      displayName: (env, row) =>
        `${row["code"] ? `${row["code"]}: ` : ""}${env.displayName("product.template", row["product_tmpl_id"] as number)}`,
      constrain: (env, ids) => {
        for (const id of ids)
          if (float(env.get("mrp.bom", id, "product_qty")) <= 0)
            throw sqlCheck("The quantity to produce must be positive!");
      },
    },
    {
      name: "mrp.bom.line",
      description: "Bill of Material Line",
      order: "sequence, id",
      recName: "product_id",
      fields: {
        bom_id: {
          type: "many2one",
          string: "Parent BoM",
          relation: "mrp.bom",
          required: true,
          ondelete: "cascade",
        },
        product_id: { type: "many2one", string: "Component", relation: "product.product", required: true },
        product_qty: { type: "float", string: "Quantity", default: 1, required: true },
        product_uom_id: { type: "many2one", string: "Product Unit of Measure", relation: "uom.uom" },
        operation_id: {
          type: "many2one",
          string: "Consumed in Operation",
          relation: "mrp.routing.workcenter",
        },
        sequence: { type: "integer", string: "Sequence", default: 1 },
        ...lineManual,
      },
    },
  ];
}

/** An SQL CHECK registered in `_sql_constraints`, as `_as_validation_error` words it. */
export function sqlCheck(message: string): ValidationError {
  return new ValidationError(`The operation cannot be completed: ${message}`);
}
