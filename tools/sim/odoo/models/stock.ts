/**
 * Inventory: locations (hierarchy with parent_path, a quarantine location), warehouses, operation
 * types, lots, moves, move lines and pickings with `action_confirm`, `action_assign` and
 * `button_validate` — returning `stock.immediate.transfer` (16) or `stock.backorder.confirmation`
 * wizards as the version does. Stock is unlimited: reservation always succeeds (a tracked product
 * gets its oldest lot reserved when one exists).
 */
import { UserError, ValidationError, valueError } from "../errors.js";
import type { Env, ModelSpec, Row, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";

export const MOVE_STATES = [
  ["draft", "New"],
  ["waiting", "Waiting Another Move"],
  ["confirmed", "Waiting Availability"],
  ["partially_available", "Partially Available"],
  ["assigned", "Available"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

const PICKING_STATES = [
  ["draft", "Draft"],
  ["waiting", "Waiting Another Operation"],
  ["confirmed", "Waiting"],
  ["assigned", "Ready"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

const float = (v: unknown) => (typeof v === "number" ? v : 0);
const round = (v: number) => Math.round(v * 1e6) / 1e6;

// ---------------------------------------------------------------------- quantity helpers (used by mrp)

/** Done ("picked") quantity of a move: quantity_done (16) or quantity (17+). */
export function moveDoneQty(env: Env, moveId: number): number {
  if (env.profile.picked) return float(env.get("stock.move", moveId, "quantity"));
  return lineIds(env, moveId).reduce((s, l) => s + float(env.get("stock.move.line", l, "qty_done")), 0);
}

function lineIds(env: Env, moveId: number): number[] {
  return env.get("stock.move", moveId, "move_line_ids") as number[];
}

/** Sets a move's done quantity (one line, optional lot), as the quantity field's inverse does. */
export function setMoveDoneQty(env: Env, moveId: number, qty: number, lotId?: number | false): void {
  if (qty < 0) throw new UserError("You can not enter negative quantities.");
  const move = env.row("stock.move", moveId);
  const lines = lineIds(env, moveId);
  const qtyField = env.profile.moveLineQty;
  const lineVals: Vals = { [qtyField]: qty };
  if (lotId !== undefined) lineVals["lot_id"] = lotId;
  if (env.profile.picked) lineVals["picked"] = qty > 0;
  if (lines.length === 0 && qty > 0) {
    env.create("stock.move.line", { ...lineDefaults(env, move), ...lineVals });
  } else if (lines.length > 0) {
    const [first, ...rest] = lines as [number, ...number[]];
    env.write("stock.move.line", [first], lineVals);
    for (const l of rest) env.write("stock.move.line", [l], { [qtyField]: 0 });
  }
  if (env.profile.picked) env.setRaw("stock.move", moveId, { quantity: qty, picked: qty > 0 });
}

function lineDefaults(_env: Env, move: Row): Vals {
  return {
    move_id: move.id,
    picking_id: move["picking_id"] || false,
    product_id: move["product_id"],
    product_uom_id: move["product_uom"],
    location_id: move["location_id"],
    location_dest_id: move["location_dest_id"],
  };
}

/** Reserves moves (unlimited stock): lines for the full demand, the oldest lot of tracked products. */
export function reserveMoves(env: Env, moveIds: number[]): void {
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "done" || move["state"] === "cancel" || move["state"] === "assigned") continue;
    if (move["state"] === "draft") env.setRaw("stock.move", id, { state: "confirmed" });
    const product = move["product_id"] as number;
    const tracking = env.get("product.product", product, "tracking");
    const lot =
      tracking === "none"
        ? false
        : (env.search("stock.lot", [["product_id", "=", product]], { limit: 1 })[0] ?? false);
    if (lineIds(env, id).length === 0) {
      const vals: Vals = { ...lineDefaults(env, move), lot_id: lot };
      if (env.profile.picked) vals["quantity"] = move["product_uom_qty"];
      else vals["reserved_uom_qty"] = move["product_uom_qty"];
      env.create("stock.move.line", vals);
    }
    env.setRaw("stock.move", id, {
      state: "assigned",
      ...(env.profile.picked ? { quantity: move["product_uom_qty"] } : {}),
    });
  }
}

/** Raises Odoo's error when a tracked product's line with a quantity has no lot. */
export function checkLots(env: Env, moveIds: number[]): void {
  const missing: string[] = [];
  for (const id of moveIds) {
    const product = env.get("stock.move", id, "product_id") as number;
    if (env.get("product.product", product, "tracking") === "none") continue;
    for (const l of lineIds(env, id)) {
      const line = env.row("stock.move.line", l);
      const qty = float(line[env.profile.moveLineQty]);
      if (qty > 0 && !line["lot_id"] && !line["lot_name"])
        missing.push(env.displayName("product.product", product));
    }
  }
  if (missing.length)
    throw new UserError(
      `You need to supply a Lot/Serial number for product:\n- ${[...new Set(missing)].join("\n- ")}`,
    );
}

/** Marks moves and their lines done (lines with no quantity are dropped, as Odoo does). */
export function doneMoves(env: Env, moveIds: number[]): void {
  for (const id of moveIds) {
    const move = env.row("stock.move", id);
    if (move["state"] === "done" || move["state"] === "cancel") continue;
    for (const l of lineIds(env, id)) {
      const qty = float(env.get("stock.move.line", l, env.profile.moveLineQty));
      if (qty <= 0) env.unlink("stock.move.line", [l]);
      else {
        env.setRaw("stock.move.line", l, { state: "done", date: env.now() });
        const line = env.row("stock.move.line", l);
        if (!line["lot_id"] && line["lot_name"]) {
          const lot = env.create("stock.lot", { name: line["lot_name"], product_id: line["product_id"] });
          env.setRaw("stock.move.line", l, { lot_id: lot });
        }
      }
    }
    const done = moveDoneQty(env, id);
    env.setRaw("stock.move", id, {
      state: done > 0 ? "done" : "cancel",
      date: env.now(),
      ...(env.profile.picked ? { picked: true } : {}),
    });
  }
}

// ---------------------------------------------------------------------- picking logic

function pickingMoves(env: Env, pickingId: number): number[] {
  return env.get("stock.picking", pickingId, "move_ids") as number[];
}

function recomputePickingState(env: Env, pickingId: number): void {
  const states = pickingMoves(env, pickingId).map((m) => env.get("stock.move", m, "state"));
  const active = states.filter((s) => s !== "cancel");
  let state: string;
  if (states.length === 0) state = "draft";
  else if (active.length === 0) state = "cancel";
  else if (active.every((s) => s === "done")) state = "done";
  else if (active.every((s) => s === "assigned" || s === "done")) state = "assigned";
  else if (active.some((s) => s === "draft")) state = "draft";
  else state = "confirmed";
  if (env.get("stock.picking", pickingId, "state") !== state)
    env.setRaw("stock.picking", pickingId, { state });
}

/** The window action `button_validate` answers with when a wizard must decide (as stock does). */
function validationWizard(env: Env, pickingIds: number[], name: string, model: string): Vals {
  return {
    name,
    type: "ir.actions.act_window",
    view_mode: "form",
    res_model: model,
    views: [[false, "form"]],
    view_id: false,
    target: "new",
    context: {
      ...env.context,
      button_validate_picking_ids: pickingIds,
      default_show_transfers: false,
      default_pick_ids: pickingIds.map((id) => [4, id]),
    },
  };
}

const backorderWizard = (env: Env, pickingIds: number[]) =>
  validationWizard(env, pickingIds, "Create Backorder?", "stock.backorder.confirmation");
const immediateWizard = (env: Env, pickingIds: number[]) =>
  validationWizard(env, pickingIds, "Immediate Transfer?", "stock.immediate.transfer");

function buttonValidate(env: Env, ids: number[]): unknown {
  for (const id of ids) if (env.get("stock.picking", id, "state") === "draft") confirmPickings(env, [id]);
  for (const id of ids) {
    const state = env.get("stock.picking", id, "state");
    if (state === "done" || state === "cancel")
      throw new UserError(
        `You cannot validate a transfer that is already ${state === "done" ? "done" : "cancelled"}.`,
      );
  }
  const p = env.profile;
  const noQuantities = (id: number) => pickingMoves(env, id).every((m) => moveDoneQty(env, m) === 0);
  if (!p.picked && !env.context["skip_immediate"]) {
    const immediate = ids.filter(noQuantities);
    if (immediate.length) return immediateWizard(env, ids);
  }
  if (p.picked) {
    for (const id of ids) {
      const moves = pickingMoves(env, id);
      if (!moves.some((m) => env.get("stock.move", m, "picked") === true))
        for (const m of moves) {
          if (env.get("stock.move", m, "state") !== "cancel") setMoveDoneQty(env, m, moveDoneQty(env, m));
        }
    }
  }
  for (const id of ids) {
    if (noQuantities(id))
      throw new UserError(
        "You cannot validate a transfer if no quantities are reserved nor done. To force the transfer, encode quantities.",
      );
    checkLots(env, pickingMoves(env, id));
  }
  const short = ids.filter((id) =>
    pickingMoves(env, id).some(
      (m) =>
        env.get("stock.move", m, "state") !== "cancel" &&
        moveDoneQty(env, m) < float(env.get("stock.move", m, "product_uom_qty")),
    ),
  );
  if (short.length && !env.context["skip_backorder"]) return backorderWizard(env, ids);
  // quality_control's `_pre_action_done_hook` (after the immediate and backorder wizards): checks
  // still to do on a product being moved open the quality check wizard instead of validating.
  const checks = ids.flatMap((id) => qualityChecksToDo(env, id));
  if (checks.length) return qualityCheckWizard(env, checks);
  const noBackorder = new Set((env.context["picking_ids_not_to_backorder"] as number[] | undefined) ?? []);
  for (const id of ids) {
    const moves = pickingMoves(env, id);
    if (!noBackorder.has(id)) createPickingBackorder(env, id, moves);
    doneMoves(env, moves);
    env.setRaw("stock.picking", id, { state: "done", date_done: env.now() });
  }
  return true;
}

/**
 * Quality checks blocking a picking (quality_control stock_picking.py `_check_for_quality_checks` /
 * `_checks_to_do`): state "none" (to do) on a product of a line being moved — `qty_done != 0` in 16,
 * `picked` from 17.
 */
function qualityChecksToDo(env: Env, pickingId: number): number[] {
  const moving = new Set<unknown>();
  for (const l of env.get("stock.picking", pickingId, "move_line_ids") as number[]) {
    const line = env.row("stock.move.line", l);
    if (env.profile.picked ? line["picked"] === true : float(line["qty_done"]) !== 0)
      moving.add(line["product_id"]);
  }
  return env
    .search("quality.check", [
      ["picking_id", "=", pickingId],
      ["quality_state", "=", "none"],
    ])
    .filter((c) => moving.has(env.get("quality.check", c, "product_id")));
}

/** `quality.check.action_open_quality_check_wizard()` (the wizard model itself is not simulated). */
function qualityCheckWizard(env: Env, checkIds: number[]): Vals {
  const ids = [...new Set(checkIds)].sort((a, b) => a - b);
  return {
    name: "Quality Check",
    type: "ir.actions.act_window",
    res_model: "quality.check.wizard",
    view_mode: "form",
    views: [[false, "form"]],
    target: "new",
    context: { ...env.context, default_check_ids: ids, default_current_check_id: ids[0] },
  };
}

function createPickingBackorder(env: Env, pickingId: number, moves: number[]): void {
  const remaining = moves
    .map((m) => ({
      m,
      left: round(float(env.get("stock.move", m, "product_uom_qty")) - moveDoneQty(env, m)),
    }))
    .filter((x) => x.left > 0 && env.get("stock.move", x.m, "state") !== "cancel");
  if (remaining.length === 0) return;
  const picking = env.row("stock.picking", pickingId);
  const backorder = env.create("stock.picking", {
    picking_type_id: picking["picking_type_id"],
    partner_id: picking["partner_id"],
    location_id: picking["location_id"],
    location_dest_id: picking["location_dest_id"],
    origin: picking["origin"],
    backorder_id: pickingId,
    // `_create_backorder` is `picking.copy({...})` (stock_picking.py): custom fields are copied.
    x_threadline_event_id: picking["x_threadline_event_id"] ?? false,
  });
  for (const { m, left } of remaining) {
    const move = env.row("stock.move", m);
    const vals: Vals = {
      product_id: move["product_id"],
      product_uom_qty: left,
      product_uom: move["product_uom"],
      location_id: move["location_id"],
      location_dest_id: move["location_dest_id"],
      picking_id: backorder,
      origin: move["origin"],
    };
    if (env.profile.stockMoveName) vals["name"] = move["name"];
    env.create("stock.move", vals);
    env.setRaw("stock.move", m, { product_uom_qty: moveDoneQty(env, m) });
  }
  confirmPickings(env, [backorder]);
  reservePickings(env, [backorder]);
}

function confirmPickings(env: Env, ids: number[]): void {
  for (const id of ids) {
    for (const m of pickingMoves(env, id))
      if (env.get("stock.move", m, "state") === "draft") env.setRaw("stock.move", m, { state: "confirmed" });
    recomputePickingState(env, id);
  }
  // Operation types reserve at confirmation by default (reservation_method "at_confirm").
  reservePickings(env, ids);
}

function reservePickings(env: Env, ids: number[]): void {
  for (const id of ids) {
    reserveMoves(env, pickingMoves(env, id));
    recomputePickingState(env, id);
  }
}

// ---------------------------------------------------------------------- models

export function stockModels(p: Profile): ModelSpec[] {
  const moveQtyFields: ModelSpec["fields"] = p.picked
    ? {
        quantity: { type: "float", string: "Quantity" },
        picked: { type: "boolean", string: "Picked" },
      }
    : {
        quantity_done: {
          type: "float",
          string: "Quantity Done",
          compute: (env, row) => moveDoneQty(env, row.id),
          setter: (env, id, value) => setMoveDoneQty(env, id, float(value)),
        },
        reserved_availability: {
          type: "float",
          string: "Quantity Reserved",
          compute: (env, row) =>
            (env.get("stock.move", row.id, "move_line_ids") as number[]).reduce(
              (s, l) => s + float(env.get("stock.move.line", l, "reserved_uom_qty")),
              0,
            ),
        },
      };
  const lineQtyFields: ModelSpec["fields"] = p.picked
    ? {
        quantity: { type: "float", string: "Quantity" },
        picked: { type: "boolean", string: "Picked" },
      }
    : {
        qty_done: { type: "float", string: "Quantity Done" },
        reserved_uom_qty: { type: "float", string: "Reserved" },
      };
  const moveName: ModelSpec["fields"] = p.stockMoveName
    ? { name: { type: "char", string: "Description", required: true } }
    : {};

  const locationUsage = [
    ["supplier", "Vendor Location"],
    ["view", "View"],
    ["internal", "Internal Location"],
    ["customer", "Customer Location"],
    ["inventory", "Inventory Loss"],
    ["production", "Production"],
    ["transit", "Transit Location"],
  ] as const;

  return [
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
          selection: locationUsage,
          default: "internal",
          required: true,
        },
        active: { type: "boolean", string: "Active", default: true },
        barcode: { type: "char", string: "Barcode" },
        ...(p.version <= 18
          ? { scrap_location: { type: "boolean" as const, string: "Is a Scrap Location?" } }
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
          default: (env: Env) => String(env.db.nextSequence("stock.lot.serial")).padStart(7, "0"),
        },
        ref: { type: "char", string: "Internal Reference" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        note: { type: "html", string: "Description" },
        product_qty: {
          type: "float",
          string: "On Hand Quantity",
          compute: (env, row) => lotOnHand(env, row.id),
        },
      },
      ...(p.version === 16
        ? {
            sqlUnique: [
              {
                name: "stock_lot_name_ref_uniq",
                fields: ["name", "product_id"],
                message: "The combination of serial number and product must be unique across a company !",
              },
            ],
          }
        : {
            constrain: (env: Env, ids: number[]) => {
              for (const id of ids) {
                const lot = env.row("stock.lot", id);
                const dup = env.search("stock.lot", [
                  ["name", "=", lot["name"]],
                  ["product_id", "=", lot["product_id"]],
                  ["id", "!=", id],
                ]);
                if (dup.length)
                  throw new ValidationError(
                    "The combination of lot/serial number and product must be unique within a company including when no company is defined.\n" +
                      "The following combinations contain duplicates:\n" +
                      ` - Product: ${env.displayName("product.product", lot["product_id"] as number)}, Lot/Serial Number: ${lot["name"]}`,
                  );
              }
            },
          }),
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
        product_uom: {
          type: "many2one",
          string: "UoM",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
        },
        ...moveQtyFields,
        state: {
          type: "selection",
          string: "Status",
          selection: MOVE_STATES,
          default: "draft",
          readonly: true,
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
        raw_material_production_id: {
          type: "many2one",
          string: "Production Order for components",
          relation: "mrp.production",
        },
        production_id: {
          type: "many2one",
          string: "Production Order for finished products",
          relation: "mrp.production",
        },
        bom_line_id: { type: "many2one", string: "BoM Line", relation: "mrp.bom.line" },
        scrap_id: { type: "many2one", string: "Scrap operation", relation: "stock.scrap" },
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
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
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
      constrain: (env, ids) => {
        for (const id of ids) {
          if (float(env.get("stock.move", id, "product_uom_qty")) < 0)
            throw new UserError("You can not enter negative quantities.");
        }
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
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
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
        ] as const) {
          if (!vals[k]) vals[k] = move[mk];
        }
      },
      constrain: (env, ids) => {
        for (const id of ids) {
          if (float(env.get("stock.move.line", id, p.moveLineQty)) < 0)
            throw new ValidationError("You can not enter negative quantities.");
        }
        if (p.picked) {
          const moves = new Set(
            ids.map((id) => env.get("stock.move.line", id, "move_id")).filter(Boolean) as number[],
          );
          for (const m of moves) {
            const lines = env.get("stock.move", m, "move_line_ids") as number[];
            const qty = lines.reduce((s, l) => s + float(env.get("stock.move.line", l, "quantity")), 0);
            const picked = lines.some((l) => env.get("stock.move.line", l, "picked") === true);
            const move = env.row("stock.move", m);
            if (move["quantity"] !== qty || (picked && move["picked"] !== true))
              env.setRaw("stock.move", m, { quantity: round(qty), ...(picked ? { picked: true } : {}) });
          }
        }
      },
    },
    {
      name: "stock.picking",
      description: "Transfer",
      order: "priority desc, scheduled_date asc, id desc",
      fields: {
        name: { type: "char", string: "Reference", default: "/" },
        origin: { type: "char", string: "Source Document" },
        priority: {
          type: "selection",
          string: "Priority",
          selection: [
            ["0", "Normal"],
            ["1", "Urgent"],
          ],
          default: "0",
        },
        picking_type_id: {
          type: "many2one",
          string: "Operation Type",
          relation: "stock.picking.type",
          required: true,
        },
        picking_type_code: {
          type: "selection",
          string: "Type of Operation",
          selection: [
            ["incoming", "Receipt"],
            ["outgoing", "Delivery"],
            ["internal", "Internal Transfer"],
            ["mrp_operation", "Manufacturing"],
          ],
          related: "picking_type_id.code",
        },
        partner_id: { type: "many2one", string: "Contact", relation: "res.partner" },
        location_id: {
          type: "many2one",
          string: "Source Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_src_id")
              : false,
        },
        location_dest_id: {
          type: "many2one",
          string: "Destination Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_dest_id")
              : false,
        },
        state: {
          type: "selection",
          string: "Status",
          selection: PICKING_STATES,
          default: "draft",
          readonly: true,
        },
        scheduled_date: {
          type: "datetime",
          string: "Scheduled Date",
          default: (env: Env) => env.now(),
          required: true,
        },
        date_deadline: { type: "datetime", string: "Deadline" },
        date_done: { type: "datetime", string: "Date of Transfer" },
        ...(p.version <= 18
          ? { date: { type: "datetime" as const, string: "Creation Date", default: (env: Env) => env.now() } }
          : {}),
        move_ids: { type: "one2many", string: "Stock Moves", relation: "stock.move", inverse: "picking_id" },
        move_line_ids: {
          type: "one2many",
          string: "Operations",
          relation: "stock.move.line",
          inverse: "picking_id",
        },
        // quality_control (Enterprise)
        check_ids: { type: "one2many", string: "Checks", relation: "quality.check", inverse: "picking_id" },
        quality_check_todo: {
          type: "boolean",
          string: "Pending checks",
          compute: (env, row) =>
            env.search("quality.check", [
              ["picking_id", "=", row.id],
              ["quality_state", "=", "none"],
            ]).length > 0,
        },
        backorder_id: { type: "many2one", string: "Back Order of", relation: "stock.picking" },
        backorder_ids: {
          type: "one2many",
          string: "Back Orders",
          relation: "stock.picking",
          inverse: "backorder_id",
        },
        user_id: { type: "many2one", string: "Responsible", relation: "res.users" },
        note: { type: "html", string: "Notes" },
      },
      beforeCreate: (env, vals) => {
        if ((!vals["name"] || vals["name"] === "/") && vals["picking_type_id"])
          vals["name"] = pickingName(env, vals["picking_type_id"] as number);
      },
      afterCreate: (env, ids) => {
        for (const id of ids) {
          const picking = env.row("stock.picking", id);
          for (const m of pickingMoves(env, id)) {
            env.setRaw("stock.move", m, {
              picking_type_id: picking["picking_type_id"],
              reference: picking["name"],
            });
          }
        }
      },
      methods: {
        action_confirm: {
          fn: ({ env, ids }) => {
            confirmPickings(env, ids);
            return true;
          },
        },
        action_assign: {
          fn: ({ env, ids }) => {
            for (const id of ids)
              if (env.get("stock.picking", id, "state") === "draft") confirmPickings(env, [id]);
            reservePickings(env, ids);
            return true;
          },
        },
        button_validate: { fn: ({ env, ids }) => buttonValidate(env, ids) },
        action_cancel: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              for (const m of pickingMoves(env, id))
                if (env.get("stock.move", m, "state") !== "done")
                  env.setRaw("stock.move", m, { state: "cancel" });
              recomputePickingState(env, id);
            }
            return true;
          },
        },
      },
    },
    {
      name: "stock.backorder.confirmation",
      description: "Backorder Confirmation",
      transient: true,
      fields: {
        pick_ids: { type: "many2many", string: "Pick", relation: "stock.picking" },
        show_transfers: { type: "boolean", string: "Show Transfers" },
        backorder_confirmation_line_ids: {
          type: "one2many",
          string: "Backorder Confirmation Lines",
          relation: "stock.backorder.confirmation.line",
          inverse: "backorder_confirmation_id",
        },
      },
      afterCreate: (env, ids) => {
        for (const id of ids) {
          if (
            (env.get("stock.backorder.confirmation", id, "backorder_confirmation_line_ids") as number[])
              .length
          )
            continue;
          for (const pick of env.get("stock.backorder.confirmation", id, "pick_ids") as number[])
            env.create("stock.backorder.confirmation.line", {
              backorder_confirmation_id: id,
              picking_id: pick,
              to_backorder: true,
            });
        }
      },
      methods: {
        process: { fn: ({ env, ids }) => processBackorder(env, ids, false) },
        process_cancel_backorder: { fn: ({ env, ids }) => processBackorder(env, ids, true) },
      },
    },
    {
      name: "stock.backorder.confirmation.line",
      description: "Backorder Confirmation Line",
      transient: true,
      fields: {
        backorder_confirmation_id: {
          type: "many2one",
          string: "Immediate Transfer",
          relation: "stock.backorder.confirmation",
          ondelete: "cascade",
        },
        picking_id: { type: "many2one", string: "Transfer", relation: "stock.picking" },
        to_backorder: { type: "boolean", string: "To Backorder" },
      },
    },
    ...(p.immediateWizards ? immediateTransferModels() : []),
    scrapModel(),
  ];
}

