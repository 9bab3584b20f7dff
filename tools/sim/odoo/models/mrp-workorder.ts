/**
 * Work orders (mrp/models/mrp_workorder.py 16/17/18/19; sources: README "Conformance"):
 * - created from the BoM operations; moves are linked to the operation's work order, and (16–18)
 *   moves without operation to the last work order (`_link_workorders_and_moves`; 19 does not);
 * - `qty_producing` mirrors the order's; writing it runs `_set_qty_producing`: the order's
 *   `qty_producing` and its `_set_qty_producing()` (16/17) / `_set_qty_producing(False)` (18/19), a
 *   no-op when the value already equals the order's or is 0;
 * - `button_start`: 17+ "Please unblock the work center to start the work order." when the work
 *   centre is blocked; 18+ "You cannot start a work order that is already done or cancelled"; with
 *   `qty_producing` 0 it sets it to the remaining quantity (16–18: 1 for a serial product) — which
 *   fills components through the inverse; a productive time log (performance past the expected time);
 * - `button_finish`: 18/19 first fill and pick the work order's un-picked component moves
 *   (`qty_producing`, or `product_qty` when 0, × unit factor), then every open log is closed
 *   (`end_all` / `_close`: the part past the expected duration becomes a performance log), state done;
 * - `duration`: the sum of the logs' durations (19: plus open timers up to now); writing it runs
 *   `_set_duration` (logs ending now; productive up to the expected duration, performance past it).
 */
