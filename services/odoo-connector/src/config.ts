/**
 * The Odoo connector's settings: env variables (or the THREADLINE_CONFIG file, same keys), zod-
 * validated, errors naming the variable. The API key is a secret: read like any value, never logged.
 */
import { z } from "zod";
import { BaseServiceConfig, ConfigError } from "../../../streams/src/index.js";
import type { OdooClientOptions } from "./odoo/options.js";

const positiveInt = z.coerce.number().int().positive();
/** A token → token map, from the config file (a mapping) or an env variable (JSON). */
const tokenMap = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v; // refused below as "expected record", naming the variable
    }
  },
  z.record(z.string().min(1), z.string().min(1)),
);

/** Where Odoo is and how hard to push it. */
export const OdooSettings = z.object({
  /** Base URL, e.g. https://erp.example.com (no path). */
  ODOO_URL: z.url({ protocol: /^https?$/ }),
  ODOO_DB: z.string().min(1),
  ODOO_LOGIN: z.string().min(1),
  /** An API key of ODOO_LOGIN (Preferences → Account Security), or its password. */
  ODOO_API_KEY: z.string().min(1),
  /** auto: JSON-2 on Odoo 19+, JSON-RPC below. @default auto */
  ODOO_PROTOCOL: z.enum(["auto", "jsonrpc", "json2"]).default("auto"),
  /** Requests in flight at most, and postings run at once per durable. @default 4 */
  ODOO_CONCURRENCY: positiveInt.default(4),
  /**
   * Requests started per second at most. The default assumes an Odoo with a few HTTP workers
   * (`--workers` 4 or more) that the connector shares with its users: 50 short RPC calls a second
   * keep one or two of them busy. @default 50
   */
  ODOO_RATE_PER_SECOND: positiveInt.default(50),
  /** Per request. @default 30000 */
  ODOO_TIMEOUT_MS: positiveInt.default(30_000),
  /** Attempts per call when a retry is safe (the first included). @default 5 */
  ODOO_RETRY_ATTEMPTS: positiveInt.default(5),
  /** Consecutive failed calls that open the circuit breaker (consumers pause). @default 5 */
  ODOO_BREAKER_FAILURES: positiveInt.default(5),
  /** How long the breaker stays open before one probe call; doubled after each failed probe. @default 2000 */
  ODOO_BREAKER_OPEN_MS: positiveInt.default(2_000),
  /** The longest the breaker stays open between probes (one call per this while Odoo is down). @default 30000 */
  ODOO_BREAKER_MAX_OPEN_MS: positiveInt.default(30_000),
});
export type OdooSettings = z.infer<typeof OdooSettings>;

/** Machines and lines → Odoo work centres (the connector and `threadline odoo reconcile` read them alike). */
export const EquipmentSettings = z.object({
  /**
   * ISA-95 line token, or `line/machine`, → Odoo work center code. A machine's own work centre takes
   * its running time and downtime; a machine without one uses its line's. Orders are routed to lines
   * by the work centres of their work orders (the inverse, or LINE_BY_WORKCENTER).
   */
  WORKCENTER_BY_LINE: tokenMap.default({}),
  /** Odoo work center code → line token (orders' equipment). Default: the inverse of WORKCENTER_BY_LINE. */
  LINE_BY_WORKCENTER: tokenMap.optional(),
});

