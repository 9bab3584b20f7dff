/**
 * Transfers: `stock.picking` with `action_confirm`, `action_assign`, `button_validate` (returning the
 * version's wizards: `stock.immediate.transfer` on 16 when nothing is done, `stock.backorder.confirmation`
 * when less than the demand is done; Enterprise quality_control's check wizard when checks are pending)
 * and `action_cancel`; the two wizards' `process` methods. Backorders are `picking.copy(...)`.
 */
import { UserError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { actionDone, cancelMoves, moveDoneQty } from "./stock-move.js";
import { reserveAtConfirm, reserveMoves, round } from "./stock-quant.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

const PICKING_STATES = [
  ["draft", "Draft"],
  ["waiting", "Waiting Another Operation"],
  ["confirmed", "Waiting"],
  ["assigned", "Ready"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

/** Fields Enterprise quality_control adds on pickings (only with the `quality` option). */
function qualityPickingFields(): ModelSpec["fields"] {
  return {
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
  };
}

export function pickingName(env: Env, typeId: number): string {
  const type = env.row("stock.picking.type", typeId);
  const wh = type["warehouse_id"]
    ? String(env.get("stock.warehouse", type["warehouse_id"] as number, "code"))
    : "";
  const code = String(type["sequence_code"]);
  const n = env.db.nextSequence(`picking.${typeId}`);
  return `${wh ? `${wh}/` : ""}${code}/${String(n).padStart(5, "0")}`;
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
    // nothing picked: everything reserved is picked (stock_picking.py `_pre_action_done_hook` 17+)
    for (const id of ids) {
      const moves = pickingMoves(env, id).filter((m) => env.get("stock.move", m, "state") !== "cancel");
      if (!moves.some((m) => env.get("stock.move", m, "picked") === true))
        for (const m of moves) env.write("stock.move", [m], { picked: true });
    }
  }
  for (const id of ids) {
    if (noQuantities(id))
      throw new UserError(
        "You cannot validate a transfer if no quantities are reserved nor done. To force the transfer, encode quantities.",
      );
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
  if (env.db.models.has("quality.check")) {
    const checks = ids.flatMap((id) => qualityChecksToDo(env, id));
    if (checks.length) return qualityCheckWizard(env, checks);
  }
  const noBackorder = new Set((env.context["picking_ids_not_to_backorder"] as number[] | undefined) ?? []);
  for (const id of ids) {
    const moves = pickingMoves(env, id);
    if (!noBackorder.has(id)) createPickingBackorder(env, id, moves);
    actionDone(env, moves, { cancelBackorder: true });
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
  // `_create_backorder` is `picking.copy({'name': '/', 'move_ids': [], 'backorder_id': …})`
  // (stock_picking.py): custom fields travel as their `copied` flag says.
  const backorder = env.create(
    "stock.picking",
    env.copyData("stock.picking", pickingId, { name: "/", backorder_id: pickingId, state: "draft" }),
  );
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
    if (!env.profile.picked)
      for (const l of env.get("stock.move", m, "move_line_ids") as number[])
        env.setRaw("stock.move.line", l, { reserved_uom_qty: env.get("stock.move.line", l, "qty_done") });
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
  // `stock.move._action_confirm`: reserved at once when the operation type says 'at_confirm' (the default)
  for (const id of ids) {
    reserveAtConfirm(env, pickingMoves(env, id));
    recomputePickingState(env, id);
  }
}

function reservePickings(env: Env, ids: number[]): void {
  for (const id of ids) {
    reserveMoves(env, pickingMoves(env, id));
    recomputePickingState(env, id);
  }
}

export function pickingModels(p: Profile, opts: { quality: boolean }): ModelSpec[] {
  return [
    {
      name: "stock.picking",
      description: "Transfer",
      order: "priority desc, scheduled_date asc, id desc",
      fields: {
        name: { type: "char", string: "Reference", default: "/", copy: false },
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
          copy: false,
        },
        scheduled_date: {
          type: "datetime",
          string: "Scheduled Date",
          default: (env: Env) => env.now(),
          required: true,
        },
        date_deadline: { type: "datetime", string: "Deadline" },
        date_done: { type: "datetime", string: "Date of Transfer", copy: false },
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
        ...(opts.quality ? qualityPickingFields() : {}),
        backorder_id: { type: "many2one", string: "Back Order of", relation: "stock.picking", copy: false },
        is_locked: { type: "boolean", string: "Is Locked", default: true, copy: false },
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
        // stock_picking.py `action_cancel`: `move_ids._action_cancel()` (a done move that is not a
        // scrap raises), `is_locked`, a picking without moves is cancelled
        action_cancel: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              cancelMoves(env, pickingMoves(env, id));
              env.setRaw("stock.picking", id, { is_locked: true });
              if (pickingMoves(env, id).length === 0) env.setRaw("stock.picking", id, { state: "cancel" });
              else recomputePickingState(env, id);
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
  ];
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