// ---------------------------------------------------------------------- scrap

/**
 * The default scrap location: the first location flagged `scrap_location` up to 18 (stock_scrap.py
 * `_compute_scrap_location_id`, `[('scrap_location', '=', True)]`, `id:min`); 19 dropped the flag
 * (OpenUpgrade stock 19.0: `stock.location / scrap_location: DEL`) — an inventory-loss location,
 * `stock.stock_location_scrapped` when it is one.
 */
function defaultScrapLocation(env: Env): number | false {
  if (env.profile.version <= 18)
    return (
      env.search("stock.location", [["scrap_location", "=", true]], { limit: 1, order: "id" })[0] ?? false
    );
  const ref = env.db.xmlIds.get("stock.stock_location_scrapped");
  if (
    ref &&
    env.exists("stock.location", ref.id) &&
    env.get("stock.location", ref.id, "usage") === "inventory"
  )
    return ref.id;
  return env.search("stock.location", [["usage", "=", "inventory"]], { limit: 1, order: "id" })[0] ?? false;
}

/**
 * The source location (mrp's `_compute_location_id`): an order's finished products location once it
 * is done, its components location before; else the warehouse stock.
 */
function defaultScrapSource(env: Env, vals: Vals): number | false {
  const mo = vals["production_id"] as number | undefined;
  if (mo && env.exists("mrp.production", mo))
    return env.get(
      "mrp.production",
      mo,
      env.get("mrp.production", mo, "state") === "done" ? "location_dest_id" : "location_src_id",
    ) as number | false;
  const [wh] = env.search("stock.warehouse", [], { limit: 1 });
  return wh === undefined ? false : (env.get("stock.warehouse", wh, "lot_stock_id") as number | false);
}