export const MasterDataSettings = z.object({
  /**
   * The site's lot-name convention, a regular expression lots are checked against (the master-data
   * check's lot_convention). Unset: lots are not checked.
   */
  LOT_PATTERN: z
    .string()
    .min(1)
    .transform((v, ctx) => {
      try {
        return new RegExp(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .optional(),
  /** The master-data checks run at start, then this often (0: at start only). @default 3600000 */
  MASTERDATA_CHECK_INTERVAL_MS: z.coerce.number().int().nonnegative().default(3_600_000),
});

export const OdooConnectorConfig = BaseServiceConfig.extend(OdooSettings.shape)
  .extend(EquipmentSettings.shape)
  .extend(MasterDataSettings.shape)
  .extend({
    /**
     * Replicas: the one that owns the lease `odoo-connector.<ODOO_DB>` runs the inbound polling,
     * the master-data checks, the reconciliation and the shift closes; another takes over this long
     * after the owner stopped renewing it (killed, paused, cut from NATS). @default 15000
     */
    LEASE_TTL_MS: z.coerce.number().int().min(3_000).max(300_000).default(15_000),
    /** Inbound: each model is re-read this often (and at once on a webhook). @default 5000 */
    SYNC_POLL_INTERVAL_MS: positiveInt.default(5_000),
    /** Inbound: master data (units, products, BoMs, …) is re-read this often (and at once on a webhook). @default 60000 */
    MASTERDATA_POLL_INTERVAL_MS: positiveInt.default(60_000),
    /** Inbound: rows whose write_date is this much older than the cursor are re-read. @default 60000 */
    SYNC_OVERLAP_MS: positiveInt.default(60_000),
    /** Secret path token of the webhook route `POST /odoo/webhook/<token>`; no webhook route without it. */
    WEBHOOK_TOKEN: z
      .string()
      .min(24, "must be at least 24 characters (it is the webhook's only credential)")
      .optional(),
    /**
     * When an order is closed in Odoo (button_mark_done, at most one backorder): order_end — when the
     * counting point moves to another order, the planned quantity is reached (CLOSE_AT_PLANNED_QUANTITY)
     * or an operator says so; lot_change — also at each lot change; shift — also at each CLOSE_SHIFTS
     * boundary; operator — only when an operator says so (`threadline odoo close`). A lot change of a
     * lot-tracked product always closes (Odoo holds one produced lot per order). @default order_end
     */
    CLOSE_POLICY: z.enum(["order_end", "lot_change", "shift", "operator"]).default("order_end"),
    /** Shift boundaries of the shift close policy, `HH:MM` in UTC, comma-separated, e.g. `06:00,14:00,22:00`. */
    CLOSE_SHIFTS: z
      .string()
      .regex(
        /^([01]\d|2[0-3]):[0-5]\d(,([01]\d|2[0-3]):[0-5]\d)*$/,
        "must be HH:MM times, comma-separated (UTC)",
      )
      .optional(),
    /** Close an order as soon as the counting point reaches its planned quantity. @default false */
    CLOSE_AT_PLANNED_QUANTITY: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    /** What an operation type's `create_backorder: ask` means at a close. @default backorder */
    ODOO_BACKORDER_ON_ASK: z.enum(["backorder", "close"]).default("backorder"),
    /** The time an order's stock moves carry: the shop floor's (event) or Odoo's at posting. @default event */
    ODOO_MOVE_DATE: z.enum(["event", "posting"]).default("event"),
    /** Where rejected units are scrapped to (full location name); Odoo's default scrap location when absent. */
    ODOO_SCRAP_LOCATION: z.string().min(1).default("Virtual Locations/Scrap"),
    /** Reconcile the last RECONCILE_WINDOW_MS every RECONCILE_INTERVAL_MS (0: never). @default 0 */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().nonnegative().default(0),
    RECONCILE_WINDOW_MS: positiveInt.default(24 * 3_600_000),
  });
export type OdooConnectorConfig = z.infer<typeof OdooConnectorConfig>;

/** The Odoo client's options from the settings. */
export function odooClientOptions(s: OdooSettings): OdooClientOptions {
  if (s.ODOO_BREAKER_MAX_OPEN_MS < s.ODOO_BREAKER_OPEN_MS)
    throw new ConfigError(
      "ODOO_BREAKER_MAX_OPEN_MS",
      `must be at least ODOO_BREAKER_OPEN_MS (${s.ODOO_BREAKER_OPEN_MS}), got ${s.ODOO_BREAKER_MAX_OPEN_MS}`,
    );
  return {
    url: s.ODOO_URL,
    db: s.ODOO_DB,
    login: s.ODOO_LOGIN,
    apiKey: s.ODOO_API_KEY,
    protocol: s.ODOO_PROTOCOL,
    concurrency: s.ODOO_CONCURRENCY,
    ratePerSecond: s.ODOO_RATE_PER_SECOND,
    timeoutMs: s.ODOO_TIMEOUT_MS,
    retry: { attempts: s.ODOO_RETRY_ATTEMPTS },
    breaker: {
      failureThreshold: s.ODOO_BREAKER_FAILURES,
      openMs: s.ODOO_BREAKER_OPEN_MS,
      maxOpenMs: s.ODOO_BREAKER_MAX_OPEN_MS,
    },
  };
}