import { UserError } from "../errors.js";
import type { Env, ModelSpec, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";
import {
  MO_STATES,
  mo,
  raws,
  readyNextWorkorder,
  recomputeState,
  setQtyProducing,
} from "./mrp-production.js";
import { loggedMinutes, lossOfType, toDatetime, workingState } from "./mrp-workcenter.js";
import { setQuantityDone } from "./stock-move.js";
import { round } from "./stock-quant.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);
const toMs = (dt: string) => Date.parse(`${dt.slice(0, 19).replace(" ", "T")}Z`);

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

const wo = (env: Env, id: number) => env.row("mrp.workorder", id);

/** `_get_duration_expected`: cycles (quantity / capacity, rounded up) × cycle time × 100 / efficiency. */
export function expectedDuration(env: Env, operationId: number, workcenterId: number, qty: number): number {
  const cycle = float(env.get("mrp.routing.workcenter", operationId, "time_cycle_manual"));
  const capacity =
    env.profile.version <= 18 ? float(env.get("mrp.workcenter", workcenterId, "default_capacity")) || 1 : 1;
  const efficiency = float(env.get("mrp.workcenter", workcenterId, "time_efficiency")) || 100;
  return round((Math.ceil(qty / capacity - 1e-9) * cycle * 100) / efficiency);
}

/** Work orders of an order from its BoM operations, then `_link_workorders_and_moves`. */
export function createWorkorders(env: Env, productionId: number): void {
  const p = env.profile;
  const row = mo(env, productionId);
  const bomId = row["bom_id"] as number;
  let cursor = toMs(String(row[p.mrpPlannedStart] || env.now()));
  const ops = env.sortIds("mrp.routing.workcenter", env.get("mrp.bom", bomId, "operation_ids") as number[]);
  const byOperation = new Map<number, number>();
  let last: number | undefined;
  for (const op of ops) {
    const o = env.row("mrp.routing.workcenter", op);
    const minutes = expectedDuration(env, op, o["workcenter_id"] as number, float(row["product_qty"]));
    const end = cursor + minutes * 60_000;
    const id = env.create("mrp.workorder", {
      name: o["name"],
      production_id: productionId,
      workcenter_id: o["workcenter_id"],
      operation_id: op,
      duration_expected: minutes,
      state: p.workorderBlockedState ? "blocked" : "pending",
      [p.version === 16 ? "date_planned_start" : "date_start"]: toDatetime(cursor),
      [p.version === 16 ? "date_planned_finished" : "date_finished"]: toDatetime(end),
    });
    byOperation.set(op, id);
    last = id;
    cursor = end;
  }
  for (const m of [
    ...raws(env, productionId),
    ...(env.get("mrp.production", productionId, "move_finished_ids") as number[]),
  ]) {
    const op = env.get("stock.move", m, "operation_id") as number | false;
    const target = op ? byOperation.get(op) : p.version <= 18 ? last : undefined;
    if (target !== undefined) env.setRaw("stock.move", m, { workorder_id: target });
  }
}

/** `_prepare_timeline_vals(duration, date_start, date_end)`. */
function timelineVals(env: Env, id: number, duration: number, start: string, end: string | false): Vals {
  const w = wo(env, id);
  const expected = float(w["duration_expected"]);
  const loss =
    !expected || duration <= expected ? lossOfType(env, "productive") : lossOfType(env, "performance");
  return {
    workorder_id: id,
    workcenter_id: w["workcenter_id"],
    description: `Time Tracking: ${env.get("res.users", env.uid, "name")}`,
    loss_id: loss,
    date_start: start.slice(0, 19),
    date_end: end ? end.slice(0, 19) : false,
    user_id: env.uid,
  };
}

/** `_compute_duration` / 19 `get_duration` (open timers count up to now). */
export function workorderDuration(env: Env, id: number): number {
  let total = loggedMinutes(env, id);
  if (env.profile.version >= 19) {
    const now = toMs(env.now());
    for (const t of openTimers(env, id))
      total += (now - toMs(String(env.get("mrp.workcenter.productivity", t, "date_start")))) / 60_000;
  }
  return round(total);
}

/** `_set_duration` (inverse of `duration`): logs ending now for an increase, shortened/deleted ones for a decrease. */
export function setDuration(env: Env, id: number, value: number): void {
  const old = round(loggedMinutes(env, id));
  const target = round(value);
  if (target === old) return;
  const expected = float(wo(env, id)["duration_expected"]);
  const end = toMs(env.now());
  const seconds = (minutes: number) => Math.floor(minutes) * 60 + (minutes % 1) * 60;
  if (target > old) {
    const start = end - seconds(target - old) * 1000;
    if (expected >= target || old >= expected)
      env.create(
        "mrp.workcenter.productivity",
        timelineVals(env, id, target, toDatetime(start), toDatetime(end)),
      );
    else {
      const split = end - (target - expected) * 60_000;
      env.create(
        "mrp.workcenter.productivity",
        timelineVals(env, id, expected, toDatetime(start), toDatetime(split)),
      );
      env.create(
        "mrp.workcenter.productivity",
        timelineVals(env, id, target, toDatetime(split), toDatetime(end)),
      );
    }
    return;
  }
  let remove = old - target;
  const logs = env.sortIds(
    "mrp.workcenter.productivity",
    env.search("mrp.workcenter.productivity", [["workorder_id", "=", id]]),
  );
  for (const t of logs) {
    if (remove <= 0) break;
    const d = float(env.get("mrp.workcenter.productivity", t, "duration"));
    if (d <= remove) {
      remove -= d;
      env.unlink("mrp.workcenter.productivity", [t]);
    } else {
      const dateEnd = toMs(String(env.get("mrp.workcenter.productivity", t, "date_end")));
      env.write("mrp.workcenter.productivity", [t], {
        date_start: toDatetime(dateEnd - seconds(d - remove) * 1000),
      });
      break;
    }
  }
}

export function openTimers(env: Env, id: number, userId?: number): number[] {
  const domain: unknown[] = [
    ["workorder_id", "=", id],
    ["date_end", "=", false],
  ];
  if (userId !== undefined) domain.push(["user_id", "=", userId]);
  return env.search("mrp.workcenter.productivity", domain);
}

/** `mrp.workcenter.productivity._close`: ends timers now; time past the expected duration is performance. */
function closeTimers(env: Env, timers: number[]): void {
  const underperforming: number[] = [];
  for (const t of timers) {
    env.write("mrp.workcenter.productivity", [t], { date_end: env.now() });
    const w = env.get("mrp.workcenter.productivity", t, "workorder_id") as number | false;
    if (!w) continue;
    const duration = workorderDuration(env, w);
    const expected = float(wo(env, w)["duration_expected"]);
    if (duration <= expected) continue;
    const endMs = toMs(env.now());
    const productiveEnd = endMs - (duration - expected) * 60_000;
    const start = toMs(String(env.get("mrp.workcenter.productivity", t, "date_start")));
    if (productiveEnd <= start) underperforming.push(t);
    else {
      const copy = env.copyData("mrp.workcenter.productivity", t, { date_start: toDatetime(productiveEnd) });
      underperforming.push(env.create("mrp.workcenter.productivity", copy));
      env.write("mrp.workcenter.productivity", [t], { date_end: toDatetime(productiveEnd) });
    }
  }
  if (underperforming.length)
    env.write("mrp.workcenter.productivity", underperforming, { loss_id: lossOfType(env, "performance") });
}

/** `end_all` (every open log of the work orders) / `end_previous` (the user's newest one). */
export function endTimers(env: Env, ids: number[], all: boolean): void {
  for (const id of ids) {
    const timers = openTimers(env, id, all ? undefined : env.uid);
    closeTimers(env, all ? timers : timers.slice(0, 1));
  }
}

/** The inverse of `mrp.workorder.qty_producing`. */
function setWorkorderQtyProducing(env: Env, id: number, value: number): void {
  const production = wo(env, id)["production_id"] as number;
  if (value === 0 || float(mo(env, production)["qty_producing"]) === value) return;
  env.write("mrp.production", [production], { qty_producing: value });
  setQtyProducing(env, production, env.profile.version <= 17);
}

function qtyRemaining(env: Env, id: number): number {
  const w = wo(env, id);
  const production = w["production_id"] as number;
  return Math.max(round(float(mo(env, production)["product_qty"]) - float(w["qty_produced"])), 0);
}

export function startWorkorders(env: Env, ids: number[]): void {
  const p = env.profile;
  if (
    p.version >= 17 &&
    ids.some((id) => workingState(env, wo(env, id)["workcenter_id"] as number) === "blocked")
  )
    throw new UserError("Please unblock the work center to start the work order.");
  for (const id of ids) {
    if (openTimers(env, id, env.uid).length) continue;
    const state = String(wo(env, id)["state"]);
    if (state === "done" || state === "cancel") {
      if (p.version >= 18)
        throw new UserError("You cannot start a work order that is already done or cancelled");
      continue;
    }
    const production = wo(env, id)["production_id"] as number;
    const serial = env.get("mrp.production", production, "product_tracking") === "serial";
    const producing = float(mo(env, production)["qty_producing"]);
    if (p.version <= 18 && serial && producing === 0) setWorkorderQtyProducing(env, id, 1);
    else if (producing === 0) setWorkorderQtyProducing(env, id, qtyRemaining(env, id));
    env.create(
      "mrp.workcenter.productivity",
      timelineVals(env, id, workorderDuration(env, id), env.now(), false),
    );
    if (mo(env, production)["state"] !== "progress")
      env.setRaw("mrp.production", production, { date_start: env.now() });
    if (wo(env, id)["state"] === "progress") continue;
    const expected = float(wo(env, id)["duration_expected"]);
    const vals: Vals = { state: "progress", date_start: env.now() };
    vals[p.version === 16 ? "date_planned_finished" : "date_finished"] = toDatetime(
      toMs(env.now()) + expected * 60_000,
    );
    env.setRaw("mrp.workorder", id, vals);
    recomputeState(env, production);
  }
}

export function finishWorkorders(env: Env, ids: number[]): void {
  const p = env.profile;
  const open = ids.filter((id) => !["done", "cancel"].includes(String(wo(env, id)["state"])));
  if (p.version >= 18) {
    const moves = open.flatMap((id) =>
      env
        .search("stock.move", [["workorder_id", "=", id]])
        .filter(
          (m) =>
            env.get("stock.move", m, "raw_material_production_id") &&
            env.get("stock.move", m, "picked") !== true,
        )
        .filter((m) => !["done", "cancel"].includes(String(env.get("stock.move", m, "state")))),
    );
    for (const m of moves) {
      const production = env.get("stock.move", m, "raw_material_production_id") as number;
      const producing = float(mo(env, production)["qty_producing"]);
      const available = producing === 0 ? float(mo(env, production)["product_qty"]) : producing;
      setQuantityDone(env, m, round(available * float(env.get("stock.move", m, "unit_factor"))));
    }
    if (moves.length) env.write("stock.move", moves, { picked: true });
  }
  endTimers(env, open, true);
  for (const id of open) {
    const w = wo(env, id);
    const production = w["production_id"] as number;
    const vals: Vals = {
      qty_produced:
        float(w["qty_produced"]) ||
        float(mo(env, production)["qty_producing"]) ||
        float(mo(env, production)["product_qty"]),
      state: "done",
      date_finished: env.now(),
      costs_hour: env.get("mrp.workcenter", w["workcenter_id"] as number, "costs_hour"),
    };
    if (!w["date_start"] || String(w["date_start"]) > env.now()) vals["date_start"] = env.now();
    env.setRaw("mrp.workorder", id, vals);
    readyNextWorkorder(env, production);
    recomputeState(env, production);
  }
}

/** `mrp.workorder.action_cancel`: timers closed, state cancel. */
export function cancelWorkorders(env: Env, ids: number[]): void {
  endTimers(env, ids, true);
  for (const id of ids) env.setRaw("mrp.workorder", id, { state: "cancel" });
}

export function workorderModels(p: Profile): ModelSpec[] {
  const dates: ModelSpec["fields"] =
    p.version === 16
      ? {
          date_planned_start: { type: "datetime", string: "Scheduled Start Date" },
          date_planned_finished: { type: "datetime", string: "Scheduled End Date" },
          date_start: { type: "datetime", string: "Start Date", copy: false },
          date_finished: { type: "datetime", string: "End Date", copy: false },
        }
      : {
          date_start: { type: "datetime", string: "Start", copy: false },
          date_finished: { type: "datetime", string: "End", copy: false },
        };
  return [
    {
      name: "mrp.workorder",
      description: "Work Order",
      order:
        p.version >= 18
          ? "sequence, leave_id, date_start, id"
          : p.version === 17
            ? "leave_id, date_start, id"
            : "id",
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
        working_state: {
          type: "selection",
          string: "Workcenter Status",
          selection: [
            ["normal", "Normal"],
            ["blocked", "Blocked"],
            ["done", "In Progress"],
          ],
          related: "workcenter_id.working_state",
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
        qty_producing: {
          type: "float",
          string: "Currently Produced Quantity",
          compute: (env, row) => float(mo(env, row["production_id"] as number)["qty_producing"]),
          setter: (env, id, value) => setWorkorderQtyProducing(env, id, float(value)),
        },
        qty_remaining: {
          type: "float",
          string: "Quantity To Be Produced",
          compute: (env, row) => qtyRemaining(env, row.id),
        },
        qty_produced: { type: "float", string: "Quantity", copy: false },
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
          compute: (env, row) => workorderDuration(env, row.id),
          setter: (env, id, value) => setDuration(env, id, float(value)),
        },
        costs_hour: { type: "float", string: "Cost per hour" },
        time_ids: {
          type: "one2many",
          string: "Time",
          relation: "mrp.workcenter.productivity",
          inverse: "workorder_id",
          copy: false,
        },
        move_raw_ids: {
          type: "one2many",
          string: "Moves",
          relation: "stock.move",
          inverse: "workorder_id",
          domain: [["raw_material_production_id", "!=", false]],
        },
        ...dates,
      },
      methods: {
        button_start: {
          params: p.version >= 18 ? ["raise_on_invalid_state"] : [],
          fn: ({ env, ids }) => {
            startWorkorders(env, ids);
            return p.version >= 18 ? null : true;
          },
        },
        button_pending: {
          fn: ({ env, ids }) => {
            endTimers(env, ids, false);
            return true;
          },
        },
        button_finish: {
          fn: ({ env, ids }) => {
            finishWorkorders(env, ids);
            return true;
          },
        },
        action_cancel: {
          fn: ({ env, ids }) => {
            cancelWorkorders(env, ids);
            return true;
          },
        },
        button_unblock: {
          fn: ({ env, ids }) => {
            for (const id of ids) {
              const wc = wo(env, id)["workcenter_id"] as number;
              if (workingState(env, wc) !== "blocked") throw new UserError("It has already been unblocked.");
              env.write(
                "mrp.workcenter.productivity",
                env.search("mrp.workcenter.productivity", [
                  ["workcenter_id", "=", wc],
                  ["date_end", "=", false],
                ]),
                { date_end: env.now() },
              );
            }
            return true;
          },
        },
      },
    },
  ];
}
