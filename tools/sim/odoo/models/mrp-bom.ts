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
        // mrp_bom.py S16 L46-49, S19 L45-47: required, `_get_default_product_uom_id` (the first unit by id)
        product_uom_id: {
          type: "many2one",
          string: "Unit",
          relation: "uom.uom",
          required: true,
          default: firstUnit,
        },
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
      // The SQL CHECK at the INSERT/UPDATE, then `_check_bom_cycle` as `_validate_fields` runs it: on
      // every create (`active` and `product_tmpl_id` are always among the stored values) and on a write
      // of one of its fields or of `sequence` (`write` override) — never on a mrp.bom.line create or
      // write (odoo/models.py `create`/`write` validate the written model's own fields only, S16 L4227,
      // L3798; S19 L4944, L4488).
      afterCreate: (env, ids) => {
        checkQtyPositive(env, ids);
        checkBomCycle(env, ids);
      },
      afterWrite: (env, ids, vals) => {
        checkQtyPositive(env, ids);
        if (CYCLE_TRIGGERS.some((f) => f in vals)) checkBomCycle(env, ids);
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
        // mrp_bom.py S16 L421-425, S19 L665-667: required, default the first unit by id; the `create`
        // override puts the component's unit when `product_id` is given without a unit
        product_uom_id: {
          type: "many2one",
          string: "Product Unit of Measure",
          relation: "uom.uom",
          required: true,
          default: firstUnit,
        },
        operation_id: {
          type: "many2one",
          string: "Consumed in Operation",
          relation: "mrp.routing.workcenter",
        },
        sequence: { type: "integer", string: "Sequence", default: 1 },
        ...lineManual,
      },
      // mrp_bom.py `MrpBomLine.create` (S16 L515-520, S17 L556-561, S18 L675-680, S19 L729-734)
      prepareCreate: (env, vals) => {
        if ("product_id" in vals && !("product_uom_id" in vals))
          vals["product_uom_id"] =
            typeof vals["product_id"] === "number"
              ? env.get("product.product", vals["product_id"], "uom_id")
              : false;
      },
    },
  ];
}

/** `_get_default_product_uom_id`: `self.env['uom.uom'].search([], limit=1, order='id').id`. */
function firstUnit(env: Env): number | false {
  return env.search("uom.uom", [], { limit: 1, order: "id" })[0] ?? false;
}

/** SQL `qty_positive` (mrp_bom.py `_sql_constraints`). */
function checkQtyPositive(env: Env, ids: number[]): void {
  for (const id of ids)
    if (float(env.get("mrp.bom", id, "product_qty")) <= 0)
      throw sqlCheck("The quantity to produce must be positive!");
}

/** The fields of `@api.constrains('active', 'product_id', 'product_tmpl_id', 'bom_line_ids')`, and `sequence`. */
const CYCLE_TRIGGERS = ["active", "product_id", "product_tmpl_id", "bom_line_ids", "sequence"];

/** Product variants a BoM makes: its `product_id`, else its template's variants. */
function finishedOf(env: Env, bom: number): number[] {
  const variant = env.get("mrp.bom", bom, "product_id");
  if (typeof variant === "number") return [variant];
  return env.search(
    "product.product",
    [["product_tmpl_id", "=", env.get("mrp.bom", bom, "product_tmpl_id")]],
    {
      order: "id",
    },
  );
}

/** The components of a BoM's lines, in line order, each once (`bom_line_ids.product_id`). */
function componentsOf(env: Env, bom: number): number[] {
  const lines = env.get("mrp.bom", bom, "bom_line_ids") as number[];
  return [...new Set(lines.map((l) => env.get("mrp.bom.line", l, "product_id") as number))];
}

/** `_bom_find_domain` for some products: active BoMs of the variant, or of its template without variant. */
function bomFindDomain(env: Env, products: number[]): unknown[] {
  const templates = products.map((p) => env.get("product.product", p, "product_tmpl_id"));
  return [
    "&",
    "|",
    ["product_id", "in", products],
    "&",
    ["product_id", "=", false],
    ["product_tmpl_id", "in", templates],
    ["active", "=", true],
  ];
}

/** `_bom_find` for one product: the first BoM by `sequence, product_id, id` (PostgreSQL: NULLs last). */
function bomFind(env: Env, product: number): number | undefined {
  if (env.get("product.product", product, "type") === "service") return undefined;
  const last = (v: unknown) => (typeof v === "number" ? v : Number.POSITIVE_INFINITY);
  const boms = env.search("mrp.bom", bomFindDomain(env, [product]));
  const key = (b: number) => [
    last(env.get("mrp.bom", b, "sequence")),
    last(env.get("mrp.bom", b, "product_id")),
    b,
  ];
  boms.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++)
      if (ka[i] !== kb[i]) return (ka[i] as number) < (kb[i] as number) ? -1 : 1;
    return 0;
  });
  return boms[0];
}

/**
 * `mrp.bom._check_bom_cycle` (mrp_bom.py S16 L106-155, S17 L114-164, S18 L126-176, S19 L128-178): for
 * the BoMs checked and every active BoM of their components, follow each component's BoM (`_bom_find`)
 * down; a component among the products made along the way raises ValidationError "The current
 * configuration is incorrect because it would create a cycle between these products: <their display
 * names>." (no product attributes are simulated, so `_skip_bom_line` skips nothing).
 */
function checkBomCycle(env: Env, ids: number[]): void {
  const subcomponents = new Map<number, number[]>();
  const check = (components: number[], finished: number[]): void => {
    for (const component of components)
      if (finished.includes(component))
        throw new ValidationError(
          `The current configuration is incorrect because it would create a cycle between these products: ${finished.map((p) => env.displayName("product.product", p)).join(", ")}.`,
        );
    for (const component of components) {
      if (!subcomponents.has(component)) {
        const bom = bomFind(env, component);
        subcomponents.set(component, bom === undefined ? [] : componentsOf(env, bom));
      }
      const subs = subcomponents.get(component) as number[];
      if (subs.length) check(subs, [...finished, component]);
    }
  };
  const toCheck = [...ids];
  const lineProducts = [...new Set(ids.flatMap((id) => componentsOf(env, id)))];
  if (lineProducts.length)
    for (const bom of env.search("mrp.bom", bomFindDomain(env, lineProducts)))
      if (!toCheck.includes(bom)) toCheck.push(bom);
  for (const bom of toCheck) {
    if (env.get("mrp.bom", bom, "active") === false) continue;
    check(componentsOf(env, bom), finishedOf(env, bom));
  }
}

/** An SQL CHECK registered in `_sql_constraints`, as `_as_validation_error` words it. */
export function sqlCheck(message: string): ValidationError {
  return new ValidationError(`The operation cannot be completed: ${message}`);
}
