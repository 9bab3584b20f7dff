/**
 * Base models: users (with their groups), partners, units of measure, product categories and
 * products (template + variant).
 */

import { UserError } from "../errors.js";
import type { Env, ModelSpec, Row, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { userGroupIds } from "./access.js";
import { sqlCheck } from "./mrp-bom.js";
import { onHand } from "./stock-quant.js";

export const TRACKING = [
  ["serial", "By Unique Serial Number"],
  ["lot", "By Lots"],
  ["none", "No Tracking"],
] as const;

const categoryName = (env: Env, model: string, row: Row, parentField: string): string => {
  const parent = row[parentField];
  const own = String(row["name"] ?? "");
  return parent ? `${env.displayName(model, parent as number)} / ${own}` : own;
};

/** Product fields living on the template, mirrored on the variant as related fields. */
function templateFields(p: Profile): ModelSpec["fields"] {
  const typeSelection = p.isStorable
    ? ([
        ["consu", "Goods"],
        ["service", "Service"],
        ["combo", "Combo"],
      ] as const)
    : ([
        ["consu", "Consumable"],
        ["service", "Service"],
        ["product", "Storable Product"],
      ] as const);
  const fields: ModelSpec["fields"] = {
    name: { type: "char", string: "Name", required: true },
    type: {
      type: "selection",
      string: "Product Type",
      selection: typeSelection,
      required: true,
      default: "consu",
    },
    uom_id: {
      type: "many2one",
      string: "Unit",
      relation: "uom.uom",
      required: true,
      // product_template.py `_get_default_uom_id` (S16 L27-29, S17 L29-31, S18 L37-39, S19 L34-36):
      // `self.env.ref('uom.product_uom_unit')` — Units, whatever uom.uom's order (its search could give Dozens)
      default: (env: Env) =>
        env.db.xmlIds.get("uom.product_uom_unit")?.id ??
        env.search("uom.uom", [], { limit: 1, order: "id" })[0] ??
        false,
    },
    tracking: { type: "selection", string: "Tracking", selection: TRACKING, default: "none", required: true },
    categ_id: { type: "many2one", string: "Product Category", relation: "product.category" },
    sale_ok: { type: "boolean", string: "Can be Sold", default: true },
    purchase_ok: { type: "boolean", string: "Can be Purchased", default: true },
    list_price: { type: "float", string: "Sales Price", default: 1 },
    standard_price: { type: "float", string: "Cost" },
  };
  if (p.isStorable) fields["is_storable"] = { type: "boolean", string: "Track Inventory", default: false };
  else
    fields["detailed_type"] = {
      type: "selection",
      string: "Product Type",
      selection: typeSelection,
      required: true,
      default: "consu",
    };
  return fields;
}

export function baseModels(p: Profile): ModelSpec[] {
  const tmpl = templateFields(p);
  const relatedOnVariant: ModelSpec["fields"] = {};
  for (const [name, f] of Object.entries(tmpl)) {
    relatedOnVariant[name] = {
      ...f,
      related: `product_tmpl_id.${name}`,
      required: false,
      default: undefined,
    };
  }

  const uomFields: ModelSpec["fields"] = {
    name: { type: "char", string: "Unit", required: true },
    active: { type: "boolean", string: "Active", default: true },
    rounding: { type: "float", string: "Rounding Precision", default: 0.01 },
  };
  if (p.uomCategory) {
    uomFields["category_id"] = {
      type: "many2one",
      string: "Category",
      relation: "uom.category",
      required: true,
    };
    uomFields["factor"] = { type: "float", string: "Ratio", default: 1 };
    uomFields["uom_type"] = {
      type: "selection",
      string: "Type",
      selection: [
        ["bigger", "Bigger than the reference Unit of Measure"],
        ["reference", "Reference Unit of Measure for this category"],
        ["smaller", "Smaller than the reference Unit of Measure"],
      ],
      default: "reference",
      required: true,
    };
  } else {
    uomFields["relative_factor"] = { type: "float", string: "Contains", default: 1, required: true };
    uomFields["relative_uom_id"] = { type: "many2one", string: "Reference Unit", relation: "uom.uom" };
  }

  const models: ModelSpec[] = [
    {
      name: "res.users",
      description: "User",
      order: "name, login",
      fields: {
        name: { type: "char", string: "Name", required: true },
        login: { type: "char", string: "Login", required: true },
        active: { type: "boolean", string: "Active", default: true },
        share: { type: "boolean", string: "Share User" },
        partner_id: { type: "many2one", string: "Related Partner", relation: "res.partner" },
        password: { type: "char", string: "Password", hidden: true },
        tz: { type: "char", string: "Timezone", default: "UTC" },
        lang: { type: "char", string: "Language", default: "en_US" },
        // res_users.py: `groups_id` (≤18; implied groups are added to it), `group_ids` + computed
        // `all_group_ids` (19)
        ...(p.version >= 19
          ? {
              group_ids: { type: "many2many" as const, string: "Groups", relation: "res.groups" },
              all_group_ids: {
                type: "many2many" as const,
                string: "Groups and implied groups",
                relation: "res.groups",
                compute: (env: Env, row: Row) => [...userGroupIds(env.db, row.id)].sort((a, b) => a - b),
              },
            }
          : { groups_id: { type: "many2many" as const, string: "Groups", relation: "res.groups" } }),
      },
      sqlUnique: [
        {
          name: "res_users_login_key",
          fields: ["login"],
          message: "You can not have two users with the same login !",
        },
      ],
      methods: {
        context_get: {
          model: true,
          access: "read",
          fn: ({ env }) => {
            const u = env.row("res.users", env.uid);
            return { lang: u["lang"] || "en_US", tz: u["tz"] || false, uid: env.uid };
          },
        },
      },
      afterWrite: (env, ids, vals) => {
        syncUsers(env, ids, vals);
        if ("groups_id" in vals) addImpliedGroups(env, ids);
      },
      afterCreate: (env, ids, valsList) => {
        for (const [i, id] of ids.entries()) syncUsers(env, [id], valsList[i] as Vals, true);
        addImpliedGroups(env, ids);
      },
    },
    {
      name: "res.company",
      description: "Companies",
      order: "sequence, name",
      fields: {
        name: { type: "char", string: "Company Name", required: true },
        partner_id: { type: "many2one", string: "Partner", relation: "res.partner", required: true },
        sequence: { type: "integer", string: "Sequence", default: 10 },
      },
    },
    {
      name: "res.partner",
      description: "Contact",
      order: "name, id",
      parentField: "parent_id",
      fields: {
        name: { type: "char", string: "Name" },
        parent_id: { type: "many2one", string: "Related Company", relation: "res.partner" },
        is_company: { type: "boolean", string: "Is a Company" },
        email: { type: "char", string: "Email" },
        ref: { type: "char", string: "Reference" },
        active: { type: "boolean", string: "Active", default: true },
      },
    },
  ];
  if (p.uomCategory) {
    models.push({
      name: "uom.category",
      description: "Product UoM Categories",
      fields: { name: { type: "char", string: "Unit of Measure Category", required: true } },
    });
  }
  models.push(
    {
      name: "uom.uom",
      description: "Product Unit of Measure",
      order: "name",
      fields: uomFields,
      constrain: (env, ids) => checkUom(env, p, ids),
    },
    {
      name: "product.category",
      description: "Product Category",
      order: "complete_name",
      parentField: "parent_id",
      fields: {
        name: { type: "char", string: "Name", required: true },
        parent_id: {
          type: "many2one",
          string: "Parent Category",
          relation: "product.category",
          ondelete: "cascade",
        },
        complete_name: { type: "char", string: "Complete Name" },
      },
      displayName: (_env, row) => String(row["complete_name"] || row["name"]),
      afterCreate: (env) => refreshCategoryNames(env),
      afterWrite: (env, _ids, vals) => {
        if ("name" in vals || "parent_id" in vals) refreshCategoryNames(env);
      },
    },
    {
      name: "product.template",
      description: "Product",
      order: "name",
      fields: {
        ...tmpl,
        default_code: { type: "char", string: "Internal Reference" },
        active: { type: "boolean", string: "Active", default: true },
        product_variant_ids: {
          type: "one2many",
          string: "Products",
          relation: "product.product",
          inverse: "product_tmpl_id",
        },
      },
      displayName: (_env, row) =>
        row["default_code"] ? `[${row["default_code"]}] ${row["name"]}` : String(row["name"]),
      afterCreate: (env, ids, valsList) => {
        if (env.context["_sim_from_variant"]) return;
        ids.forEach((id, i) => {
          const vals = valsList[i] as Vals;
          env.withContext({ _sim_from_template: true }).create("product.product", {
            product_tmpl_id: id,
            default_code: vals["default_code"] ?? false,
          });
        });
      },
    },
    {
      name: "product.product",
      description: "Product Variant",
      order: "default_code, name, id",
      fields: {
        product_tmpl_id: {
          type: "many2one",
          string: "Product Template",
          relation: "product.template",
          required: true,
          ondelete: "cascade",
        },
        default_code: { type: "char", string: "Internal Reference", index: true },
        barcode: { type: "char", string: "Barcode" },
        active: { type: "boolean", string: "Active", default: true },
        ...relatedOnVariant,
        // stock product.py `_compute_quantities`: quants of the `location` context (internal ones without)
        qty_available: {
          type: "float",
          string: "Quantity On Hand",
          compute: (env: Env, row: Row) =>
            qtyOnHand(env, row.id, (env.context["location"] as number) || false),
        },
      },
      sqlUnique: [
        {
          name: "product_product_barcode_uniq",
          fields: ["barcode"],
          message: "A barcode can only be assigned to one product !",
        },
      ],
      displayName: (env, row) => {
        const name = env.value("product.product", row, "name");
        return row["default_code"] ? `[${row["default_code"]}] ${name}` : String(name);
      },
      beforeCreate: (env, vals) => {
        if (vals["product_tmpl_id"] || env.context["_sim_from_template"]) return;
        const tmplVals: Vals = {};
        for (const name of Object.keys(tmpl)) {
          if (name in vals) {
            tmplVals[name] = vals[name];
            delete vals[name];
          }
        }
        if ("default_code" in vals) tmplVals["default_code"] = vals["default_code"];
        vals["product_tmpl_id"] = env
          .withContext({ _sim_from_variant: true })
          .create("product.template", tmplVals);
      },
      afterWrite: (env, ids, vals) => {
        if ("default_code" in vals)
          for (const id of ids) {
            const t = env.get("product.product", id, "product_tmpl_id") as number;
            env.setRaw("product.template", t, { default_code: vals["default_code"] || false });
          }
      },
    },
  );
  return models;
}

function refreshCategoryNames(env: Env): void {
  for (const row of env.db.table("product.category").values()) {
    const name = categoryName(env, "product.category", row, "parent_id");
    if (row["complete_name"] !== name) row["complete_name"] = name;
  }
  env.db.forgetIndexes("product.category");
}

/** Keeps the authentication table in step with res.users writes (login, password, active). */
function syncUsers(env: Env, ids: number[], vals: Vals, created = false): void {
  for (const id of ids) {
    const row = env.row("res.users", id);
    const existing = env.db.users.get(id);
    const user = existing ?? {
      id,
      login: String(row["login"]),
      name: String(row["name"]),
      password: "",
      apiKeys: [],
      active: true,
    };
    user.login = String(row["login"]);
    user.name = String(row["name"]);
    user.active = row["active"] === true;
    if (typeof vals["password"] === "string") user.password = vals["password"];
    if (created || !existing) env.db.users.set(id, user);
    if ("password" in vals) {
      row["password"] = false;
      env.db.forgetIndexes("res.users");
    }
  }
}

/** 16–18 keep implied groups in `groups_id` (res.groups `_apply_group` / users' write). */
function addImpliedGroups(env: Env, ids: number[]): void {
  if (env.profile.version >= 19) return;
  for (const id of ids) {
    const all = [...userGroupIds(env.db, id)].sort((a, b) => a - b);
    const current = (env.row("res.users", id)["groups_id"] as number[] | undefined) ?? [];
    if (all.length !== current.length) env.setRaw("res.users", id, { groups_id: all });
  }
}

function qtyOnHand(env: Env, productId: number, locationId: number | false): number {
  if (locationId) return onHand(env, productId, locationId);
  let qty = 0;
  for (const q of env.db.table("stock.quant").values())
    if (
      q["product_id"] === productId &&
      env.get("stock.location", q["location_id"] as number, "usage") === "internal"
    )
      qty += Number(q["quantity"]);
  return Math.round(qty * 1e6) / 1e6;
}

/**
 * uom.uom's constraints, on every row created or written (PostgreSQL checks a CHECK on the whole new
 * row of an UPDATE, whichever column changed). 16–18 (uom_uom.py S16–S18 L79-83, `_sql_constraints`;
 * PostgreSQL tests them in name order): `factor_gt_zero` CHECK (factor!=0), `factor_reference_is_one`
 * CHECK ((uom_type = 'reference' AND factor = 1.0) OR uom_type != 'reference'), `rounding_gt_zero`
 * CHECK (rounding>0). 19 (uom_uom.py S19 L46-49 `_factor_gt_zero`, L97-101 `_check_factor`): CHECK
 * (relative_factor!=0), then the Python constraint "Reference unit of measure is missing." (a
 * UserError) for a unit without reference unit whose factor is not 1. Rows written by `sim.sql` (a
 * direct SQL import) are not checked.
 */
function checkUom(env: Env, p: Profile, ids: number[]): void {
  for (const id of ids) {
    const row = env.row("uom.uom", id);
    if (p.uomCategory) {
      if (row["factor"] === 0) throw sqlCheck("The conversion ratio for a unit of measure cannot be 0!");
      if (row["uom_type"] === "reference" && row["factor"] !== 1)
        throw sqlCheck("The reference unit must have a conversion factor equal to 1.");
      if (typeof row["rounding"] === "number" && row["rounding"] <= 0)
        throw sqlCheck("The rounding precision must be strictly positive.");
    } else if (row["relative_factor"] === 0)
      throw sqlCheck("The conversion ratio for a unit of measure cannot be 0!");
  }
  if (!p.uomCategory)
    for (const id of ids) {
      const row = env.row("uom.uom", id);
      if (!row["relative_uom_id"] && row["relative_factor"] !== 1)
        throw new UserError("Reference unit of measure is missing.");
    }
}
