/**
 * The orchestrator's settings: env variables (or the THREADLINE_CONFIG file, same keys), zod-validated,
 * each error naming its variable. Maps are JSON in env variables, mappings in the file.
 */
import { z } from "zod";
import { BaseServiceConfig, parseDuration } from "../../../streams/src/index.js";

const positiveInt = z.coerce.number().int().positive();
/** JSON in an env variable, a value in the config file. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v; // refused by the schema, naming the variable
    }
  }, schema);

const STEPS = [
  "RELEASED",
  "MATERIAL_CHECK",
  "DISPATCHING",
  "DISPATCHED",
  "RUNNING",
  "COMPLETED",
  "CLOSED",
] as const;
/** A duration as `45m`, `2h`, `30s`, `1d`. */
const duration = z.string().refine((v) => {
  try {
    return parseDuration(v) > 0;
  } catch {
    return false;
  }
}, "a duration such as 30s, 45m, 2h or 1d");
const budgets = z.partialRecord(z.enum(STEPS), duration);

/** The budgets of the steps: defaults, overridden per line, then per product (the most specific wins). */
export const StepBudgets = z
  .object({
    default: budgets.default({}),
    lines: z.record(z.string().min(1), budgets).default({}),
    products: z.record(z.string().min(1), budgets).default({}),
  })
  .strict();
export type StepBudgets = z.infer<typeof StepBudgets>;

/** Budgets when STEP_BUDGETS says nothing of a step: what a plant would call stuck. */
export const DEFAULT_BUDGETS: Readonly<Record<(typeof STEPS)[number], string>> = {
  RELEASED: "5m",
  MATERIAL_CHECK: "30m",
  DISPATCHING: "5m",
  DISPATCHED: "1h",
  RUNNING: "24h",
  COMPLETED: "4h",
  CLOSED: "30d",
};

export const OrchestratorConfig = BaseServiceConfig.extend({
  /** The site whose orders it runs (the connector's SITE). */
  SITE: z.string().min(1),
  /**
   * Line → the machines that take the order write (their bridge mapping declares `commands.setOrder`).
   * A line not listed is dispatched by announcement only (OrderDispatched, for its HMI or MES).
   * @default {}
   */
  DISPATCH_MACHINES: json(z.record(z.string().min(1), z.array(z.string().min(1)))).default({}),
  /**
   * Odoo work centre code → line, where the release's own line (the connector's WORKCENTER_BY_LINE)
   * should not be used. @default {} (the release's line)
   */
  LINE_BY_WORKCENTER: json(z.record(z.string().min(1), z.string().min(1))).default({}),
  /**
   * The lot a lot-tracked product's order produces into when Odoo has not named one: `{order}` is the
   * order reference with `/` as `-` (WH/MO/00042 → LOT-WH-MO-00042). The connector creates it in Odoo
   * with the first count. @default "LOT-{order}"
   */
  LOT_FORMAT: z.string().includes("{order}", { message: "must contain {order}" }).default("LOT-{order}"),
  /** Product codes whose plan asks a first-article inspection when the order starts running. @default [] */
  FIRST_ARTICLE_PRODUCTS: json(z.array(z.string().min(1))).default([]),
  /** Per-step time budgets (`{"default":{"MATERIAL_CHECK":"45m"},"lines":{…},"products":{…}}`). @default DEFAULT_BUDGETS */
  STEP_BUDGETS: json(StepBudgets).default({ default: {}, lines: {}, products: {} }),
  /** A line stopped longer than this makes its orders wait (LINE_DOWN). @default 900000 (15 min) */
  LINE_DOWN_AFTER_MS: positiveInt.default(900_000),
  /** How often budgets, line stops and unconfirmed dispatches are looked at. @default 5000 */
  SWEEP_INTERVAL_MS: positiveInt.default(5_000),
  /**
   * Of the replicas, the one holding the lease `lease.production-orchestrator.<site>` (in
   * THREADLINE_ORDERS) is the active one; an active that stopped renewing keeps it this long, so a
   * standby takes over within it. @default 15000
   */
  LEASE_TTL_MS: z.coerce.number().int().min(300).max(600_000).default(15_000),
  /** A dispatch not confirmed is sent again after this. @default 30000 */
  DISPATCH_RETRY_MS: positiveInt.default(30_000),
  /** How long a machine command waits for the bridge's answer (its worst case is about 15 s). @default 20000 */
  COMMAND_TIMEOUT_MS: positiveInt.default(20_000),
});
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;

/** The budget of a step for an order on `line` making `product` (ms), or undefined when none applies. */
export function budgetOf(
  budgets: StepBudgets,
  step: string,
  line: string | null,
  product: string,
): number | undefined {
  const key = step as (typeof STEPS)[number];
  if (!STEPS.includes(key)) return undefined;
  const text =
    budgets.products[product]?.[key] ??
    (line !== null ? budgets.lines[line]?.[key] : undefined) ??
    budgets.default[key] ??
    DEFAULT_BUDGETS[key];
  return parseDuration(text);
}