/**
 * `do_scrap` (stock_scrap.py): the reference from the `stock.scrap` sequence (SP/00001), one done
 * move with one line to the scrap location (a tracked product without a lot is refused by the move
 * line's `_action_done`: "You need to supply a Lot/Serial number …"), state done, `date_done`.
 * Simplification: the move is not linked to the order (mrp sets `production_id` on it, and Odoo's
 * produced quantity skips it as `scrapped`; here it simply is not a finished move).
 */
function doScrap(env: Env, ids: number[]): true {
  const p = env.profile;
  for (const id of ids) {
    const scrap = env.row("stock.scrap", id);
    const name = `SP/${String(env.db.nextSequence("stock.scrap")).padStart(5, "0")}`;
    env.setRaw("stock.scrap", id, { name });
    const moveVals: Vals = {
      origin: scrap["origin"] || name,
      reference: name,
      product_id: scrap["product_id"],
      product_uom: scrap["product_uom_id"],
      product_uom_qty: scrap["scrap_qty"],
      location_id: scrap["location_id"],
      location_dest_id: scrap["scrap_location_id"],
      scrap_id: id,
    };
    if (p.stockMoveName) moveVals["name"] = name;
    const move = env.create("stock.move", moveVals);
    env.setRaw("stock.move", move, { state: "assigned" });
    const line: Vals = {
      move_id: move,
      product_id: scrap["product_id"],
      product_uom_id: scrap["product_uom_id"],
      location_id: scrap["location_id"],
      location_dest_id: scrap["scrap_location_id"],
      lot_id: scrap["lot_id"] || false,
      [p.moveLineQty]: scrap["scrap_qty"],
    };
    if (p.picked) line["picked"] = true;
    env.create("stock.move.line", line);
    checkLots(env, [move]);
    doneMoves(env, [move]);
    env.setRaw("stock.scrap", id, { state: "done", date_done: env.now() });
  }
  return true;
}

