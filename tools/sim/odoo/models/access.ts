/**
 * Users' groups and access rights as Odoo checks them on every RPC call: `res.groups` with their
 * implications, `ir.model.access` rows (the `security/ir.model.access.csv` of base, product, uom,
 * stock and mrp for every model the simulator has) and the AccessError `ir.model.access.check`
 * raises.
 *
 * Sources (per version, the trees of tools/sim/odoo/README.md, "Conformance"):
 * - rows: `<module>/security/ir.model.access.csv` of S16 AddisonReyes-SEMS/odoo16@befb0af, S17
 *   Clyde1030/odoo17@62a16a1, S18 ManuelGil/dockerized-odoo-18@350b3b2, S19 MohamedLotfy99/Odoo19-ez@df435d9;
 * - implications: base/security/base_groups.xml (group_system ⇒ group_erp_manager ⇒ group_user),
 *   stock/security/stock_security.xml (group_stock_manager ⇒ group_stock_user ⇒ base.group_user),
 *   mrp/security/mrp_security.xml (group_mrp_manager ⇒ group_mrp_user ⇒ stock.group_stock_user);
 *   product/security/product_security.xml (18/19: group_system ⇒ product.group_product_manager);
 * - message: base/models/ir_model.py `IrModelAccess.check` (16/17) / `_make_access_error` (18/19):
 *   "You are not allowed to <verb> '<description>' (<model>) records.\n\nThis operation is allowed for
 *   the following groups:\n\t- <Category>/<Group>…\n\nContact your administrator to request access if
 *   necessary." — the groups ordered by category then name (`group_names_with_access`), the category
 *   being `ir.module.category` up to 18 and `res.groups.privilege` in 19.
 *
 * Not modelled: record rules (multi-company), field-level `groups=`. Quality (Enterprise) groups and
 * rows are not verifiable from public source: they are plausible, marked as such in the README.
 */
import { AccessError } from "../errors.js";
import type { AclOp, Database, Env, ModelSpec, Row } from "../orm.js";
import type { Profile } from "../profiles.js";

export interface GroupDef {
  xmlId: string;
  name: string;
  /** Application category (≤18 `category_id`) or privilege (19 `privilege_id`) shown before the name. */
  category: string | null;
  implied: readonly string[];
}

/** The groups the simulator knows, with each version's names (base_groups.xml, *_security.xml). */
export function groupDefs(p: Profile, quality: boolean): GroupDef[] {
  const v19 = p.version >= 19;
  const groups: GroupDef[] = [
    {
      xmlId: "base.group_user",
      name: v19 ? "Role / User" : "Internal User",
      category: v19 ? null : "User types",
      implied: [],
    },
    {
      xmlId: "base.group_portal",
      name: v19 ? "Role / Portal" : "Portal",
      category: v19 ? null : "User types",
      implied: [],
    },
    {
      xmlId: "base.group_public",
      name: v19 ? "Role / Public" : "Public",
      category: v19 ? null : "User types",
      implied: [],
    },
    {
      xmlId: "base.group_erp_manager",
      name: "Access Rights",
      category: v19 ? null : "Administration",
      implied: ["base.group_user"],
    },
    {
      xmlId: "base.group_partner_manager",
      name: v19 ? "Creation" : "Contact Creation",
      category: v19 ? "Contact" : "Extra Rights",
      implied: [],
    },
    {
      xmlId: "base.group_system",
      name: v19 ? "Role / Administrator" : "Settings",
      category: v19 ? null : "Administration",
      implied: [
        "base.group_erp_manager",
        ...(v19 ? ["base.group_partner_manager"] : []),
        ...(p.version >= 18 ? ["product.group_product_manager"] : []),
      ],
    },
    {
      xmlId: "stock.group_stock_user",
      name: "User",
      category: "Inventory",
      implied: ["base.group_user"],
    },
    {
      xmlId: "stock.group_stock_manager",
      name: "Administrator",
      category: "Inventory",
      implied: ["stock.group_stock_user"],
    },
    {
      xmlId: "mrp.group_mrp_user",
      name: "User",
      category: "Manufacturing",
      implied: ["stock.group_stock_user"],
    },
    {
      xmlId: "mrp.group_mrp_manager",
      name: "Administrator",
      category: "Manufacturing",
      implied: ["mrp.group_mrp_user"],
    },
  ];
  if (p.version >= 18)
    groups.push({
      xmlId: "product.group_product_manager",
      name: v19 ? "Create" : "Product Creation",
      category: v19 ? "Products" : "Extra Rights",
      implied: [],
    });
  if (quality)
    groups.push(
      // Enterprise `quality` (not verifiable from public source).
      {
        xmlId: "quality.group_quality_user",
        name: "User",
        category: "Quality",
        implied: ["base.group_user"],
      },
      {
        xmlId: "quality.group_quality_manager",
        name: "Administrator",
        category: "Quality",
        implied: ["quality.group_quality_user"],
      },
    );
  return groups;
}

