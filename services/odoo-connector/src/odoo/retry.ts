/**
 * When a failed request is tried again, and after how long.
 *
 * Only transient failures are retried, and only when that is safe: the call is idempotent (a read,
 * or the caller says so), or the failure proves nothing was applied — the connection was refused,
 * PostgreSQL refused the transaction (Odoo rolled it back after its own retries), a proxy answered
 * 502/503, the server answered 429. A timeout, a 504 or a connection reset on a write may have been
 * applied: that error goes back to the caller with `ambiguous: true`. Permanent and auth errors are
 * never retried.
 */
import { type BackoffPolicy, backoffDelay } from "../../../../streams/src/index.js";
import { CIRCUIT_OPEN, type OdooError } from "./errors.js";

/** Model methods that change nothing: safe to send twice. */
export const READ_METHODS: ReadonlySet<string> = new Set([
  "search",
  "search_read",
  "search_count",
  "read",
  "read_group",
  "fields_get",
  "name_search",
  "name_get",
  "default_get",
  "exists",
  "check_access_rights",
  "has_access",
  "context_get",
  "web_search_read",
  "web_read",
]);

export function isIdempotent(method: string, override?: boolean): boolean {
  return override ?? READ_METHODS.has(method);
}

/** Whether `err` may be retried for a call that is (or is not) idempotent. */
export function isRetryable(err: OdooError, idempotent: boolean): boolean {
  if (err.kind !== "transient" || err.odooName === CIRCUIT_OPEN) return false;
  return idempotent || !err.ambiguous;
}

/** Never wait longer than this for one retry, whatever `Retry-After` says. */
export const MAX_RETRY_AFTER_MS = 120_000;

/** The wait before retry number `failure` (1-based): jittered backoff, at least the server's `Retry-After`. */
export function retryDelay(policy: BackoffPolicy, failure: number, err: OdooError): number {
  const backoff = backoffDelay(policy, failure);
  return err.retryAfterMs === undefined
    ? backoff
    : Math.max(backoff, Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** A short label for the retries metric: `serialization_failure`, `http_502`, `timeout`, … */
export function retryReason(err: OdooError): string {
  const short = err.odooName.slice(err.odooName.lastIndexOf(".") + 1);
  if (err.odooName.startsWith("http.")) return `http_${err.httpStatus ?? short}`;
  return short
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .toLowerCase();
}
