/**
 * Work centres and their time logs (mrp/models/mrp_workcenter.py, 16–19; sources: README "Conformance"):
 * - `mrp.workcenter.productivity.loss.type` (`loss_type` availability/performance/quality/productive)
 *   and `mrp.workcenter.productivity.loss` (reason: `loss_id` → type, `loss_type` related — stored up to
 *   18, not stored in 19), seeded as `mrp.block_reason0..7`;
 * - `mrp.workcenter.productivity`: `workcenter_id`, `loss_id`, `date_start` (default now) and
 *   `company_id` required; `workorder_id` optional (a downtime without work order is allowed, and
 *   nothing stops logs from overlapping); `duration` stored, computed from the dates in minutes by
 *   `loss_id._convert_to_duration` — wall-clock for productive/performance losses, the work centre
 *   calendar's working time for the others — and 0 while the log is open; `_check_open_time_ids`:
 *   "The Workorder (%s) cannot be started twice!";
 * - `mrp.workcenter.working_state`: the newest open log decides — productive/performance: "done" (in
 *   use), any other loss: "blocked" (17+ `button_start` refuses to start its work orders).
 *
 * The calendar is Odoo's default "Standard 40 hours/week" (resource/models/resource.py
 * `_attendance_ids_default`: Monday–Friday 08:00–12:00 and 13:00–17:00), evaluated in UTC (the
 * simulator's users and company have no other time zone); no leaves.
 */
import { UserError, ValidationError } from "../errors.js";
import type { Env, ModelSpec } from "../orm.js";
import type { Profile } from "../profiles.js";

const float = (v: unknown) => (typeof v === "number" ? v : 0);

export const LOSS_TYPES = [
  ["availability", "Availability"],
  ["performance", "Performance"],
  ["quality", "Quality"],
  ["productive", "Productive"],
] as const;

const toMs = (dt: string) => Date.parse(`${dt.slice(0, 19).replace(" ", "T")}Z`);
export const toDatetime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");

/** Working hours of the standard 40 h calendar between two instants (UTC). */
export function workingHours(startMs: number, endMs: number): number {
  if (endMs <= startMs) return 0;
  let total = 0;
  const day = new Date(startMs);
  day.setUTCHours(0, 0, 0, 0);
  for (let d = day.getTime(); d < endMs; d += 86_400_000) {
    const weekday = new Date(d).getUTCDay(); // 0 Sunday
    if (weekday === 0 || weekday === 6) continue;
    for (const [from, to] of [
      [8, 12],
      [13, 17],
    ] as const) {
      const a = Math.max(startMs, d + from * 3_600_000);
      const b = Math.min(endMs, d + to * 3_600_000);
      if (b > a) total += (b - a) / 3_600_000;
    }
  }
  return total;
}

/** `mrp.workcenter.productivity.loss._convert_to_duration` (minutes, rounded to 2 decimals). */
export function logDuration(env: Env, logId: number): number {
  const log = env.row("mrp.workcenter.productivity", logId);
  if (!log["date_start"] || !log["date_end"]) return 0;
  const start = toMs(String(log["date_start"]));
  const end = toMs(String(log["date_end"]));
  const lossType = env.get("mrp.workcenter.productivity.loss", log["loss_id"] as number, "loss_type");
  const minutes =
    lossType === "productive" || lossType === "performance"
      ? (end - start) / 60_000
      : workingHours(start, end) * 60;
  return Math.round(Math.max(0, minutes) * 100) / 100;
}

function recomputeDurations(env: Env, ids: number[]): void {
  for (const id of ids) {
    const d = logDuration(env, id);
    if (env.get("mrp.workcenter.productivity", id, "duration") !== d)
      env.setRaw("mrp.workcenter.productivity", id, { duration: d });
  }
}

/** The newest open log of a work centre (search on `date_end = False`, order `id desc`, limit 1). */
export function workingState(env: Env, workcenterId: number): "normal" | "blocked" | "done" {
  const [open] = env.search(
    "mrp.workcenter.productivity",
    [
      ["workcenter_id", "=", workcenterId],
      ["date_end", "=", false],
    ],
    { limit: 1 },
  );
  if (open === undefined) return "normal";
  const loss = env.get("mrp.workcenter.productivity", open, "loss_id") as number;
  const type = env.get("mrp.workcenter.productivity.loss", loss, "loss_type");
  return type === "productive" || type === "performance" ? "done" : "blocked";
}