/** One `ir.model.access` row: a model, a group (null: every user) and "read write create unlink" as 4 bits. */
export interface AclRow {
  model: string;
  group: string | null;
  perms: string;
}

const row = (model: string, group: string | null, perms: string): AclRow => ({ model, group, perms });

/**
 * The ACL rows of every simulated model, as the csv files of each version have them (see the module
 * header for the trees). Differences between versions are spelled out; everything else is identical in
 * 16–19.
 */
export function aclRows(p: Profile, quality: boolean): AclRow[] {
  const v = p.version;
  const productManager = v >= 18 ? "product.group_product_manager" : "base.group_system";
  const rows: AclRow[] = [
    // base/security/ir.model.access.csv
    row("res.users", v >= 17 ? "base.group_user" : null, "1000"),
    ...(v >= 17
      ? [row("res.users", "base.group_portal", "1000"), row("res.users", "base.group_public", "1000")]
      : []),
    row("res.users", "base.group_erp_manager", "1111"),
    ...(v >= 17
      ? [
          row("res.company", "base.group_user", "1000"),
          row("res.company", "base.group_portal", "1000"),
          row("res.company", "base.group_public", "1000"),
        ]
      : [row("res.company", null, "1000")]),
    row("res.company", "base.group_erp_manager", "1111"),
    row("res.groups", "base.group_user", "1000"),
    row("res.groups", "base.group_erp_manager", "1111"),
    row("res.partner", "base.group_user", "1000"),
    row("res.partner", "base.group_portal", "1000"),
    row("res.partner", "base.group_public", "1000"),
    row("res.partner", "base.group_partner_manager", "1111"),
    row("res.partner", "stock.group_stock_manager", "1110"),
    row("res.partner", "mrp.group_mrp_user", "1000"),
    row("res.partner", "mrp.group_mrp_manager", "1110"),
    row("ir.model", "base.group_erp_manager", "1111"),
    row("ir.model", "base.group_user", "0000"),
    row("ir.model.fields", "base.group_erp_manager", "1111"),
    row("ir.model.fields", "base.group_user", "0000"),
    row("ir.model.data", "base.group_erp_manager", "1111"),
    row("ir.model.data", "base.group_user", "0000"),
    row("ir.model.access", "base.group_erp_manager", "1111"),
    ...(v >= 19
      ? [
          row("res.groups.privilege", "base.group_user", "1000"),
          row("res.groups.privilege", "base.group_erp_manager", "1111"),
        ]
      : [row("ir.module.category", "base.group_erp_manager", "1000")]),
    // uom/security, product/security (+ the stock and mrp csv rows on them; 19 drops those but mrp_user read)
    row("uom.uom", "base.group_user", "1000"),
    row("uom.uom", "base.group_system", "1111"),
    ...(v >= 19 ? [row("uom.uom", "product.group_product_manager", "1111")] : []),
    row("uom.uom", "mrp.group_mrp_user", "1000"),
    ...(v <= 18
      ? [row("uom.uom", "stock.group_stock_manager", "1111"), row("uom.uom", "mrp.group_mrp_manager", "1111")]
      : []),
    ...(p.uomCategory
      ? [
          row("uom.category", "base.group_user", "1000"),
          row("uom.category", "base.group_system", "1111"),
          row("uom.category", "stock.group_stock_manager", "1111"),
          row("uom.category", "mrp.group_mrp_user", "1000"),
          row("uom.category", "mrp.group_mrp_manager", "1111"),
        ]
      : []),
    ...["product.category", "product.template", "product.product"].flatMap((m) => [
      row(m, "base.group_user", "1000"),
      row(m, productManager, "1111"),
      ...(v <= 18
        ? [row(m, "stock.group_stock_manager", "1111"), row(m, "mrp.group_mrp_manager", "1111")]
        : []),
    ]),
    row("product.template", "stock.group_stock_user", "1000"),
    row("product.product", "stock.group_stock_user", "1000"),
    row("product.template", "mrp.group_mrp_user", "1000"),
    row("product.product", "mrp.group_mrp_user", "1000"),
    // stock/security/ir.model.access.csv
    row("stock.warehouse", "base.group_user", "1000"),
    row("stock.warehouse", "stock.group_stock_manager", "1111"),
    row("stock.location", "base.group_user", "1000"),
    row("stock.location", "base.group_partner_manager", "1000"),
    row("stock.location", "stock.group_stock_manager", "1111"),
    ...(v === 18 ? [row("stock.location", "stock.group_stock_user", "1100")] : []),
    row("stock.picking.type", "base.group_user", "1000"),
    row("stock.picking.type", "stock.group_stock_user", "1000"),
    row("stock.picking.type", "stock.group_stock_manager", "1111"),
    row("stock.picking", "stock.group_stock_user", "1111"),
    row("stock.picking", "stock.group_stock_manager", "1111"),
    row("stock.lot", "stock.group_stock_user", "1111"),
    row("stock.move", "stock.group_stock_user", "1110"),
    row("stock.move", "stock.group_stock_manager", "1111"),
    // mrp csv, 18 and 19 only: access_stock_move_mrp_user
    ...(v >= 18 ? [row("stock.move", "mrp.group_mrp_user", "1111")] : []),
    row("stock.move.line", "base.group_user", "1111"),
    row("stock.move.line", "stock.group_stock_user", "1111"),
    row("stock.move.line", "stock.group_stock_manager", "1111"),
    row("stock.quant", "base.group_user", "1000"),
    row("stock.quant", "stock.group_stock_user", "1110"),
    row("stock.scrap", "stock.group_stock_user", "1110"),
    row("stock.scrap", "stock.group_stock_manager", "1111"),
    row("stock.warn.insufficient.qty.scrap", "stock.group_stock_user", "1110"),
    row("stock.backorder.confirmation", "stock.group_stock_user", "1110"),
    row("stock.backorder.confirmation.line", "stock.group_stock_user", "1110"),
    ...(p.immediateWizards
      ? [
          row("stock.immediate.transfer", "stock.group_stock_user", "1110"),
          row("stock.immediate.transfer.line", "stock.group_stock_user", "1110"),
        ]
      : []),
    ...(v <= 18
      ? [row("procurement.group", "base.group_user", "1110")]
      : [row("mrp.production.group", "mrp.group_mrp_user", "1110")]),
    // mrp/security/ir.model.access.csv
    row("mrp.workcenter", "mrp.group_mrp_user", "1000"),
    row("mrp.workcenter", "mrp.group_mrp_manager", "1111"),
    row("mrp.workcenter.productivity", "mrp.group_mrp_user", "1111"),
    row("mrp.workcenter.productivity.loss", "mrp.group_mrp_user", "1000"),
    row("mrp.workcenter.productivity.loss", "mrp.group_mrp_manager", "1111"),
    row("mrp.workcenter.productivity.loss.type", "mrp.group_mrp_user", "1000"),
    row("mrp.routing.workcenter", "mrp.group_mrp_user", "1000"),
    row("mrp.routing.workcenter", "mrp.group_mrp_manager", "1111"),
    ...["mrp.bom", "mrp.bom.line"].flatMap((m) => [
      row(m, "mrp.group_mrp_user", "1000"),
      row(m, "stock.group_stock_user", "1000"),
      row(m, "mrp.group_mrp_manager", "1111"),
    ]),
    row("mrp.production", "mrp.group_mrp_user", "1111"),
    row("mrp.production", "stock.group_stock_user", "1000"),
    row("mrp.production", "mrp.group_mrp_manager", "1000"),
    row("mrp.workorder", "mrp.group_mrp_user", "1111"),
    row("mrp.workorder", "mrp.group_mrp_manager", "1111"),
    row("mrp.unbuild", "mrp.group_mrp_user", "1111"),
    row("mrp.unbuild", "mrp.group_mrp_manager", "1111"),
    row("stock.warn.insufficient.qty.unbuild", "mrp.group_mrp_user", "1110"),
    row("mrp.production.backorder", "mrp.group_mrp_user", "1110"),
    row("mrp.production.backorder.line", "mrp.group_mrp_user", "1110"),
    row("mrp.consumption.warning", "mrp.group_mrp_user", "1110"),
    row("mrp.consumption.warning.line", "mrp.group_mrp_user", "1110"),
    ...(p.immediateWizards
      ? [
          row("mrp.immediate.production", "mrp.group_mrp_user", "1110"),
          row("mrp.immediate.production.line", "mrp.group_mrp_user", "1110"),
        ]
      : []),
  ];
  if (quality) {
    // Enterprise quality: NOT VERIFIED (no public source); plausible rows.
    for (const m of ["quality.alert.team", "quality.alert.stage", "quality.point"])
      rows.push(
        row(m, "quality.group_quality_user", "1000"),
        row(m, "quality.group_quality_manager", "1111"),
      );
    for (const m of ["quality.check", "quality.alert"])
      rows.push(
        row(m, "quality.group_quality_user", "1110"),
        row(m, "quality.group_quality_manager", "1111"),
      );
  }
  return rows;
}

