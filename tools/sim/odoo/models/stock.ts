/**
 * Inventory models: locations (hierarchy with parent_path), warehouses, operation types, lots,
 * procurement groups (≤18), quants, moves and move lines. The behaviour lives next door: on-hand and
 * reservation in stock-quant.ts, done quantities / `_action_done` / `_action_cancel` in stock-move.ts,
 * transfers in stock-picking.ts, scraps in stock-scrap.ts.
 *
 * Per version (README "Conformance", OpenUpgrade stock 17.0/19.0): 16 `quantity_done` (computed from the
 * lines' `qty_done`, writable) and `reserved_uom_qty`; 17+ one `quantity` + `picked` on moves and lines;
 * `scrapped` / `stock.location.scrap_location` up to 18, `location_dest_usage` in 19; the scrap link
 * `stock.move.scrap_ids` (16) / `scrap_id` (17+); `stock.move.name` up to 18.
 */
import { ValidationError } from "../errors.js";
import type { Env, ModelSpec, Row, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { applyQuantityInverse, moveDoneQty } from "./stock-move.js";
import { pickingModels } from "./stock-picking.js";
import { round, stockQuantModel, syncMoveFromLines } from "./stock-quant.js";
import { scrapModels } from "./stock-scrap.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

export const MOVE_STATES = [
  ["draft", "New"],
  ["waiting", "Waiting Another Move"],
  ["confirmed", "Waiting Availability"],
  ["partially_available", "Partially Available"],
  ["assigned", "Available"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

export const TRACKING_SELECTION = [
  ["serial", "By Unique Serial Number"],
  ["lot", "By Lots"],
  ["none", "No Tracking"],
] as const;

const LOCATION_USAGE = [
  ["supplier", "Vendor Location"],
  ["view", "View"],
  ["internal", "Internal Location"],
  ["customer", "Customer Location"],
  ["inventory", "Inventory Loss"],
  ["production", "Production"],
  ["transit", "Transit Location"],
] as const;

function refreshLocationNames(env: Env): void {
  const table = env.db.table("stock.location");
  const full = (row: Row, depth = 0): string => {
    const parent = row["location_id"] ? table.get(row["location_id"] as number) : undefined;
    if (!parent || row["usage"] === "view" || depth > 20) return String(row["name"]);
    return `${full(parent, depth + 1)}/${row["name"]}`;
  };
  for (const row of table.values()) {
    const name = full(row);
    if (row["complete_name"] !== name) row["complete_name"] = name;
  }
  env.db.forgetIndexes("stock.location");
}

/** stock.lot uniqueness: `_check_unique_lot` (a Python constraint in every version; wording 16/17 vs 18+). */
function checkUniqueLot(env: Env, ids: number[]): void {
  for (const id of ids) {
    const lot = env.row("stock.lot", id);
    const dup = env.search("stock.lot", [
      ["name", "=", lot["name"]],
      ["product_id", "=", lot["product_id"]],
      ["id", "!=", id],
    ]);
    if (!dup.length) continue;
    const product = env.displayName("product.product", lot["product_id"] as number);
    if (env.profile.version <= 17)
      throw new ValidationError(
        "The combination of serial number and product must be unique across a company.\n" +
          `Following combination contains duplicates:\n - Product: ${product}, Serial Number: ${lot["name"]}`,
      );
    throw new ValidationError(
      "The combination of lot/serial number and product must be unique within a company including when no company is defined.\n" +
        `The following combinations contain duplicates:\n - Product: ${product}, Lot/Serial Number: ${lot["name"]}`,
    );
  }
}

/** `stock.lot.product_qty`: on hand in internal locations (quants). */
function lotQuantity(env: Env, lotId: number): number {
  let qty = 0;
  for (const q of env.db.table("stock.quant").values()) {
    if (q["lot_id"] !== lotId) continue;
    if (env.get("stock.location", q["location_id"] as number, "usage") === "internal")
      qty += float(q["quantity"]);
  }
  return round(qty);
}

function moveQuantityFields(p: Profile): ModelSpec["fields"] {
  if (p.picked)
    return {
      // stored; inverse `_set_quantity` and `_inverse_picked` run in afterWrite
      quantity: { type: "float", string: "Quantity" },
      // stock_move.py: `picked = fields.Boolean(…, copy=False, default=False)` — a backorder's moves start unpicked
      picked: {
        type: "boolean",
        string: "Picked",
        copy: false,
        help: "This checkbox is just indicative, it doesn't validate or generate any product moves.",
      },
    };
  return {
    quantity_done: {
      type: "float",
      string: "Quantity Done",
      compute: (env, row) => moveDoneQty(env, row.id),
      setter: (env, id, value) => applyQuantityInverse(env, id, float(value)),
    },
    reserved_availability: {
      type: "float",
      string: "Quantity Reserved",
      compute: (env, row) =>
        round(
          (env.get("stock.move", row.id, "move_line_ids") as number[]).reduce(
            (s, l) => s + float(env.get("stock.move.line", l, "reserved_uom_qty")),
            0,
          ),
        ),
    },
  };
}

function moveScrapFields(p: Profile): ModelSpec["fields"] {
  const fields: ModelSpec["fields"] = {};
  if (p.version <= 18)
    fields["scrapped"] = {
      type: "boolean",
      string: "Scrapped",
      related: "location_dest_id.scrap_location",
    };
  else
    fields["location_dest_usage"] = {
      type: "selection",
      string: "Destination Location Type",
      selection: LOCATION_USAGE,
      related: "location_dest_id.usage",
    };
  // 16: the scrap points to its move (`stock.scrap.move_id`, `stock.move.scrap_ids`); 17+: the reverse
  if (p.version === 16)
    fields["scrap_ids"] = { type: "one2many", string: "Scraps", relation: "stock.scrap", inverse: "move_id" };
  else
    fields["scrap_id"] = {
      type: "many2one",
      string: "Scrap operation",
      relation: "stock.scrap",
      readonly: true,
    };
  return fields;
}

/** Fields mrp adds on stock.move (mrp/models/stock_move.py). */
function mrpMoveFields(p: Profile): ModelSpec["fields"] {
  return {
    raw_material_production_id: {
      type: "many2one",
      string: "Production Order for components",
      relation: "mrp.production",
      copy: false,
    },
    production_id: {
      type: "many2one",
      string: "Production Order for finished products",
      relation: "mrp.production",
      copy: false,
    },
    bom_line_id: { type: "many2one", string: "BoM Line", relation: "mrp.bom.line" },
    operation_id: { type: "many2one", string: "Operation To Consume", relation: "mrp.routing.workcenter" },
    workorder_id: {
      type: "many2one",
      string: "Work Order To Consume",
      relation: "mrp.workorder",
      copy: false,
    },
    unbuild_id: { type: "many2one", string: "Disassembly Order", relation: "mrp.unbuild", copy: false },
    consume_unbuild_id: {
      type: "many2one",
      string: "Consumed Disassembly Order",
      relation: "mrp.unbuild",
      copy: false,
    },
    origin_returned_move_id: {
      type: "many2one",
      string: "Origin return move",
      relation: "stock.move",
      copy: false,
    },
    manual_consumption: {
      type: "boolean",
      string: "Manual Consumption",
      help:
        "When activated, then the registration of consumption for that component is recorded manually exclusively.\n" +
        "If not activated, and any of the components consumption is edited manually on the manufacturing order, Odoo assumes manual consumption also.",
    },
    additional: {
      type: "boolean",
      string: "Whether the move was added after the production order confirmation",
    },
    unit_factor: {
      type: "float",
      string: "Unit Factor",
      // `_compute_unit_factor`: demand / (to produce - produced) of the order
      compute: (env, row) => {
        const mo = (row["raw_material_production_id"] || row["production_id"]) as number | false;
        if (!mo || !env.exists("mrp.production", mo)) return 1;
        const left =
          float(env.get("mrp.production", mo, "product_qty")) -
          float(env.get("mrp.production", mo, "qty_produced"));
        return float(row["product_uom_qty"]) / (left || 1);
      },
    },
    ...(p.version >= 19
      ? {
          lot_ids: {
            type: "many2many" as const,
            string: "Serial Numbers",
            relation: "stock.lot",
            compute: (env: Env, row: Row) => [
              ...new Set(
                (env.get("stock.move", row.id, "move_line_ids") as number[])
                  .map((l) => env.get("stock.move.line", l, "lot_id"))
                  .filter(Boolean) as number[],
              ),
            ],
          },
        }
      : {}),
  };
}

export function stockModels(p: Profile, opts: { quality: boolean }): ModelSpec[] {
  const lineQtyFields: ModelSpec["fields"] = p.picked
    ? {
        quantity: { type: "float", string: "Quantity" },
        picked: { type: "boolean", string: "Picked", copy: false },
      }
    : {
        qty_done: { type: "float", string: "Quantity Done", copy: false },
        reserved_uom_qty: { type: "float", string: "Reserved" },
      };
  const moveName: ModelSpec["fields"] = p.stockMoveName
    ? { name: { type: "char", string: "Description", required: true } }
    : {};

  const models: ModelSpec[] = [
    {
      name: "stock.location",
      description: "Inventory Locations",
      order: "complete_name, id",
      parentField: "location_id",
      recName: "complete_name",
      fields: {
        name: { type: "char", string: "Location Name", required: true },
        complete_name: { type: "char", string: "Full Location Name" },
        location_id: {
          type: "many2one",
          string: "Parent Location",
          relation: "stock.location",
          ondelete: "cascade",
        },
        child_ids: {
          type: "one2many",
          string: "Contains",
          relation: "stock.location",
          inverse: "location_id",
        },
        usage: {
          type: "selection",
          string: "Location Type",
          selection: LOCATION_USAGE,
          default: "internal",
          required: true,
        },
        active: { type: "boolean", string: "Active", default: true },
        barcode: { type: "char", string: "Barcode" },
        ...(p.version <= 18
          ? { scrap_location: { type: "boolean" as const, string: "Is a Scrap Location?", default: false } }
          : {}),
        replenish_location: { type: "boolean", string: "Replenish Location" },
      },
      afterCreate: (env) => refreshLocationNames(env),
      afterWrite: (env, _ids, vals) => {
        if ("name" in vals || "location_id" in vals || "usage" in vals) refreshLocationNames(env);
      },
    },
    {
      name: "stock.warehouse",
      description: "Warehouse",
      fields: {
        name: { type: "char", string: "Warehouse", required: true },
        code: { type: "char", string: "Short Name", required: true },
        view_location_id: { type: "many2one", string: "View Location", relation: "stock.location" },
        lot_stock_id: { type: "many2one", string: "Location Stock", relation: "stock.location" },
      },
    },
    {
      name: "stock.picking.type",
      description: "Picking Type",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Operation Type", required: true },
        code: {
          type: "selection",
          string: "Type of Operation",
          required: true,
          selection: [
            ["incoming", "Receipt"],
            ["outgoing", "Delivery"],
            ["internal", "Internal Transfer"],
            ["mrp_operation", "Manufacturing"],
          ],
        },
        sequence: { type: "integer", string: "Sequence", default: 10 },
        sequence_code: { type: "char", string: "Sequence Prefix", required: true },
        warehouse_id: { type: "many2one", string: "Warehouse", relation: "stock.warehouse" },
        default_location_src_id: {
          type: "many2one",
          string: "Default Source Location",
          relation: "stock.location",
        },
        default_location_dest_id: {
          type: "many2one",
          string: "Default Destination Location",
          relation: "stock.location",
        },
        active: { type: "boolean", string: "Active", default: true },
        // stock_picking.py: lots on the operation type (checked by stock.move.line._action_done)
        use_create_lots: { type: "boolean", string: "Create New Lots/Serial Numbers", default: true },
        use_existing_lots: { type: "boolean", string: "Use Existing Lots/Serial Numbers", default: true },
        // stock_picking.py (16–19): how moves of this type are reserved; `stock.move._action_confirm`
        // reserves at confirmation only with 'at_confirm' (or a move bypassing reservation)
        reservation_method: {
          type: "selection",
          string: "Reservation Method",
          selection: [
            ["at_confirm", "At Confirmation"],
            ["manual", "Manually"],
            ["by_date", "Before scheduled date"],
          ],
          default: "at_confirm",
          required: true,
        },
        // stock_picking.py (16–19) `create_backorder`, default 'ask'; mrp reads it from 17 only
        create_backorder: {
          type: "selection",
          string: "Create Backorder",
          selection: [
            ["ask", "Ask"],
            ["always", "Always"],
            ["never", "Never"],
          ],
          default: "ask",
          required: true,
        },
        // mrp stock_picking.py (16/17): tracked components are consumed automatically from reserved lots
        ...(p.version <= 17
          ? {
              use_auto_consume_components_lots: {
                type: "boolean" as const,
                string: "Auto Consume Components Lots",
              },
            }
          : {}),
      },
      displayName: (env, row) =>
        row["warehouse_id"]
          ? `${env.displayName("stock.warehouse", row["warehouse_id"] as number)}: ${row["name"]}`
          : String(row["name"]),
    },
    {
      name: "stock.lot",
      description: "Lot/Serial",
      order: "name, id",
      fields: {
        name: {
          type: "char",
          string: "Lot/Serial Number",
          required: true,
          // 16–18: `ir.sequence` 'stock.lot.serial' (prefix '', padding 7); 19: the product's
          // `lot_sequence_id`, which defaults to that same sequence
          default: (env: Env) => String(env.db.nextSequence("stock.lot.serial")).padStart(7, "0"),
        },
        ref: { type: "char", string: "Internal Reference" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_uom_id: {
          type: "many2one",
          string: "Unit of Measure",
          relation: "uom.uom",
          related: "product_id.uom_id",
        },
        note: { type: "html", string: "Description" },
        product_qty: {
          type: "float",
          string: "On Hand Quantity",
          compute: (env, row) => lotQuantity(env, row.id),
        },
        quant_ids: { type: "one2many", string: "Quants", relation: "stock.quant", inverse: "lot_id" },
      },
      constrain: checkUniqueLot,
    },
    {
      name: "stock.move",
      description: "Stock Move",
      order: "sequence, id",
      recName: p.stockMoveName ? "name" : "reference",
      fields: {
        ...moveName,
        sequence: { type: "integer", string: "Sequence", default: 10 },
        reference: { type: "char", string: "Reference" },
        origin: { type: "char", string: "Source Document" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_uom_qty: { type: "float", string: "Demand", required: true, default: 1 },
        product_qty: {
          type: "float",
          string: "Real Quantity",
          compute: (_env, row) => float(row["product_uom_qty"]),
        },
        product_uom: {
          type: "many2one",
          string: "UoM",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
        },
        ...moveQuantityFields(p),
        state: {
          type: "selection",
          string: "Status",
          selection: MOVE_STATES,
          default: "draft",
          readonly: true,
          copy: false,
        },
        location_id: {
          type: "many2one",
          string: "Source Location",
          relation: "stock.location",
          required: true,
        },
        location_dest_id: {
          type: "many2one",
          string: "Destination Location",
          relation: "stock.location",
          required: true,
        },
        picking_id: { type: "many2one", string: "Transfer", relation: "stock.picking" },
        picking_type_id: { type: "many2one", string: "Operation Type", relation: "stock.picking.type" },
        is_inventory: { type: "boolean", string: "Inventory" },
        ...moveScrapFields(p),
        ...mrpMoveFields(p),
        move_line_ids: {
          type: "one2many",
          string: "Move Lines",
          relation: "stock.move.line",
          inverse: "move_id",
        },
        date: { type: "datetime", string: "Date Scheduled", default: (env: Env) => env.now() },
        date_deadline: { type: "datetime", string: "Deadline" },
        has_tracking: {
          type: "selection",
          string: "Product with Tracking",
          selection: TRACKING_SELECTION,
          compute: (env, row) => env.get("product.product", row["product_id"] as number, "tracking"),
        },
      },
      beforeCreate: (env, vals) => {
        if (p.stockMoveName && !vals["name"] && vals["product_id"])
          vals["name"] = env.displayName("product.product", vals["product_id"] as number);
        if (!vals["reference"]) {
          const src = vals["picking_id"]
            ? env.get("stock.picking", vals["picking_id"] as number, "name")
            : vals["raw_material_production_id"]
              ? env.get("mrp.production", vals["raw_material_production_id"] as number, "name")
              : vals["production_id"]
                ? env.get("mrp.production", vals["production_id"] as number, "name")
                : false;
          vals["reference"] = src || vals["name"] || false;
        }
      },
      afterWrite: (env, ids, vals) => {
        if (!p.picked) return;
        for (const id of ids) {
          const state = env.get("stock.move", id, "state");
          if (state === "done" || state === "cancel") continue;
          // `_set_quantity` then `_inverse_picked` (stock_move.py 17+)
          if ("quantity" in vals) applyQuantityInverse(env, id, float(vals["quantity"]));
          if ("picked" in vals)
            for (const l of env.get("stock.move", id, "move_line_ids") as number[])
              env.setRaw("stock.move.line", l, { picked: vals["picked"] === true });
          syncMoveFromLines(env, id);
        }
      },
      constrain: (env, ids) => {
        for (const id of ids)
          if (float(env.get("stock.move", id, "product_uom_qty")) < 0)
            throw new ValidationError("You can not enter negative quantities.");
      },
    },
    {
      name: "stock.move.line",
      description: "Product Moves (Stock Move Line)",
      order: "result_package_id desc, id",
      fields: {
        move_id: { type: "many2one", string: "Stock Operation", relation: "stock.move", ondelete: "cascade" },
        picking_id: { type: "many2one", string: "Transfer", relation: "stock.picking" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_uom_id: { type: "many2one", string: "Unit", relation: "uom.uom", required: true },
        ...lineQtyFields,
        lot_id: { type: "many2one", string: "Lot/Serial Number", relation: "stock.lot" },
        lot_name: { type: "char", string: "Lot/Serial Number Name" },
        location_id: { type: "many2one", string: "From", relation: "stock.location", required: true },
        location_dest_id: { type: "many2one", string: "To", relation: "stock.location", required: true },
        result_package_id: { type: "integer", string: "Destination Package" },
        is_inventory: { type: "boolean", string: "Inventory" },
        state: { type: "selection", string: "Status", selection: MOVE_STATES, default: "assigned" },
        date: { type: "datetime", string: "Date", default: (env: Env) => env.now(), required: true },
        reference: {
          type: "char",
          string: "Reference",
          compute: (env, row) =>
            row["move_id"] ? env.get("stock.move", row["move_id"] as number, "reference") : false,
        },
        tracking: {
          type: "selection",
          string: "Tracking",
          selection: TRACKING_SELECTION,
          compute: (env, row) => env.get("product.product", row["product_id"] as number, "tracking"),
        },
      },
      beforeCreate: (env, vals) => {
        const move = vals["move_id"] ? env.row("stock.move", vals["move_id"] as number) : undefined;
        if (!move) return;
        for (const [k, mk] of [
          ["product_id", "product_id"],
          ["product_uom_id", "product_uom"],
          ["location_id", "location_id"],
          ["location_dest_id", "location_dest_id"],
          ["picking_id", "picking_id"],
        ] as const)
          if (!vals[k]) vals[k] = move[mk];
      },
      afterCreate: (env, ids) => syncLineMoves(env, ids),
      afterWrite: (env, ids) => syncLineMoves(env, ids),
      constrain: (env, ids) => {
        for (const id of ids)
          if (float(env.get("stock.move.line", id, p.moveLineQty)) < 0)
            throw new ValidationError("You can not enter negative quantities.");
      },
    },
    stockQuantModel(),
    ...pickingModels(p, opts),
    ...scrapModels(p),
  ];
  if (p.version <= 18)
    models.push({
      name: "procurement.group",
      description: "Procurement Group",
      order: "id desc",
      fields: {
        name: { type: "char", string: "Reference", required: true },
        mrp_production_ids: {
          type: "one2many",
          string: "Manufacturing Orders",
          relation: "mrp.production",
          inverse: "procurement_group_id",
        },
      },
    });
  return models;
}

function syncLineMoves(env: Env, ids: number[]): void {
  const moves = new Set(
    ids.map((id) => env.get("stock.move.line", id, "move_id")).filter(Boolean) as number[],
  );
  for (const m of moves) syncMoveFromLines(env, m);
}
