/**
 * Exponential backoff with jitter, and an abortable sleep: the one retry schedule of the SDK
 * (publish retries, the consumer's nak delays and pull retries).
 */
import { ConfigError } from "./errors.js";

/** Exponential backoff with jitter: `min(maxDelayMs, initialDelayMs * multiplier^(n-1))`, then ± jitter. */
export interface BackoffPolicy {
  /** Delay after the first failure. @default 100 */
  initialDelayMs: number;
  /** Upper bound of one delay (before jitter). @default 5000 */
  maxDelayMs: number;
  /** Growth factor per failure. @default 2 */
  multiplier: number;
  /** Fraction of the delay that is randomised, 0..1 (0.2 = ±20 %). @default 0.2 */
  jitter: number;
}

/** The delay after failure number `failure` (1-based) under `policy`, jittered. */
export function backoffDelay(policy: BackoffPolicy, failure: number): number {
  const n = Math.max(1, failure);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (n - 1));
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + Math.random() * 2 * spread));
}

/** Validates a backoff policy; `where` names the option in errors. */
export function parseBackoff(
  value: Partial<BackoffPolicy> | undefined,
  defaults: BackoffPolicy,
  where: string,
): BackoffPolicy {
  const p = { ...defaults, ...dropUndefined(value ?? {}) };
  const check = (key: keyof BackoffPolicy, ok: boolean, what: string) => {
    if (!ok) throw new ConfigError(`${where}.${key}`, `${what} (got ${String(p[key])})`);
  };
  check("initialDelayMs", Number.isFinite(p.initialDelayMs) && p.initialDelayMs >= 0, "must be >= 0");
  check(
    "maxDelayMs",
    Number.isFinite(p.maxDelayMs) && p.maxDelayMs >= p.initialDelayMs,
    "must be >= initialDelayMs",
  );
  check("multiplier", Number.isFinite(p.multiplier) && p.multiplier >= 1, "must be >= 1");
  check("jitter", p.jitter >= 0 && p.jitter <= 1, "must be between 0 and 1");
  return p;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Waits `ms`; resolves early (never rejects) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