/** Models of groups and access rows (`res.groups`, the category model, `ir.model.access`). */
export function accessModels(p: Profile): ModelSpec[] {
  const category = p.version >= 19 ? "res.groups.privilege" : "ir.module.category";
  return [
    {
      name: category,
      description: p.version >= 19 ? "Privileges" : "Application",
      order: "name",
      fields: { name: { type: "char", string: p.version >= 19 ? "Name" : "Name", required: true } },
    },
    {
      name: "res.groups",
      description: "Access Groups",
      order: "name",
      fields: {
        name: { type: "char", string: "Name", required: true },
        [p.version >= 19 ? "privilege_id" : "category_id"]: {
          type: "many2one",
          string: p.version >= 19 ? "Privilege" : "Application",
          relation: category,
        },
        implied_ids: { type: "many2many", string: "Inherits", relation: "res.groups" },
        full_name: {
          type: "char",
          string: "Group Name",
          compute: (env, r) => fullName(env, r, " / "),
        },
        comment: { type: "text", string: "Comment" },
      },
    },
    {
      name: "ir.model.access",
      description: "Model Access",
      order: "model_id,group_id,name,id",
      fields: {
        name: { type: "char", string: "Name", required: true },
        active: { type: "boolean", string: "Active", default: true },
        model_id: {
          type: "many2one",
          string: "Model",
          relation: "ir.model",
          required: true,
          ondelete: "cascade",
        },
        group_id: { type: "many2one", string: "Group", relation: "res.groups", ondelete: "restrict" },
        perm_read: { type: "boolean", string: "Read Access" },
        perm_write: { type: "boolean", string: "Write Access" },
        perm_create: { type: "boolean", string: "Create Access" },
        perm_unlink: { type: "boolean", string: "Delete Access" },
      },
    },
  ];
}