function scrapModel(): ModelSpec {
  return {
    name: "stock.scrap",
    description: "Scrap",
    order: "id desc",
    fields: {
      name: { type: "char", string: "Reference", required: true, readonly: true, default: "New" },
      origin: { type: "char", string: "Source Document" },
      product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
      product_uom_id: {
        type: "many2one",
        string: "Unit of Measure",
        relation: "uom.uom",
        required: true,
        default: (env: Env, vals: Vals) =>
          vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
      },
      tracking: {
        type: "selection",
        string: "Product Tracking",
        selection: [
          ["serial", "By Unique Serial Number"],
          ["lot", "By Lots"],
          ["none", "No Tracking"],
        ],
        related: "product_id.tracking",
      },
      lot_id: { type: "many2one", string: "Lot/Serial", relation: "stock.lot" },
      move_ids: { type: "one2many", string: "Moves", relation: "stock.move", inverse: "scrap_id" },
      picking_id: { type: "many2one", string: "Picking", relation: "stock.picking" },
      location_id: {
        type: "many2one",
        string: "Source Location",
        relation: "stock.location",
        required: true,
        default: defaultScrapSource,
      },
      scrap_location_id: {
        type: "many2one",
        string: "Scrap Location",
        relation: "stock.location",
        required: true,
        default: defaultScrapLocation,
      },
      scrap_qty: { type: "float", string: "Quantity", required: true, default: 1 },
      state: {
        type: "selection",
        string: "Status",
        selection: [
          ["draft", "Draft"],
          ["done", "Done"],
        ],
        default: "draft",
        readonly: true,
      },
      date_done: { type: "datetime", string: "Date", readonly: true },
      should_replenish: { type: "boolean", string: "Replenish Quantities" },
      // mrp
      production_id: { type: "many2one", string: "Manufacturing Order", relation: "mrp.production" },
      workorder_id: { type: "many2one", string: "Work Order", relation: "mrp.workorder" },
    },
    beforeUnlink: (env, ids) => {
      if (ids.some((id) => env.get("stock.scrap", id, "state") === "done"))
        throw new UserError("You cannot delete a scrap which is done.");
    },
    methods: {
      do_scrap: { fn: ({ env, ids }) => doScrap(env, ids) },
      action_validate: {
        fn: ({ env, ids }) => {
          if (ids.length !== 1) throw valueError(`Expected singleton: stock.scrap(${ids.join(", ")})`);
          const [id] = ids as [number];
          // float_is_zero(scrap_qty, precision_rounding=product_uom_id.rounding)
          if (Math.abs(float(env.get("stock.scrap", id, "scrap_qty"))) < 1e-6)
            throw new UserError("You can only enter positive quantities.");
          // check_available_qty: stock is unlimited here, so never the insufficient-quantity wizard.
          return doScrap(env, [id]);
        },
      },
    },
  };
}

