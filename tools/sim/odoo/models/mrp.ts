/**
 * Manufacturing: work centers (+ productivity and loss reasons), BoMs with lines and operations,
 * manufacturing orders and work orders with the button methods a connector calls, and the wizards
 * `button_mark_done` returns: `mrp.immediate.production` (16), `mrp.consumption.warning`,
 * `mrp.production.backorder` (`action_backorder` / `action_close_mo`).
 *
 * Simplification (documented in the README): writing `qty_producing` consumes components in
 * proportion, as the form's onchange does in every version.
 */
import { UserError, ValidationError } from "../errors.js";
import { Env, type ModelSpec, type Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import { checkLots, doneMoves, moveDoneQty, reserveMoves, setMoveDoneQty } from "./stock.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);
const round = (v: number) => Math.round(v * 1e6) / 1e6;

export const MO_STATES = [
  ["draft", "Draft"],
  ["confirmed", "Confirmed"],
  ["progress", "In Progress"],
  ["to_close", "To Close"],
  ["done", "Done"],
  ["cancel", "Cancelled"],
] as const;

function workorderStates(p: Profile) {
  return p.workorderBlockedState
    ? ([
        ["blocked", "Blocked"],
        ["ready", "To Do"],
        ["progress", "In Progress"],
        ["done", "Finished"],
        ["cancel", "Cancelled"],
      ] as const)
    : ([
        ["pending", "Waiting for another WO"],
        ["waiting", "Waiting for components"],
        ["ready", "Ready"],
        ["progress", "In Progress"],
        ["done", "Finished"],
        ["cancel", "Cancelled"],
      ] as const);
}

const LOSS_TYPES = [
  ["availability", "Availability"],
  ["performance", "Performance"],
  ["quality", "Quality"],
  ["productive", "Productive"],
] as const;

const mo = (env: Env, id: number) => env.row("mrp.production", id);
const raws = (env: Env, id: number) => env.get("mrp.production", id, "move_raw_ids") as number[];
const finished = (env: Env, id: number) => env.get("mrp.production", id, "move_finished_ids") as number[];
const workorders = (env: Env, id: number) => env.get("mrp.production", id, "workorder_ids") as number[];

function productionLocation(env: Env): number | false {
  return env.search("stock.location", [["usage", "=", "production"]], { limit: 1 })[0] ?? false;
}

/** Lot(s) of the finished product: lot_producing_id (≤18) or lot_producing_ids (19). */
function producingLot(env: Env, id: number): number | false {
  if (env.profile.lotProducingMany)
    return (env.get("mrp.production", id, "lot_producing_ids") as number[])[0] ?? false;
  return (env.get("mrp.production", id, "lot_producing_id") as number | false) || false;
}

function addSeconds(datetime: string, seconds: number): string {
  const d = new Date(`${datetime.slice(0, 19).replace(" ", "T")}Z`);
  d.setUTCSeconds(d.getUTCSeconds() + Math.round(seconds));
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** Creates the component/finished moves and work orders of an MO from its BoM. */
function explode(env: Env, id: number): void {
  const row = mo(env, id);
  const bomId = row["bom_id"] as number | false;
  const prodLoc = productionLocation(env);
  const name = String(row["name"]);
  const moveBase = (vals: Vals): Vals => (env.profile.stockMoveName ? { name, ...vals } : vals);
  if (bomId && raws(env, id).length === 0) {
    const bomQty = float(env.get("mrp.bom", bomId, "product_qty")) || 1;
    for (const line of env.get("mrp.bom", bomId, "bom_line_ids") as number[]) {
      const l = env.row("mrp.bom.line", line);
      env.create(
        "stock.move",
        moveBase({
          product_id: l["product_id"],
          product_uom_qty: round((float(l["product_qty"]) * float(row["product_qty"])) / bomQty),
          product_uom: l["product_uom_id"] || env.get("product.product", l["product_id"] as number, "uom_id"),
          location_id: row["location_src_id"],
          location_dest_id: prodLoc,
          raw_material_production_id: id,
          bom_line_id: line,
          origin: name,
          picking_type_id: row["picking_type_id"],
          date: row[env.profile.mrpPlannedStart],
        }),
      );
    }
  }
  if (finished(env, id).length === 0) {
    env.create(
      "stock.move",
      moveBase({
        product_id: row["product_id"],
        product_uom_qty: row["product_qty"],
        product_uom: row["product_uom_id"],
        location_id: prodLoc,
        location_dest_id: row["location_dest_id"],
        production_id: id,
        origin: name,
        picking_type_id: row["picking_type_id"],
        date: row[env.profile.mrpPlannedFinished] || row[env.profile.mrpPlannedStart],
      }),
    );
  }
  if (bomId && workorders(env, id).length === 0) {
    const p = env.profile;
    let cursor = String(row[p.mrpPlannedStart] || env.now()).slice(0, 19);
    const ops = env.sortIds("mrp.routing.workcenter", env.get("mrp.bom", bomId, "operation_ids") as number[]);
    for (const op of ops) {
      const o = env.row("mrp.routing.workcenter", op);
      const minutes = float(o["time_cycle_manual"]) * float(row["product_qty"]);
      const end = addSeconds(cursor, minutes * 60);
      env.create("mrp.workorder", {
        name: o["name"],
        production_id: id,
        workcenter_id: o["workcenter_id"],
        operation_id: op,
        duration_expected: minutes,
        state: p.workorderBlockedState ? "blocked" : "pending",
        [p.version === 16 ? "date_planned_start" : "date_start"]: cursor,
        [p.version === 16 ? "date_planned_finished" : "date_finished"]: end,
      });
      cursor = end;
    }
  }
}

function readyFirstWorkorder(env: Env, id: number): void {
  const waiting = env.profile.workorderBlockedState ? "blocked" : "pending";
  const wos = env.sortIds("mrp.workorder", workorders(env, id), "id");
  if (wos.some((w) => ["ready", "progress"].includes(String(env.get("mrp.workorder", w, "state"))))) return;
  const next = wos.find((w) => env.get("mrp.workorder", w, "state") === waiting);
  if (next) env.setRaw("mrp.workorder", next, { state: "ready" });
}

function recomputeState(env: Env, id: number): void {
  const row = mo(env, id);
  const state = row["state"];
  if (state === "draft" || state === "done" || state === "cancel") return;
  const wos = workorders(env, id).filter((w) => env.get("mrp.workorder", w, "state") !== "cancel");
  const woStates = wos.map((w) => env.get("mrp.workorder", w, "state"));
  const producing = float(row["qty_producing"]);
  let next: string;
  if (wos.length > 0 && woStates.every((s) => s === "done")) next = "to_close";
  else if (wos.length === 0 && producing > 0 && producing >= float(row["product_qty"])) next = "to_close";
  else if (woStates.some((s) => s === "progress" || s === "done") || producing > 0) next = "progress";
  else next = "confirmed";
  if (next !== state) env.setRaw("mrp.production", id, { state: next });
}

function confirm(env: Env, ids: number[]): void {
  for (const id of ids) {
    if (mo(env, id)["state"] !== "draft") continue;
    explode(env, id);
    for (const m of [...raws(env, id), ...finished(env, id)])
      if (env.get("stock.move", m, "state") === "draft") env.setRaw("stock.move", m, { state: "confirmed" });
    env.setRaw("mrp.production", id, { state: "confirmed" });
    reserveMoves(env, raws(env, id));
    readyFirstWorkorder(env, id);
  }
}

/** Sets qty_producing's consequences: proportional component consumption, finished quantity and lot. */
function applyProducing(env: Env, id: number): void {
  const row = mo(env, id);
  const producing = float(row["qty_producing"]);
  const planned = float(row["product_qty"]) || 1;
  for (const m of raws(env, id)) {
    if (["done", "cancel"].includes(String(env.get("stock.move", m, "state")))) continue;
    setMoveDoneQty(env, m, round((float(env.get("stock.move", m, "product_uom_qty")) * producing) / planned));
  }
  for (const m of finished(env, id)) {
    if (["done", "cancel"].includes(String(env.get("stock.move", m, "state")))) continue;
    setMoveDoneQty(env, m, producing, producingLot(env, id));
  }
}

function action(env: Env, vals: Vals): Vals {
  return {
    type: "ir.actions.act_window",
    view_mode: "form",
    views: [[false, "form"]],
    target: "new",
    ...vals,
    context: { ...env.context, ...(vals["context"] as Vals) },
  };
}

function markDone(env: Env, ids: number[]): unknown {
  const p = env.profile;
  if (ids.length === 0) return true;
  for (const id of ids) {
    const state = mo(env, id)["state"];
    if (state === "done" || state === "cancel")
      throw new UserError(
        `The production order ${mo(env, id)["name"]} is already ${state === "done" ? "done" : "cancelled"}.`,
      );
  }
  confirm(
    env,
    ids.filter((id) => mo(env, id)["state"] === "draft"),
  );
  if (p.immediateWizards && !env.context["skip_immediate"]) {
    const zero = ids.filter((id) => float(mo(env, id)["qty_producing"]) === 0);
    if (zero.length)
      return action(env, {
        name: "Immediate Production?",
        res_model: "mrp.immediate.production",
        context: {
          button_mark_done_production_ids: ids,
          default_show_productions: ids.length > 1,
          default_mo_ids: zero.map((id) => [4, id]),
          default_immediate_production_line_ids: zero.map((id) => [
            0,
            0,
            { to_immediate: true, production_id: id },
          ]),
        },
      });
  }
  for (const id of ids) {
    const row = mo(env, id);
    if (float(row["qty_producing"]) > 0) continue;
    const tracking = env.get("product.product", row["product_id"] as number, "tracking");
    if (p.version >= 17 && tracking === "none") {
      env.write("mrp.production", [id], {
        qty_producing: round(
          float(row["product_qty"]) - float(env.get("mrp.production", id, "qty_produced")),
        ),
      });
    } else throw new UserError("The quantity to produce must be positive!");
  }
  for (const id of ids) {
    const row = mo(env, id);
    const product = row["product_id"] as number;
    if (env.get("product.product", product, "tracking") !== "none" && !producingLot(env, id))
      throw new UserError(
        `You need to supply a Lot/Serial number for product:\n- ${env.displayName("product.product", product)}`,
      );
    if (p.version === 16 && raws(env, id).length && raws(env, id).every((m) => moveDoneQty(env, m) === 0))
      throw new UserError("You must indicate a non-zero amount consumed for at least one of your components");
    checkLots(env, raws(env, id));
  }
  if (!env.context["skip_consumption"]) {
    const issues: Vals[] = [];
    for (const id of ids) {
      const row = mo(env, id);
      const bom = row["bom_id"] as number | false;
      if (!bom || env.get("mrp.bom", bom, "consumption") === "flexible") continue;
      const ratio = float(row["qty_producing"]) / (float(row["product_qty"]) || 1);
      for (const m of raws(env, id)) {
        const expected = round(float(env.get("stock.move", m, "product_uom_qty")) * ratio);
        const consumed = moveDoneQty(env, m);
        if (Math.abs(expected - consumed) > 1e-6)
          issues.push({
            mrp_production_id: id,
            product_id: env.get("stock.move", m, "product_id"),
            product_consumed_qty_uom: consumed,
            product_expected_qty_uom: expected,
          });
      }
    }
    if (issues.length)
      return action(env, {
        name: "Consumption Warning",
        res_model: "mrp.consumption.warning",
        context: {
          default_mrp_production_ids: ids,
          default_mrp_consumption_warning_line_ids: issues.map((v) => [0, 0, v]),
        },
      });
  }
  if (!env.context["skip_backorder"]) {
    const short = ids.filter(
      (id) => float(mo(env, id)["qty_producing"]) < float(mo(env, id)["product_qty"]) - 1e-9,
    );
    if (short.length)
      return action(env, {
        id: 1,
        xml_id: "mrp.action_mrp_production_backorder",
        name: "You produced less than initial demand",
        res_model: "mrp.production.backorder",
        context: {
          default_mrp_production_ids: ids,
          default_mrp_production_backorder_line_ids: short.map((id) => [
            0,
            0,
            { mrp_production_id: id, to_backorder: true },
          ]),
        },
      });
  }
  const toBackorder = new Set((env.context["mo_ids_to_backorder"] as number[] | undefined) ?? []);
  const backorders: number[] = [];
  for (const id of ids) {
    const row = mo(env, id);
    if (toBackorder.has(id) && float(row["qty_producing"]) < float(row["product_qty"]))
      backorders.push(split(env, id));
    finish(env, id);
  }
  if (backorders.length === 0) return true;
  const ctx = Object.fromEntries(Object.entries(env.context).filter(([k]) => !k.startsWith("default_")));
  return backorders.length === 1
    ? {
        res_model: "mrp.production",
        type: "ir.actions.act_window",
        context: ctx,
        view_mode: "form",
        res_id: backorders[0],
      }
    : {
        res_model: "mrp.production",
        type: "ir.actions.act_window",
        context: ctx,
        name: "Backorder MO",
        domain: [["id", "in", backorders]],
        view_mode: env.profile.version >= 18 ? "list,form" : "tree,form",
      };
}

/** Closes an MO: consumes and produces what was recorded, finishes work orders, state done. */
function finish(env: Env, id: number): void {
  const row = mo(env, id);
  for (const w of workorders(env, id)) {
    const state = env.get("mrp.workorder", w, "state");
    if (state !== "done" && state !== "cancel") finishWorkorder(env, w);
  }
  // Components stay as recorded (the consumption check ran before); the finished product gets the
  // produced quantity and lot.
  for (const m of finished(env, id)) {
    if (["done", "cancel"].includes(String(env.get("stock.move", m, "state")))) continue;
    setMoveDoneQty(env, m, float(row["qty_producing"]), producingLot(env, id));
  }
  doneMoves(env, [...raws(env, id), ...finished(env, id)]);
  env.setRaw("mrp.production", id, {
    state: "done",
    date_finished: env.now(),
    qty_producing: row["qty_producing"],
  });
}

/** Splits the unproduced remainder into a backorder MO named `<name>-002`, the original `-001`. */
function split(env: Env, id: number): number {
  const row = mo(env, id);
  const remaining = round(float(row["product_qty"]) - float(row["qty_producing"]));
  let base = String(row["name"]);
  let seq = float(row["backorder_sequence"]);
  if (seq === 0) {
    seq = 1;
    env.setRaw("mrp.production", id, { name: `${base}-001`, backorder_sequence: 1 });
  } else base = base.replace(/-\d{3}$/, "");
  const family = env.search("mrp.production", [["name", "=like", `${base}-%`]]);
  const next =
    Math.max(seq, ...family.map((f) => float(env.get("mrp.production", f, "backorder_sequence")))) + 1;
  const produced = float(row["qty_producing"]);
  const ratio = produced / (float(row["product_qty"]) || 1);
  for (const m of raws(env, id)) {
    env.setRaw("stock.move", m, {
      product_uom_qty: round(float(env.get("stock.move", m, "product_uom_qty")) * ratio),
    });
  }
  for (const m of finished(env, id)) env.setRaw("stock.move", m, { product_uom_qty: produced });
  env.setRaw("mrp.production", id, { product_qty: produced });
  const p = env.profile;
  const backorder = env.create("mrp.production", {
    name: `${base}-${String(next).padStart(3, "0")}`,
    product_id: row["product_id"],
    product_qty: remaining,
    product_uom_id: row["product_uom_id"],
    bom_id: row["bom_id"],
    origin: row["origin"],
    location_src_id: row["location_src_id"],
    location_dest_id: row["location_dest_id"],
    picking_type_id: row["picking_type_id"],
    backorder_sequence: next,
    [p.mrpPlannedStart]: row[p.mrpPlannedStart],
    // Odoo builds the backorder with `production.copy_data(...)` (mrp_production.py
    // `_split_productions`), and a custom field is copied unless its `copied` flag is unset
    // (ir_model.py `_compute_copied`: everything but one2many, related and computed fields).
    x_threadline_event_id: row["x_threadline_event_id"] ?? false,
  });
  confirm(env, [backorder]);
  return backorder;
}

// ---------------------------------------------------------------------- work orders

function productiveLoss(env: Env): number | false {
  return (
    env.search("mrp.workcenter.productivity.loss", [["loss_type", "=", "productive"]], { limit: 1 })[0] ??
    false
  );
}

function openTimes(env: Env, wo: number): number[] {
  return env.search("mrp.workcenter.productivity", [
    ["workorder_id", "=", wo],
    ["date_end", "=", false],
  ]);
}

function closeTimes(env: Env, wo: number): void {
  for (const t of openTimes(env, wo)) env.write("mrp.workcenter.productivity", [t], { date_end: env.now() });
}

function startWorkorder(env: Env, wo: number): void {
  const row = env.row("mrp.workorder", wo);
  const state = row["state"];
  if (state === "done" || state === "cancel")
    throw new UserError("You cannot start a work order that is already done or cancelled.");
  const production = row["production_id"] as number;
  if (mo(env, production)["state"] === "draft")
    throw new UserError("You cannot start a work order of a draft manufacturing order.");
  if (openTimes(env, wo).length === 0) {
    env.create("mrp.workcenter.productivity", {
      workorder_id: wo,
      workcenter_id: row["workcenter_id"],
      loss_id: productiveLoss(env),
      date_start: env.now(),
      user_id: env.uid,
    });
  }
  const vals: Vals = { state: "progress" };
  if (!row["date_start"] || env.profile.version === 16) vals["date_start"] = row["date_start"] || env.now();
  env.setRaw("mrp.workorder", wo, vals);
  const moRow = mo(env, production);
  if (env.profile.version === 16 && !moRow["date_start"])
    env.setRaw("mrp.production", production, { date_start: env.now() });
  recomputeState(env, production);
}

function finishWorkorder(env: Env, wo: number): void {
  const row = env.row("mrp.workorder", wo);
  closeTimes(env, wo);
  const production = row["production_id"] as number;
  const producing = float(mo(env, production)["qty_producing"]) || float(mo(env, production)["product_qty"]);
  env.setRaw("mrp.workorder", wo, {
    state: "done",
    date_finished: env.now(),
    qty_produced: producing,
    ...(row["date_start"] ? {} : { date_start: env.now() }),
  });
  readyFirstWorkorder(env, production);
  recomputeState(env, production);
}

// ---------------------------------------------------------------------- models

export function mrpModels(p: Profile): ModelSpec[] {
  const plannedDates: ModelSpec["fields"] =
    p.version === 16
      ? {
          date_planned_start: {
            type: "datetime",
            string: "Scheduled Date",
            required: true,
            default: (env: Env) => env.now(),
          },
          date_planned_finished: { type: "datetime", string: "Scheduled End Date" },
          date_start: { type: "datetime", string: "Start Date", readonly: true },
          date_finished: { type: "datetime", string: "End Date", readonly: true },
        }
      : {
          date_start: { type: "datetime", string: "Start", required: true, default: (env: Env) => env.now() },
          date_finished: { type: "datetime", string: "End" },
        };
  const lotProducing: ModelSpec["fields"] = p.lotProducingMany
    ? { lot_producing_ids: { type: "many2many", string: "Lot/Serial Numbers", relation: "stock.lot" } }
    : { lot_producing_id: { type: "many2one", string: "Lot/Serial Number", relation: "stock.lot" } };
  const woDates: ModelSpec["fields"] =
    p.version === 16
      ? {
          date_planned_start: { type: "datetime", string: "Scheduled Start Date" },
          date_planned_finished: { type: "datetime", string: "Scheduled End Date" },
          date_start: { type: "datetime", string: "Start Date" },
          date_finished: { type: "datetime", string: "End Date" },
        }
      : {
          date_start: { type: "datetime", string: "Start" },
          date_finished: { type: "datetime", string: "End" },
        };

  return [
    {
      name: "mrp.workcenter",
      description: "Work Center",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Work Center", required: true },
        code: { type: "char", string: "Code" },
        sequence: { type: "integer", string: "Sequence", default: 1 },
        active: { type: "boolean", string: "Active", default: true },
        time_efficiency: { type: "float", string: "Time Efficiency", default: 100 },
        oee_target: { type: "float", string: "OEE Target", default: 90 },
        costs_hour: { type: "float", string: "Cost per hour" },
        ...(p.version <= 18
          ? { default_capacity: { type: "float" as const, string: "Capacity", default: 1 } }
          : {}),
        working_state: {
          type: "selection",
          string: "Workcenter Status",
          selection: [
            ["normal", "Normal"],
            ["blocked", "Blocked"],
            ["done", "In Progress"],
          ],
          compute: (env, row) => {
            const open = env.search("mrp.workcenter.productivity", [
              ["workcenter_id", "=", row.id],
              ["date_end", "=", false],
            ]);
            if (open.length === 0) return "normal";
            const blocked = open.some((t) => {
              const loss = env.get("mrp.workcenter.productivity", t, "loss_id") as number;
              return env.get("mrp.workcenter.productivity.loss", loss, "loss_type") !== "productive";
            });
            return blocked ? "blocked" : "done";
          },
        },
      },
    },
    {
      name: "mrp.workcenter.productivity.loss",
      description: "Workcenter Productivity Losses",
      order: "sequence, id",
      fields: {
        name: { type: "char", string: "Blocking Reason", required: true },
        sequence: { type: "integer", string: "Sequence", default: 1 },
        manual: { type: "boolean", string: "Is a Blocking Reason", default: true },
        loss_type: {
          type: "selection",
          string: "Effectiveness Category",
          selection: LOSS_TYPES,
          required: true,
          default: "availability",
        },
      },
    },
    {
      name: "mrp.workcenter.productivity",
      description: "Workcenter Productivity Log",
      order: "id desc",
      internalAccess: "rwc",
      fields: {
        workcenter_id: {
          type: "many2one",
          string: "Work Center",
          relation: "mrp.workcenter",
          required: true,
        },
        workorder_id: { type: "many2one", string: "Work Order", relation: "mrp.workorder" },
        production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          related: "workorder_id.production_id",
        },
        user_id: { type: "many2one", string: "User", relation: "res.users", default: (env: Env) => env.uid },
        loss_id: {
          type: "many2one",
          string: "Loss Reason",
          relation: "mrp.workcenter.productivity.loss",
          required: true,
        },
        loss_type: {
          type: "selection",
          string: "Effectiveness",
          selection: LOSS_TYPES,
          related: "loss_id.loss_type",
        },
        description: { type: "text", string: "Description" },
        date_start: {
          type: "datetime",
          string: "Start Date",
          required: true,
          default: (env: Env) => env.now(),
        },
        date_end: { type: "datetime", string: "End Date" },
        duration: {
          type: "float",
          string: "Duration",
          compute: (env, row) => {
            const start = Date.parse(`${String(row["date_start"]).slice(0, 19).replace(" ", "T")}Z`);
            const endStr = row["date_end"] ? String(row["date_end"]) : env.now();
            const end = Date.parse(`${endStr.slice(0, 19).replace(" ", "T")}Z`);
            return Math.round(((end - start) / 60000) * 100) / 100;
          },
        },
      },
      constrain: (env, ids) => {
        for (const id of ids) {
          const r = env.row("mrp.workcenter.productivity", id);
          if (r["date_end"] && String(r["date_end"]) < String(r["date_start"]).slice(0, 19))
            throw new ValidationError("The end date cannot be earlier than the start date.");
        }
      },
    },
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
        time_cycle_manual: { type: "float", string: "Manual Duration", default: 60 },
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
          selection: [
            ["flexible", "Allowed"],
            ["warning", "Allowed with warning"],
            ["strict", "Blocked"],
          ],
          default: "warning",
          required: true,
        },
        bom_line_ids: { type: "one2many", string: "BoM Lines", relation: "mrp.bom.line", inverse: "bom_id" },
        operation_ids: {
          type: "one2many",
          string: "Operations",
          relation: "mrp.routing.workcenter",
          inverse: "bom_id",
        },
      },
      displayName: (env, row) =>
        `${row["code"] ? `${row["code"]}: ` : ""}${env.displayName("product.template", row["product_tmpl_id"] as number)}`,
      constrain: (env, ids) => {
        for (const id of ids)
          if (float(env.get("mrp.bom", id, "product_qty")) <= 0)
            throw new ValidationError("The quantity to produce must be positive!");
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
      },
    },
    {
      name: "mrp.production",
      description: "Production Order",
      order:
        p.version === 16 ? "priority desc, date_planned_start asc,id" : "priority desc, date_start asc,id",
      fields: {
        name: { type: "char", string: "Reference", default: "New" },
        priority: {
          type: "selection",
          string: "Priority",
          selection: [
            ["0", "Normal"],
            ["1", "Urgent"],
          ],
          default: "0",
        },
        backorder_sequence: { type: "integer", string: "Backorder Sequence" },
        origin: { type: "char", string: "Source" },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_tmpl_id: {
          type: "many2one",
          string: "Product Template",
          relation: "product.template",
          related: "product_id.product_tmpl_id",
        },
        product_tracking: {
          type: "selection",
          string: "Product Tracking",
          selection: [
            ["serial", "By Unique Serial Number"],
            ["lot", "By Lots"],
            ["none", "No Tracking"],
          ],
          related: "product_id.tracking",
        },
        product_qty: { type: "float", string: "Quantity To Produce", default: 1, required: true },
        product_uom_id: {
          type: "many2one",
          string: "Product Unit of Measure",
          relation: "uom.uom",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["product_id"] ? env.get("product.product", vals["product_id"] as number, "uom_id") : false,
        },
        qty_producing: { type: "float", string: "Quantity Producing" },
        qty_produced: {
          type: "float",
          string: "Quantity Produced",
          compute: (env, row) =>
            (env.get("mrp.production", row.id, "move_finished_ids") as number[])
              .filter((m) => env.get("stock.move", m, "state") === "done")
              .reduce((s, m) => s + moveDoneQty(env, m), 0),
        },
        ...lotProducing,
        bom_id: {
          type: "many2one",
          string: "Bill of Material",
          relation: "mrp.bom",
          default: (env: Env, vals: Vals) => {
            if (!vals["product_id"]) return false;
            const tmpl = env.get("product.product", vals["product_id"] as number, "product_tmpl_id");
            return (
              env.search(
                "mrp.bom",
                [
                  "|",
                  ["product_id", "=", vals["product_id"]],
                  "&",
                  ["product_id", "=", false],
                  ["product_tmpl_id", "=", tmpl],
                ],
                {
                  limit: 1,
                },
              )[0] ?? false
            );
          },
        },
        state: { type: "selection", string: "State", selection: MO_STATES, default: "draft", readonly: true },
        reservation_state: {
          type: "selection",
          string: "MO Readiness",
          selection: [
            ["confirmed", "Waiting"],
            ["assigned", "Ready"],
            ["waiting", "Waiting Another Operation"],
          ],
          compute: (env, row) => {
            if (["draft", "done", "cancel"].includes(String(row["state"]))) return false;
            const states = (env.get("mrp.production", row.id, "move_raw_ids") as number[]).map((m) =>
              env.get("stock.move", m, "state"),
            );
            return states.every((s) => s === "assigned" || s === "done" || s === "cancel")
              ? "assigned"
              : "confirmed";
          },
        },
        ...plannedDates,
        date_deadline: { type: "datetime", string: "Deadline" },
        user_id: {
          type: "many2one",
          string: "Responsible",
          relation: "res.users",
          default: (env: Env) => env.uid,
        },
        picking_type_id: {
          type: "many2one",
          string: "Operation Type",
          relation: "stock.picking.type",
          required: true,
          default: (env: Env) =>
            env.search("stock.picking.type", [["code", "=", "mrp_operation"]], { limit: 1 })[0] ?? false,
        },
        location_src_id: {
          type: "many2one",
          string: "Components Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_src_id")
              : false,
        },
        location_dest_id: {
          type: "many2one",
          string: "Finished Products Location",
          relation: "stock.location",
          required: true,
          default: (env: Env, vals: Vals) =>
            vals["picking_type_id"]
              ? env.get("stock.picking.type", vals["picking_type_id"] as number, "default_location_dest_id")
              : false,
        },
        move_raw_ids: {
          type: "one2many",
          string: "Components",
          relation: "stock.move",
          inverse: "raw_material_production_id",
        },
        move_finished_ids: {
          type: "one2many",
          string: "Finished Products",
          relation: "stock.move",
          inverse: "production_id",
        },
        workorder_ids: {
          type: "one2many",
          string: "Work Orders",
          relation: "mrp.workorder",
          inverse: "production_id",
        },
        ...(p.version >= 17
          ? {
              workcenter_id: {
                type: "many2one" as const,
                string: "Work Center",
                relation: "mrp.workcenter",
                compute: (env: Env, row: { id: number }) => {
                  const wos = env.get("mrp.production", row.id, "workorder_ids") as number[];
                  return wos.length ? env.get("mrp.workorder", wos[0] as number, "workcenter_id") : false;
                },
                search: (_env: Env, op: string, value: unknown) => [
                  ["workorder_ids.workcenter_id", op, value],
                ],
              },
            }
          : {}),
      },
      beforeCreate: (env, vals) => {
        if (!vals["name"] || vals["name"] === "New") {
          const type = vals["picking_type_id"] as number;
          const typeRow = env.row("stock.picking.type", type);
          const wh = typeRow["warehouse_id"]
            ? `${env.get("stock.warehouse", typeRow["warehouse_id"] as number, "code")}/`
            : "";
          vals["name"] =
            `${wh}${typeRow["sequence_code"]}/${String(env.db.nextSequence(`picking.${type}`)).padStart(5, "0")}`;
        }
      },
      afterCreate: (env, ids) => {
        for (const id of ids) explode(env, id);
      },
      afterWrite: (env, ids, vals) => {
        for (const id of ids) {
          const state = mo(env, id)["state"];
          if ("qty_producing" in vals || "lot_producing_id" in vals || "lot_producing_ids" in vals) {
            if (state !== "done" && state !== "cancel") applyProducing(env, id);
            recomputeState(env, id);
          }
        }
      },
      constrain: (env, ids) => {
        for (const id of ids) {
          const row = mo(env, id);
          if (float(row["product_qty"]) <= 0)
            throw new ValidationError(
              env.profile.version === 16
                ? "The operation cannot be completed: Quantity to produce must be positive!"
                : "The quantity to produce must be positive!",
            );
          if (float(row["qty_producing"]) < 0) throw new UserError("You can not enter negative quantities.");
        }
      },
      methods: {
        action_confirm: {
          fn: ({ env, ids }) => {
            confirm(env, ids);
            return true;
          },
        },
        action_assign: {
          fn: ({ env, ids }) => {
            for (const id of ids) reserveMoves(env, raws(env, id));
            return true;
          },
        },
        button_mark_done: { fn: ({ env, ids }) => markDone(env, ids) },
        action_cancel: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              if (mo(env, id)["state"] === "done")
                throw new UserError("You cannot cancel a done manufacturing order.");
              for (const m of [...raws(env, id), ...finished(env, id)])
                if (env.get("stock.move", m, "state") !== "done")
                  env.setRaw("stock.move", m, { state: "cancel" });
              for (const w of workorders(env, id)) {
                closeTimes(env, w);
                if (env.get("mrp.workorder", w, "state") !== "done")
                  env.setRaw("mrp.workorder", w, { state: "cancel" });
              }
              env.setRaw("mrp.production", id, { state: "cancel" });
            }
            return true;
          },
        },
        action_generate_serial: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              const product = mo(env, id)["product_id"];
              const lot = env.create("stock.lot", { product_id: product });
              env.write(
                "mrp.production",
                [id],
                env.profile.lotProducingMany ? { lot_producing_ids: [[4, lot]] } : { lot_producing_id: lot },
              );
            }
            return null;
          },
        },
      },
    },
    {
      name: "mrp.workorder",
      description: "Work Order",
      order:
        p.version >= 18
          ? "sequence, leave_id, date_start, id"
          : p.version === 17
            ? "leave_id, date_start, id"
            : "id",
      internalAccess: "rw",
      fields: {
        name: { type: "char", string: "Work Order", required: true },
        sequence: { type: "integer", string: "Sequence", default: 100 },
        leave_id: { type: "integer", string: "Leave" },
        production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          required: true,
          ondelete: "cascade",
        },
        workcenter_id: {
          type: "many2one",
          string: "Work Center",
          relation: "mrp.workcenter",
          required: true,
        },
        operation_id: { type: "many2one", string: "Operation", relation: "mrp.routing.workcenter" },
        product_id: {
          type: "many2one",
          string: "Product",
          relation: "product.product",
          related: "production_id.product_id",
        },
        production_state: {
          type: "selection",
          string: "Production State",
          selection: MO_STATES,
          related: "production_id.state",
        },
        qty_production: {
          type: "float",
          string: "Original Production Quantity",
          related: "production_id.product_qty",
        },
        qty_produced: { type: "float", string: "Quantity" },
        state: {
          type: "selection",
          string: "Status",
          selection: workorderStates(p),
          default: p.workorderBlockedState ? "blocked" : "pending",
        },
        duration_expected: { type: "float", string: "Expected Duration" },
        duration: {
          type: "float",
          string: "Real Duration",
          compute: (env, row) =>
            env
              .search("mrp.workcenter.productivity", [["workorder_id", "=", row.id]])
              .reduce((s, t) => s + float(env.get("mrp.workcenter.productivity", t, "duration")), 0),
        },
        time_ids: {
          type: "one2many",
          string: "Time",
          relation: "mrp.workcenter.productivity",
          inverse: "workorder_id",
        },
        ...woDates,
      },
      methods: {
        button_start: {
          fn: ({ env, ids }) => {
            for (const id of ids) startWorkorder(env, id);
            return true;
          },
        },
        button_pending: {
          fn: ({ env, ids }) => {
            for (const id of ids) closeTimes(env, id);
            return true;
          },
        },
        button_finish: {
          fn: ({ env, ids }) => {
            for (const id of ids) finishWorkorder(env, id);
            return true;
          },
        },
      },
    },
    ...wizards(p),
  ];
}

