/** The Odoo client's options, their defaults (one literal) and their validation. */
import type { Registry } from "prom-client";
import {
  type BackoffPolicy,
  ConfigError,
  defaultRegistry,
  type Logger,
  parseBackoff,
  silentLogger,
} from "../../../../streams/src/index.js";

export interface OdooClientOptions {
  /** Base URL of the Odoo server, e.g. `https://erp.example.com` (a path prefix is kept). */
  url: string;
  /** Database name (JSON-RPC: every call; JSON-2: the `X-Odoo-Database` header). */
  db: string;
  /** Login of the user the connector acts as (a dedicated bot user is recommended). */
  login: string;
  /** API key (preferred; Odoo 14+) or password. Never logged. JSON-2 accepts API keys only. */
  apiKey: string;
  /** auto: JSON-2 on 19+, JSON-RPC below. @default "auto" */
  protocol?: "auto" | "jsonrpc" | "json2";
  /** Per request. @default 30000 */
  timeoutMs?: number;
  /** Requests in flight at most (Odoo publishes no limit; workers are few). @default 4 */
  concurrency?: number;
  /** Requests started per second at most (token bucket of capacity 1: no bursts). @default 20 */
  ratePerSecond?: number;
  retry?: {
    /** Tries per call, the first included; 1 disables retries. @default 5 */
    attempts?: number;
    /** @default 200 */
    initialDelayMs?: number;
    /** @default 10000 */
    maxDelayMs?: number;
    /** @default 2 */
    multiplier?: number;
    /** Fraction of each delay that is randomised, 0..1. @default 0.2 */
    jitter?: number;
  };
  breaker?: {
    /** Consecutive calls failed for a transient reason (after retries) that open the breaker. @default 5 */
    failureThreshold?: number;
    /** How long the breaker stays open before the first probe call is let through. @default 2000 */
    openMs?: number;
    /** Each failed probe doubles the open time, up to this. @default 30000 */
    maxOpenMs?: number;
  };
  /** @default a silent logger */
  logger?: Logger;
  /** Where the client's metrics are registered. @default the process registry of streams/src/metrics.ts */
  registry?: Registry;
}

export interface ResolvedOptions {
  url: string;
  db: string;
  login: string;
  apiKey: string;
  protocol: "auto" | "jsonrpc" | "json2";
  timeoutMs: number;
  concurrency: number;
  ratePerSecond: number;
  retry: BackoffPolicy & { attempts: number };
  breaker: { failureThreshold: number; openMs: number; maxOpenMs: number };
  logger: Logger;
  registry: Registry;
}

export const DEFAULTS = {
  protocol: "auto",
  timeoutMs: 30_000,
  concurrency: 4,
  ratePerSecond: 20,
  retry: { attempts: 5, initialDelayMs: 200, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2 },
  breaker: { failureThreshold: 5, openMs: 2_000, maxOpenMs: 30_000 },
} as const;

const where = "odoo client options";

export function parseOptions(o: OdooClientOptions): ResolvedOptions {
  const fail = (key: string, detail: string): never => {
    throw new ConfigError(key, `${detail} (${where})`);
  };
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    return fail("url", `is not a URL: ${JSON.stringify(o.url)}; expected e.g. https://erp.example.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    fail("url", `must be http:// or https:// (got ${url.protocol})`);
  if (url.username || url.password) fail("url", "must not carry credentials: give them as login and apiKey");
  if (url.search || url.hash) fail("url", "must not have a query or fragment");
  const base = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;

  for (const key of ["db", "login", "apiKey"] as const)
    if (typeof o[key] !== "string" || o[key].trim() === "") fail(key, "is required and must not be empty");

  const protocol = o.protocol ?? DEFAULTS.protocol;
  if (!["auto", "jsonrpc", "json2"].includes(protocol))
    fail("protocol", `must be auto, jsonrpc or json2 (got ${String(protocol)})`);

  const int = (key: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min) fail(key, `must be an integer >= ${min} (got ${String(v)})`);
    return v;
  };
  const ratePerSecond = o.ratePerSecond ?? DEFAULTS.ratePerSecond;
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0)
    fail("ratePerSecond", `must be a number > 0 (got ${String(ratePerSecond)})`);

  const { attempts, ...backoff } = o.retry ?? {};
  const { attempts: _, ...backoffDefaults } = DEFAULTS.retry;
  return {
    url: base,
    db: o.db,
    login: o.login,
    apiKey: o.apiKey,
    protocol,
    timeoutMs: int("timeoutMs", o.timeoutMs, DEFAULTS.timeoutMs, 1),
    concurrency: int("concurrency", o.concurrency, DEFAULTS.concurrency, 1),
    ratePerSecond,
    retry: {
      ...parseBackoff(backoff, backoffDefaults, "retry"),
      attempts: int("retry.attempts", attempts, DEFAULTS.retry.attempts, 1),
    },
    breaker: {
      failureThreshold: int(
        "breaker.failureThreshold",
        o.breaker?.failureThreshold,
        DEFAULTS.breaker.failureThreshold,
        1,
      ),
      openMs: int("breaker.openMs", o.breaker?.openMs, DEFAULTS.breaker.openMs, 1),
      maxOpenMs: int(
        "breaker.maxOpenMs",
        o.breaker?.maxOpenMs,
        Math.max(DEFAULTS.breaker.maxOpenMs, o.breaker?.openMs ?? 0),
        o.breaker?.openMs ?? DEFAULTS.breaker.openMs,
      ),
    },
    logger: o.logger ?? silentLogger,
    registry: o.registry ?? defaultRegistry,
  };
}