export function workcenterModels(p: Profile): ModelSpec[] {
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
          compute: (env, row) => workingState(env, row.id),
        },
        time_ids: {
          type: "one2many",
          string: "Time Logs",
          relation: "mrp.workcenter.productivity",
          inverse: "workcenter_id",
        },
        order_ids: {
          type: "one2many",
          string: "Orders",
          relation: "mrp.workorder",
          inverse: "workcenter_id",
        },
      },
      methods: {
        // mrp_workcenter.py `unblock`: closes every open log of the work centre
        unblock: {
          fn: ({ env, ids }) => {
            if (ids.length !== 1)
              throw new ValidationError(`Expected singleton: mrp.workcenter(${ids.join(", ")})`);
            const [id] = ids as [number];
            if (workingState(env, id) !== "blocked") throw new UserError("It has already been unblocked.");
            const open = env.search("mrp.workcenter.productivity", [
              ["workcenter_id", "=", id],
              ["date_end", "=", false],
            ]);
            env.write("mrp.workcenter.productivity", open, { date_end: env.now() });
            return p.version === 16 ? { type: "ir.actions.client", tag: "reload" } : true;
          },
        },
      },
    },
    {
      name: "mrp.workcenter.productivity.loss.type",
      description: "MRP Workorder productivity losses",
      recName: "loss_type",
      fields: {
        loss_type: {
          type: "selection",
          string: "Category",
          selection: LOSS_TYPES,
          default: "availability",
          required: true,
        },
      },
      displayName: (_env, row) => {
        const t = String(row["loss_type"]);
        return t.charAt(0).toUpperCase() + t.slice(1);
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
        loss_id: {
          type: "many2one",
          string: "Category",
          relation: "mrp.workcenter.productivity.loss.type",
        },
        loss_type: {
          type: "selection",
          string: "Effectiveness Category",
          selection: LOSS_TYPES,
          related: "loss_id.loss_type",
        },
      },
    },
    {
      name: "mrp.workcenter.productivity",
      description: "Workcenter Productivity Log",
      order: "id desc",
      recName: "loss_id",
      fields: {
        workcenter_id: {
          type: "many2one",
          string: "Work Center",
          relation: "mrp.workcenter",
          required: true,
        },
        company_id: {
          type: "many2one",
          string: "Company",
          relation: "res.company",
          required: true,
          default: (env: Env) => env.db.xmlIds.get("base.main_company")?.id ?? false,
        },
        workorder_id: { type: "many2one", string: "Work Order", relation: "mrp.workorder" },
        production_id: {
          type: "many2one",
          string: "Manufacturing Order",
          relation: "mrp.production",
          related: "workorder_id.production_id",
          readonly: true,
        },
        user_id: { type: "many2one", string: "User", relation: "res.users", default: (env: Env) => env.uid },
        loss_id: {
          type: "many2one",
          string: "Loss Reason",
          relation: "mrp.workcenter.productivity.loss",
          required: true,
          ondelete: "restrict",
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
        duration: { type: "float", string: "Duration", readonly: true },
      },
      afterCreate: (env, ids) => recomputeDurations(env, ids),
      afterWrite: (env, ids, vals) => {
        if ("date_start" in vals || "date_end" in vals || "loss_id" in vals || "workcenter_id" in vals)
          recomputeDurations(env, ids);
      },
      constrain: (env, ids) => {
        const workorders = new Set(
          ids
            .map((id) => env.get("mrp.workcenter.productivity", id, "workorder_id"))
            .filter(Boolean) as number[],
        );
        for (const wo of workorders) {
          const open = env.search("mrp.workcenter.productivity", [
            ["workorder_id", "=", wo],
            ["date_end", "=", false],
          ]);
          const perUser = new Map<unknown, number>();
          for (const t of open) {
            const u = env.get("mrp.workcenter.productivity", t, "user_id");
            perUser.set(u, (perUser.get(u) ?? 0) + 1);
          }
          if ([...perUser.values()].some((n) => n > 1))
            throw new ValidationError(
              `The Workorder (${env.displayName("mrp.workorder", wo)}) cannot be started twice!`,
            );
        }
      },
    },
  ];
}

/** A loss of a category (`mrp.workcenter.productivity.loss` search on `loss_type`, limit 1). */
export function lossOfType(env: Env, type: "productive" | "performance"): number {
  const [id] = env.search("mrp.workcenter.productivity.loss", [["loss_type", "=", type]], { limit: 1 });
  if (id === undefined)
    throw new UserError(
      type === "productive"
        ? "You need to define at least one productivity loss in the category 'Productivity'. Create one from the Manufacturing app, menu: Configuration / Productivity Losses."
        : "You need to define at least one productivity loss in the category 'Performance'. Create one from the Manufacturing app, menu: Configuration / Productivity Losses.",
    );
  return id;
}

/** Total of the stored durations of a work order's logs. */
export function loggedMinutes(env: Env, workorderId: number): number {
  return env
    .search("mrp.workcenter.productivity", [["workorder_id", "=", workorderId]])
    .reduce((s, t) => s + float(env.get("mrp.workcenter.productivity", t, "duration")), 0);
}