function wizards(p: Profile): ModelSpec[] {
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
      },
      methods: {
        action_backorder: {
          fn: ({ env, ids }) => {
            const productions = ids.flatMap(
              (id) => env.get("mrp.production.backorder", id, "mrp_production_ids") as number[],
            );
            const toBackorder = ids.flatMap((id) =>
              (env.get("mrp.production.backorder", id, "mrp_production_backorder_line_ids") as number[])
                .map((l) => env.row("mrp.production.backorder.line", l))
                .filter((l) => l["to_backorder"] === true)
                .map((l) => l["mrp_production_id"] as number),
            );
            const ctx = { ...env.context };
            delete ctx["default_mrp_production_ids"];
            return markDone(
              new Env(env.db, env.uid, ctx, env.tx, env.su).withContext({
                skip_backorder: true,
                mo_ids_to_backorder: toBackorder,
              }),
              productions,
            );
          },
        },
        action_close_mo: {
          fn: ({ env, ids }) => {
            const productions = ids.flatMap(
              (id) => env.get("mrp.production.backorder", id, "mrp_production_ids") as number[],
            );
            return markDone(env.withContext({ skip_backorder: true }), productions);
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
          ondelete: "cascade",
        },
        mrp_production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          required: true,
        },
        to_backorder: { type: "boolean", string: "To Backorder" },
      },
    },
    {
      name: "mrp.consumption.warning",
      description:
        "Wizard in case of consumption in warning/strict and more component has been used for a MO",
      transient: true,
      fields: {
        mrp_production_ids: { type: "many2many", string: "Manufacturing Orders", relation: "mrp.production" },
        mrp_consumption_warning_line_ids: {
          type: "one2many",
          string: "Lines",
          relation: "mrp.consumption.warning.line",
          inverse: "mrp_consumption_warning_id",
        },
      },
      methods: {
        action_confirm: {
          fn: ({ env, ids }) => {
            const productions = ids.flatMap(
              (id) => env.get("mrp.consumption.warning", id, "mrp_production_ids") as number[],
            );
            return markDone(env.withContext({ skip_consumption: true }), productions);
          },
        },
        action_set_qty: {
          fn: ({ env, ids }) => {
            const productions = ids.flatMap(
              (id) => env.get("mrp.consumption.warning", id, "mrp_production_ids") as number[],
            );
            for (const production of productions) applyProducing(env, production);
            return markDone(env.withContext({ skip_consumption: true }), productions);
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
          ondelete: "cascade",
        },
        mrp_production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          required: true,
        },
        product_id: { type: "many2one", string: "Product", relation: "product.product", required: true },
        product_consumed_qty_uom: { type: "float", string: "Consumed" },
        product_expected_qty_uom: { type: "float", string: "To Consume" },
      },
    },
  ];
  if (p.immediateWizards) {
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
        methods: {
          process: {
            fn: ({ env, ids }) => {
              for (const id of ids) {
                for (const l of env.get(
                  "mrp.immediate.production",
                  id,
                  "immediate_production_line_ids",
                ) as number[]) {
                  const line = env.row("mrp.immediate.production.line", l);
                  if (line["to_immediate"] !== true) continue;
                  const production = line["production_id"] as number;
                  const left =
                    float(mo(env, production)["product_qty"]) -
                    float(env.get("mrp.production", production, "qty_produced"));
                  env.write("mrp.production", [production], { qty_producing: left });
                }
              }
              const toValidate =
                (env.context["button_mark_done_production_ids"] as number[] | undefined) ?? [];
              if (toValidate.length === 0) return true;
              return markDone(env.withContext({ skip_immediate: true }), toValidate);
            },
          },
        },
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
  }
  return list;
}