function categoryOf(env: Env, r: Row): string | null {
  const key = env.profile.version >= 19 ? "privilege_id" : "category_id";
  const cat = r[key] as number | false;
  if (!cat) return null;
  return String(
    env.get(env.profile.version >= 19 ? "res.groups.privilege" : "ir.module.category", cat, "name"),
  );
}

function fullName(env: Env, r: Row, sep: string): string {
  const cat = categoryOf(env, r);
  return cat ? `${cat}${sep}${r["name"]}` : String(r["name"]);
}

/** The groups of a user with everything they imply (Odoo's `trans_implied_ids`). */
export function userGroupIds(db: Database, uid: number): Set<number> {
  const users = db.table("res.users");
  const user = users.get(uid);
  const field = db.profile.version >= 19 ? "group_ids" : "groups_id";
  const direct = (user?.[field] as number[] | undefined) ?? [];
  const groups = db.table("res.groups");
  const out = new Set<number>();
  const stack = [...direct];
  while (stack.length) {
    const g = stack.pop() as number;
    if (out.has(g)) continue;
    out.add(g);
    for (const i of (groups.get(g)?.["implied_ids"] as number[] | undefined) ?? []) stack.push(i);
  }
  return out;
}

/** Whether a user is in a group (given by xml id), through implications too. */
export function hasGroup(db: Database, uid: number, xmlId: string): boolean {
  const ref = db.xmlIds.get(xmlId);
  return ref !== undefined && userGroupIds(db, uid).has(ref.id);
}