function processBackorder(env: Env, ids: number[], cancel: boolean): unknown {
  const toValidate = env.context["button_validate_picking_ids"] as number[] | undefined;
  if (!toValidate || toValidate.length === 0) return true;
  const notToDo: number[] = [];
  for (const id of ids) {
    for (const line of env.get(
      "stock.backorder.confirmation",
      id,
      "backorder_confirmation_line_ids",
    ) as number[]) {
      const row = env.row("stock.backorder.confirmation.line", line);
      if (cancel || row["to_backorder"] !== true) notToDo.push(row["picking_id"] as number);
    }
    if (cancel) notToDo.push(...(env.get("stock.backorder.confirmation", id, "pick_ids") as number[]));
  }
  return buttonValidate(
    env.withContext({ skip_backorder: true, picking_ids_not_to_backorder: notToDo }),
    toValidate,
  );
}

function immediateTransferModels(): ModelSpec[] {
  return [
    {
      name: "stock.immediate.transfer",
      description: "Immediate Transfer",
      transient: true,
      fields: {
        pick_ids: { type: "many2many", string: "Pick", relation: "stock.picking" },
        show_transfers: { type: "boolean", string: "Show Transfers" },
        immediate_transfer_line_ids: {
          type: "one2many",
          string: "Immediate Transfer Lines",
          relation: "stock.immediate.transfer.line",
          inverse: "immediate_transfer_id",
        },
      },
      afterCreate: (env, ids) => {
        for (const id of ids) {
          if ((env.get("stock.immediate.transfer", id, "immediate_transfer_line_ids") as number[]).length)
            continue;
          for (const pick of env.get("stock.immediate.transfer", id, "pick_ids") as number[])
            env.create("stock.immediate.transfer.line", {
              immediate_transfer_id: id,
              picking_id: pick,
              to_immediate: true,
            });
        }
      },
      methods: {
        process: {
          fn: ({ env, ids }) => {
            const picks: number[] = [];
            for (const id of ids)
              for (const line of env.get(
                "stock.immediate.transfer",
                id,
                "immediate_transfer_line_ids",
              ) as number[]) {
                const row = env.row("stock.immediate.transfer.line", line);
                if (row["to_immediate"] === true) picks.push(row["picking_id"] as number);
              }
            for (const pick of picks) {
              if (env.get("stock.picking", pick, "state") === "draft") confirmPickings(env, [pick]);
              reservePickings(env, [pick]);
              for (const m of pickingMoves(env, pick)) {
                for (const l of env.get("stock.move", m, "move_line_ids") as number[])
                  env.write("stock.move.line", [l], {
                    qty_done: env.get("stock.move.line", l, "reserved_uom_qty"),
                  });
              }
            }
            const toValidate = (env.context["button_validate_picking_ids"] as number[] | undefined) ?? [];
            if (toValidate.length === 0) return true;
            return buttonValidate(env.withContext({ skip_immediate: true }), toValidate);
          },
        },
      },
    },
    {
      name: "stock.immediate.transfer.line",
      description: "Immediate Transfer Line",
      transient: true,
      fields: {
        immediate_transfer_id: {
          type: "many2one",
          string: "Immediate Transfer",
          relation: "stock.immediate.transfer",
          ondelete: "cascade",
        },
        picking_id: { type: "many2one", string: "Transfer", relation: "stock.picking" },
        to_immediate: { type: "boolean", string: "To Process" },
      },
    },
  ];
}

function pickingName(env: Env, typeId: number): string {
  const type = env.row("stock.picking.type", typeId);
  const wh = type["warehouse_id"]
    ? String(env.get("stock.warehouse", type["warehouse_id"] as number, "code"))
    : "";
  const code = String(type["sequence_code"]);
  const n = env.db.nextSequence(`picking.${typeId}`);
  return `${wh ? `${wh}/` : ""}${code}/${String(n).padStart(5, "0")}`;
}

export { pickingName };

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
}

/** Done quantity of a lot in internal locations. */
function lotOnHand(env: Env, lotId: number): number {
  let qty = 0;
  const qtyField = env.profile.moveLineQty;
  for (const line of env.db.table("stock.move.line").values()) {
    if (line["lot_id"] !== lotId || line["state"] !== "done") continue;
    const q = float(line[qtyField]);
    const src = env.get("stock.location", line["location_id"] as number, "usage");
    const dst = env.get("stock.location", line["location_dest_id"] as number, "usage");
    if (dst === "internal") qty += q;
    if (src === "internal") qty -= q;
  }
  return round(qty);
}
