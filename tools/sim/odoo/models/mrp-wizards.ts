/**
 * The wizards `button_mark_done` returns (mrp/wizard/*.py, 16/17/18/19; sources: README "Conformance"):
 * - `mrp.production.backorder`: `action_backorder` (lines to backorder + 18/19
 *   `always_backorder_mo_ids`, `skip_backorder`), `action_close_mo` (`skip_backorder`; 18/19 still
 *   backorder the "always" orders);
 * - `mrp.consumption.warning`: `action_confirm` (`skip_consumption`: also bypasses `strict`, which only
 *   the view restricts), `action_set_qty` (the expected quantities; 17+ picked; ≤17 refuses to raise a
 *   tracked component's consumption without auto-consumed lots);
 * - `mrp.immediate.production` (16): produce everything, lots generated, then `button_mark_done` with
 *   `skip_immediate`.
 */
import { UserError } from "../errors.js";
import { Env, type ModelSpec, type Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { consumptionIssues, markDone, xmlAction } from "./mrp-mark-done.js";
import {
  generateSerial,
  mo,
  producingLots,
  productTracking,
  qtyProduced,
  raws,
  setQtyProducing,
} from "./mrp-production.js";
import { applyQuantityInverse, moveDoneQty } from "./stock-move.js";
import { round } from "./stock-quant.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

/** The wizard's context with `extra`, without the keys Odoo pops (`default_mrp_production_ids`, …). */
function contextWith(env: Env, extra: Vals, pop: string[] = ["default_mrp_production_ids"]): Env {
  const ctx: Vals = { ...env.context, ...extra };
  for (const k of pop) delete ctx[k];
  return new Env(env.db, env.uid, ctx, env.tx, env.su);
}

function wizardProductions(env: Env, model: string, ids: number[]): number[] {
  return [...new Set(ids.flatMap((id) => env.get(model, id, "mrp_production_ids") as number[]))];
}

/** mrp_consumption_warning.py `action_set_qty`. */
function setExpectedQuantities(env: Env, ids: number[]): void {
  const p = env.profile;
  const problem: string[] = [];
  const missing: Vals[] = [];
  for (const id of ids) {
    for (const production of env.get("mrp.consumption.warning", id, "mrp_production_ids") as number[]) {
      const lines = env.get("mrp.consumption.warning", id, "mrp_consumption_warning_line_ids") as number[];
      for (const l of lines) {
        const line = env.row("mrp.consumption.warning.line", l);
        if (line["mrp_production_id"] !== production) continue;
        let expected = float(line["product_expected_qty_uom"]);
        for (const m of raws(env, production)) {
          if (env.get("stock.move", m, "product_id") !== line["product_id"]) continue;
          const current = moveDoneQty(env, m);
          if (Math.abs(expected - current) > 1e-9) {
            const tracked = env.get("product.product", line["product_id"] as number, "tracking") !== "none";
            const autoLots =
              p.version <= 17 &&
              env.get(
                "stock.picking.type",
                mo(env, production)["picking_type_id"] as number,
                "use_auto_consume_components_lots",
              ) === true;
            if (p.version <= 17 && tracked && !autoLots && expected > current) {
              problem.push(String(env.get("product.product", line["product_id"] as number, "name")));
              break;
            }
            if (p.picked) env.write("stock.move", [m], { quantity: expected });
            else applyQuantityInverse(env, m, expected);
          }
          if (p.picked) env.write("stock.move", [m], { picked: true });
          expected = 0;
          env.setRaw("mrp.consumption.warning.line", l, { product_expected_qty_uom: 0 });
        }
        if (Math.abs(expected) > 1e-9) {
          const tracked = env.get("product.product", line["product_id"] as number, "tracking") !== "none";
          if (p.version <= 17 && tracked) {
            problem.push(String(env.get("product.product", line["product_id"] as number, "name")));
            continue;
          }
          missing.push({
            product_id: line["product_id"],
            product_uom:
              line["product_uom_id"] || env.get("product.product", line["product_id"] as number, "uom_id"),
            product_uom_qty: expected,
            raw_material_production_id: production,
            additional: true,
            location_id: mo(env, production)["location_src_id"],
            location_dest_id: env.search("stock.location", [["usage", "=", "production"]], { limit: 1 })[0],
            picking_type_id: mo(env, production)["picking_type_id"],
            state: "confirmed",
          });
        }
      }
    }
  }
  if (problem.length)
    throw new UserError(
      p.version <= 17
        ? `Values cannot be set and validated because a Lot/Serial Number needs to be specified for a tracked product that is having its consumed amount increased:\n- ${problem.join("\n- ")}`
        : `Values cannot be set and validated because a Lot/Serial Number needs to be specified for a tracked product that is having its consumed amount increased:${problem.map((n) => `\n- ${n}`).join("")}`,
    );
  for (const vals of missing) {
    const qty = float(vals["product_uom_qty"]);
    const m = env.create("stock.move", vals);
    applyQuantityInverse(env, m, qty);
    if (p.picked) env.write("stock.move", [m], { picked: true });
  }
}

/** mrp_immediate_production.py `process` (16). */
function processImmediate(env: Env, ids: number[]): unknown {
  const todo: number[] = [];
  const notTodo: number[] = [];
  for (const id of ids)
    for (const l of env.get("mrp.immediate.production", id, "immediate_production_line_ids") as number[]) {
      const line = env.row("mrp.immediate.production.line", l);
      (line["to_immediate"] === true ? todo : notTodo).push(line["production_id"] as number);
    }
  for (const production of todo) {
    if (productTracking(env, production) !== "none" && producingLots(env, production).length === 0)
      generateSerial(env, production);
    const row = mo(env, production);
    if (productTracking(env, production) === "serial" && float(row["qty_producing"]) > 1)
      env.setRaw("mrp.production", production, { qty_producing: 1 });
    else
      env.setRaw("mrp.production", production, {
        qty_producing: round(float(row["product_qty"]) - qtyProduced(env, production)),
      });
    setQtyProducing(env, production);
    const missing: string[] = [];
    for (const m of raws(env, production)) {
      const move = env.row("stock.move", m);
      if (["done", "cancel"].includes(String(move["state"])) || !float(move["product_uom_qty"])) continue;
      if (
        env.get("product.product", move["product_id"] as number, "tracking") !== "none" &&
        moveDoneQty(env, m) === 0
      )
        missing.push(`\n  - ${env.displayName("product.product", move["product_id"] as number)}`);
    }
    if (missing.length)
      throw new UserError(`You need to supply Lot/Serial Number for products:${missing.join("")}`);
  }
  const toValidate = ((env.context["button_mark_done_production_ids"] as number[] | undefined) ?? []).filter(
    (id) => !notTodo.includes(id),
  );
  if (!toValidate.length) return true;
  const issues = consumptionIssues(env, toValidate);
  if (issues.length)
    return xmlAction(
      "mrp.action_mrp_consumption_warning",
      { name: "Consumption Warning", res_model: "mrp.consumption.warning" },
      { ...env.context, default_mrp_production_ids: toValidate },
    );
  return markDone(env.withContext({ skip_immediate: true }), toValidate);
}

export function mrpWizardModels(p: Profile): ModelSpec[] {
  const list: ModelSpec[] = [
    {
      name: "mrp.production.backorder",
      description: "Wizard to mark as done or create back order",
      transient: true,
      fields: {
        mrp_production_ids: { type: "many2many", string: "Manufacturing Orders", relation: "mrp.production" },
        mrp_production_backorder_line_ids: {
          type: "one2many",
          string: "Backorder Confirmation Lines",
          relation: "mrp.production.backorder.line",
          inverse: "mrp_production_backorder_id",
        },
        show_backorder_lines: {
          type: "boolean",
          string: "Show backorder lines",
          compute: (env, row) =>
            (env.get("mrp.production.backorder", row.id, "mrp_production_backorder_line_ids") as number[])
              .length > 1,
        },
      },
      methods: {
        // 18/19 (and later 17.0 builds): "always" orders passed in `always_backorder_mo_ids` are
        // backordered whichever button is pressed
        action_backorder: {
          fn: ({ env, ids }) => {
            const always = (env.context["always_backorder_mo_ids"] as number[] | undefined) ?? [];
            const toBackorder = ids.flatMap((id) =>
              (env.get("mrp.production.backorder", id, "mrp_production_backorder_line_ids") as number[])
                .map((l) => env.row("mrp.production.backorder.line", l))
                .filter((l) => l["to_backorder"] === true)
                .map((l) => l["mrp_production_id"] as number),
            );
            const ctx = contextWith(
              env,
              { skip_backorder: true, mo_ids_to_backorder: [...toBackorder, ...always] },
              ["default_mrp_production_ids", "always_backorder_mo_ids"],
            );
            return markDone(ctx, wizardProductions(env, "mrp.production.backorder", ids));
          },
        },
        action_close_mo: {
          fn: ({ env, ids }) => {
            const productions = wizardProductions(env, "mrp.production.backorder", ids);
            const always = (env.context["always_backorder_mo_ids"] as number[] | undefined) ?? [];
            const extra: Vals = { skip_backorder: true };
            if (p.version >= 17) extra["mo_ids_to_backorder"] = always;
            if (p.version === 17) extra["no_procurement"] = true;
            return markDone(contextWith(env, extra, ["always_backorder_mo_ids"]), productions);
          },
        },
      },
    },
    {
      name: "mrp.production.backorder.line",
      description: "Backorder Confirmation Line",
      transient: true,
      fields: {
        mrp_production_backorder_id: {
          type: "many2one",
          string: "MO Backorder",
          relation: "mrp.production.backorder",
          required: true,
          ondelete: "cascade",
        },
        mrp_production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          required: true,
          ondelete: "cascade",
        },
        to_backorder: { type: "boolean", string: "To Backorder" },
      },
    },
    {
      name: "mrp.consumption.warning",
      description:
        "Wizard in case of consumption in warning/strict and more component has been used for a MO (related to the bom)",
      transient: true,
      fields: {
        mrp_production_ids: { type: "many2many", string: "Manufacturing Orders", relation: "mrp.production" },
        mrp_consumption_warning_line_ids: {
          type: "one2many",
          string: "Lines",
          relation: "mrp.consumption.warning.line",
          inverse: "mrp_consumption_warning_id",
        },
        consumption: {
          type: "selection",
          string: "Consumption",
          selection: [
            ["flexible", "Allowed"],
            ["warning", "Allowed with warning"],
            ["strict", "Blocked"],
          ],
          compute: (env, row) => {
            const modes = (
              env.get("mrp.consumption.warning", row.id, "mrp_consumption_warning_line_ids") as number[]
            ).map((l) => env.get("mrp.consumption.warning.line", l, "consumption"));
            return modes.includes("strict") ? "strict" : modes.includes("warning") ? "warning" : "flexible";
          },
        },
      },
      methods: {
        action_confirm: {
          fn: ({ env, ids }) =>
            markDone(
              contextWith(env, { skip_consumption: true }),
              wizardProductions(env, "mrp.consumption.warning", ids),
            ),
        },
        action_set_qty: {
          fn: ({ env, ids }) => {
            setExpectedQuantities(env, ids);
            return markDone(
              contextWith(env, { skip_consumption: true }),
              wizardProductions(env, "mrp.consumption.warning", ids),
            );
          },
        },
      },
    },
    {
      name: "mrp.consumption.warning.line",
      description: "Line of issue consumption",
      transient: true,
      fields: {
        mrp_consumption_warning_id: {
          type: "many2one",
          string: "Parent Wizard",
          relation: "mrp.consumption.warning",
          required: true,
          ondelete: "cascade",
        },
        mrp_production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          required: true,
        },
        consumption: {
          type: "selection",
          string: "Consumption",
          selection: [
            ["flexible", "Allowed"],
            ["warning", "Allowed with warning"],
            ["strict", "Blocked"],
          ],
        },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_uom_id: { type: "many2one", string: "Unit of Measure", relation: "uom.uom" },
        product_consumed_qty_uom: { type: "float", string: "Consumed" },
        product_expected_qty_uom: { type: "float", string: "To Consume" },
      },
    },
  ];
  if (p.immediateWizards)
    list.push(
      {
        name: "mrp.immediate.production",
        description: "Immediate Production",
        transient: true,
        fields: {
          mo_ids: { type: "many2many", string: "Manufacturing Order", relation: "mrp.production" },
          show_productions: { type: "boolean", string: "Show Productions" },
          immediate_production_line_ids: {
            type: "one2many",
            string: "Immediate Production Lines",
            relation: "mrp.immediate.production.line",
            inverse: "immediate_production_id",
          },
        },
        // default_get: one line per `default_mo_ids`
        afterCreate: (env, ids) => {
          for (const id of ids) {
            if ((env.get("mrp.immediate.production", id, "immediate_production_line_ids") as number[]).length)
              continue;
            for (const production of env.get("mrp.immediate.production", id, "mo_ids") as number[])
              env.create("mrp.immediate.production.line", {
                immediate_production_id: id,
                production_id: production,
                to_immediate: true,
              });
          }
        },
        methods: { process: { fn: ({ env, ids }) => processImmediate(env, ids) } },
      },
      {
        name: "mrp.immediate.production.line",
        description: "Immediate Production Line",
        transient: true,
        fields: {
          immediate_production_id: {
            type: "many2one",
            string: "Immediate Production",
            relation: "mrp.immediate.production",
            required: true,
            ondelete: "cascade",
          },
          production_id: {
            type: "many2one",
            string: "Production",
            relation: "mrp.production",
            required: true,
          },
          to_immediate: { type: "boolean", string: "To Process" },
        },
      },
    );
  return list;
}