const PERM_FIELD: Record<AclOp, string> = {
  read: "perm_read",
  write: "perm_write",
  create: "perm_create",
  unlink: "perm_unlink",
};
const HEADER: Record<AclOp, string> = {
  read: "access",
  write: "modify",
  create: "create",
  unlink: "delete",
};

/** `ir.model.access.check(model, mode)`: installed as the database's access check. */
export function installAccessCheck(db: Database): void {
  db.accessCheck = (env, model, op) => {
    if (env.uid === 1) return; // OdooBot (__system__): the superuser
    const modelIds = [...db.table("ir.model").values()].filter((m) => m["model"] === model).map((m) => m.id);
    const groups = userGroupIds(db, env.uid);
    const rows = [...db.table("ir.model.access").values()].filter(
      (a) => a["active"] === true && modelIds.includes(a["model_id"] as number) && a[PERM_FIELD[op]] === true,
    );
    if (rows.some((a) => !a["group_id"] || groups.has(a["group_id"] as number))) return;
    throw accessError(env, model, op, rows);
  };
}

function accessError(env: Env, model: string, op: AclOp, rows: Row[]): AccessError {
  const kind = env.model(model).description || model;
  const names = [...new Set(rows.map((a) => a["group_id"]).filter(Boolean) as number[])]
    .map((g) => env.row("res.groups", g))
    .map((g) => ({ cat: categoryOf(env, g), name: String(g["name"]) }))
    .sort((a, b) =>
      a.cat === b.cat
        ? a.name.localeCompare(b.name)
        : a.cat === null
          ? 1
          : b.cat === null
            ? -1
            : a.cat.localeCompare(b.cat),
    )
    .map((g) => (g.cat ? `${g.cat}/${g.name}` : g.name));
  const groupInfo = names.length
    ? `This operation is allowed for the following groups:\n${names.map((n) => `\t- ${n}`).join("\n")}`
    : "No group currently allows this operation.";
  return new AccessError(
    `You are not allowed to ${HEADER[op]} '${kind}' (${model}) records.\n\n${groupInfo}\n\n` +
      "Contact your administrator to request access if necessary.",
  );
}

/** Creates the groups (with xml ids) and the ACL rows; `ir.model` must be reflected first. */
export function seedAccess(env: Env, quality: boolean): void {
  const p = env.profile;
  const categoryModel = p.version >= 19 ? "res.groups.privilege" : "ir.module.category";
  const categoryField = p.version >= 19 ? "privilege_id" : "category_id";
  const categories = new Map<string, number>();
  const defs = groupDefs(p, quality);
  for (const g of defs) {
    let cat: number | false = false;
    if (g.category) {
      cat = categories.get(g.category) ?? env.create(categoryModel, { name: g.category });
      categories.set(g.category, cat);
    }
    const id = env.create("res.groups", { name: g.name, [categoryField]: cat });
    env.db.xmlIds.set(g.xmlId, { model: "res.groups", id });
  }
  const ref = (x: string) => (env.db.xmlIds.get(x) as { id: number }).id;
  for (const g of defs) env.write("res.groups", [ref(g.xmlId)], { implied_ids: g.implied.map(ref) });
  const modelIds = new Map([...env.db.table("ir.model").values()].map((m) => [m["model"] as string, m.id]));
  for (const a of aclRows(p, quality)) {
    const modelId = modelIds.get(a.model);
    if (modelId === undefined) continue; // a model this profile does not have
    const [r, w, c, u] = [...a.perms].map((x) => x === "1");
    env.create("ir.model.access", {
      name: `access_${a.model.replace(/\./g, "_")}_${a.group ? a.group.split(".")[1] : "all"}`,
      model_id: modelId,
      group_id: a.group ? ref(a.group) : false,
      perm_read: r,
      perm_write: w,
      perm_create: c,
      perm_unlink: u,
    });
  }
}
