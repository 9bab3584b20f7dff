/**
 * What can go wrong talking to Odoo, and what it means for the caller.
 *
 * `OdooError` is one failed call: Odoo's own exception (its dotted Python name and message), an HTTP
 * answer that is not Odoo's (a proxy page), or a transport failure. `kind` says what to do next
 * (retry later, fix the data, fix the credentials) and `ambiguous` whether the call may have been
 * applied anyway. `OdooConnectError` is a failed `OdooClient.connect()`, with one stable code per cause.
 *
 * Codes follow the catalogue's prefix rule: an exception Odoo raised is `ODOO_<NAME>` (after its Python
 * class, `odooExceptionCode`); a failure the connector itself names (a timeout, its circuit breaker, a
 * refused connection) is `CONNECTOR_<…>`.
 *
 * The classification follows Odoo's source: odoo/exceptions.py (UserError family, AccessDenied),
 * odoo/service/model.py (`retrying()` retries LockNotAvailable, SerializationFailure and
 * DeadlockDetected 5 times, then re-raises after rolling back; IntegrityErrors become
 * ValidationErrors), odoo/http.py (JSON-RPC error envelope, code 100 for SessionExpiredException;
 * JSON-2 HTTP statuses) and addons/rpc/controllers/json2.py (19.0).
 */
import {
  type CatalogedErrorCode,
  type ErrorCode,
  odooExceptionCode,
  ThreadlineError,
} from "../../../../contracts/src/index.js";

/** transient: try again later; permanent: the request itself is wrong; auth: the credentials are. */
export type OdooErrorKind = "transient" | "permanent" | "auth";

export interface OdooErrorInit {
  /** Python class (`odoo.exceptions.ValidationError`) or a client-side name (`timeout`, `http.502`, `circuit-open`). */
  odooName: string;
  odooMessage: string;
  kind: OdooErrorKind;
  ambiguous: boolean;
  httpStatus?: number;
  /** The call that failed, when there is one. */
  model?: string;
  method?: string;
  /** Delay the server asked for (HTTP 429 `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** Odoo's exception `arguments`, when Odoo sent them. */
  odooArguments?: unknown[];
  /** Odoo's traceback text (`debug`), when it sent one. */
  debug?: string;
  cause?: unknown;
}

/**
 * One call to Odoo that failed. Odoo's name and message are kept verbatim; `code` is
 * {@link odooErrorCode} of the name (`ODOO_VALIDATION_ERROR`, `CONNECTOR_ODOO_TIMEOUT`, …).
 */
export class OdooError extends ThreadlineError {
  readonly odooName: string;
  readonly odooMessage: string;
  readonly kind: OdooErrorKind;
  /**
   * The request may have been applied (timeout, 504, connection reset after sending): retrying a
   * non-idempotent call could apply it twice. Check the state in Odoo before re-applying.
   */
  readonly ambiguous: boolean;
  readonly httpStatus?: number;
  readonly model?: string;
  readonly method?: string;
  readonly retryAfterMs?: number;
  readonly odooArguments?: unknown[];
  readonly debug?: string;

  constructor(init: OdooErrorInit) {
    super(
      odooErrorCode(init.odooName),
      describe(init),
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.odooName = init.odooName;
    this.odooMessage = init.odooMessage;
    this.kind = init.kind;
    this.ambiguous = init.ambiguous;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
    if (init.model !== undefined) this.model = init.model;
    if (init.method !== undefined) this.method = init.method;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.odooArguments !== undefined) this.odooArguments = init.odooArguments;
    if (init.debug !== undefined) this.debug = init.debug;
  }

  /** The same failure attributed to a call (`model.method`). */
  forCall(model: string, method: string): OdooError {
    return new OdooError({ ...this.init(), model, method });
  }

  private init(): OdooErrorInit {
    const init: OdooErrorInit = {
      odooName: this.odooName,
      odooMessage: this.odooMessage,
      kind: this.kind,
      ambiguous: this.ambiguous,
      cause: this.cause,
    };
    if (this.httpStatus !== undefined) init.httpStatus = this.httpStatus;
    if (this.model !== undefined) init.model = this.model;
    if (this.method !== undefined) init.method = this.method;
    if (this.retryAfterMs !== undefined) init.retryAfterMs = this.retryAfterMs;
    if (this.odooArguments !== undefined) init.odooArguments = this.odooArguments;
    if (this.debug !== undefined) init.debug = this.debug;
    return init;
  }
}

function describe(init: OdooErrorInit): string {
  const where = init.model && init.method ? `${init.model}.${init.method}: ` : "";
  const what = `${init.odooName}: ${init.odooMessage.trim()}`;
  const next =
    init.odooName === CIRCUIT_OPEN
      ? ""
      : init.kind === "auth"
        ? " (Odoo refused the credentials: check the login and API key of the connector)"
        : init.kind === "transient" && init.ambiguous
          ? " (the request may have been applied: check Odoo before re-applying it)"
          : init.kind === "transient"
            ? " (nothing was applied: safe to try again later)"
            : "";
  return `${where}${what}${next}`;
}

/** Client-side names (the `odooName` of failures that are not Odoo exceptions). */
export const CIRCUIT_OPEN = "circuit-open";
export const TIMEOUT = "timeout";
export const CLOSED = "closed";
export const SESSION_EXPIRED = "odoo.http.SessionExpiredException";
export const ACCESS_DENIED = "odoo.exceptions.AccessDenied";

/**
 * The codes of the client-side names: failures the connector names itself, before or without an
 * answer from Odoo (the `odooName`s of http.ts's transport failures, the breaker, a closed client).
 */
const CLIENT_SIDE_CODES = {
  [CIRCUIT_OPEN]: "CONNECTOR_CIRCUIT_OPEN",
  [TIMEOUT]: "CONNECTOR_ODOO_TIMEOUT",
  [CLOSED]: "CONNECTOR_CLOSED",
  "connection-refused": "CONNECTOR_CONNECTION_REFUSED",
  dns: "CONNECTOR_DNS_FAILED",
  unreachable: "CONNECTOR_HOST_UNREACHABLE",
  "connect-timeout": "CONNECTOR_CONNECT_TIMEOUT",
  "connection-reset": "CONNECTOR_CONNECTION_RESET",
  "client-error": "CONNECTOR_CLIENT_ERROR",
} as const satisfies Record<string, CatalogedErrorCode>;

/**
 * The code of a failed call, by its `odooName`: the connector's own code for a client-side name
 * (`timeout` → `CONNECTOR_ODOO_TIMEOUT`), else Odoo's exception (`odoo.exceptions.ValidationError` →
 * `ODOO_VALIDATION_ERROR`; `http.404` → `ODOO_HTTP_404`).
 */
export function odooErrorCode(odooName: string): ErrorCode {
  return Object.hasOwn(CLIENT_SIDE_CODES, odooName)
    ? CLIENT_SIDE_CODES[odooName as keyof typeof CLIENT_SIDE_CODES]
    : odooExceptionCode(odooName);
}

/** psycopg2 errors Odoo's `retrying()` gives up on after 5 tries; the transaction was rolled back. */
const ROLLED_BACK = new Set([
  "SerializationFailure",
  "DeadlockDetected",
  "LockNotAvailable",
  "TransactionRollbackError",
]);

/** The kind of an exception Odoo reported (by its dotted Python name), and whether it may have been applied. */
export function classifyOdooException(
  name: string,
  message: string,
): { kind: OdooErrorKind; ambiguous: boolean } {
  if (name === ACCESS_DENIED || name === SESSION_EXPIRED || name === "werkzeug.exceptions.Unauthorized")
    return { kind: "auth", ambiguous: false };
  const short = name.slice(name.lastIndexOf(".") + 1);
  if (name.startsWith("psycopg2")) {
    if (ROLLED_BACK.has(short)) return { kind: "transient", ambiguous: false };
    // The connection to PostgreSQL broke (or the database is gone): possibly during the commit.
    if (short === "OperationalError" || short === "InterfaceError")
      return /database ".*" does not exist/.test(message)
        ? { kind: "permanent", ambiguous: false }
        : { kind: "transient", ambiguous: true };
  }
  if (/could not serialize access due to concurrent update/.test(message))
    return { kind: "transient", ambiguous: false };
  if (name === "werkzeug.exceptions.TooManyRequests" || name === "werkzeug.exceptions.ServiceUnavailable")
    return { kind: "transient", ambiguous: false };
  if (name === "werkzeug.exceptions.GatewayTimeout") return { kind: "transient", ambiguous: true };
  // ValidationError, UserError, AccessError, MissingError, RedirectWarning, ValueError, TypeError,
  // KeyError, AttributeError, werkzeug NotFound / UnprocessableEntity, …: the request is wrong.
  return { kind: "permanent", ambiguous: false };
}

/** An HTTP answer without Odoo's error body (a reverse proxy's page, a load balancer, a WAF). */
export function httpStatusError(
  status: number,
  detail: string,
  retryAfterMs: number | undefined,
  cause?: unknown,
): OdooError {
  const base = { odooName: `http.${status}`, odooMessage: detail, httpStatus: status, cause };
  // 429: refused before doing anything; 502/503: the proxy found no Odoo to answer (a worker killed
  // before committing rolls back). 504 and other 5xx: Odoo may still be working on it, or be done.
  if (status === 429)
    return new OdooError({
      ...base,
      kind: "transient",
      ambiguous: false,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  if (status === 502 || status === 503)
    return new OdooError({
      ...base,
      kind: "transient",
      ambiguous: false,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  if (status >= 500) return new OdooError({ ...base, kind: "transient", ambiguous: true });
  if (status === 401 || status === 407) return new OdooError({ ...base, kind: "auth", ambiguous: false });
  // A redirect (http → https, a login portal): the URL is wrong; Odoo's RPC routes never redirect.
  if (status >= 300 && status < 400) return new OdooError({ ...base, kind: "permanent", ambiguous: false });
  if (status >= 400) return new OdooError({ ...base, kind: "permanent", ambiguous: false });
  // A 2xx that is not Odoo's answer (an HTML maintenance page, a login portal): unknown outcome.
  return new OdooError({ ...base, kind: "transient", ambiguous: true });
}

/** Stable codes of `OdooConnectError`. Codes are never reused once retired. */
export const OdooConnectErrorCode = {
  /** Connection refused, DNS failure, timeout, or a proxy saying Odoo behind it is down (502/503/504). */
  Unreachable: "CONNECTOR_ODOO_UNREACHABLE",
  /** An HTTP server answered, but not as Odoo does (e.g. an HTML 404 page: wrong URL or path prefix). */
  NotOdoo: "CONNECTOR_NOT_ODOO",
  DatabaseUnknown: "CONNECTOR_DATABASE_UNKNOWN",
  /** The login / API key pair was refused. The key is never part of the message. */
  LoginFailed: "CONNECTOR_LOGIN_FAILED",
  /** Odoo older than 16, or a protocol the server's version does not offer (JSON-2 before 19). */
  VersionUnsupported: "CONNECTOR_VERSION_UNSUPPORTED",
  /** Odoo answered the connection checks with an error none of the other codes describes. */
  ConnectFailed: "CONNECTOR_CONNECT_FAILED",
} as const satisfies Record<string, CatalogedErrorCode>;
export type OdooConnectErrorCode = (typeof OdooConnectErrorCode)[keyof typeof OdooConnectErrorCode];

/** `OdooClient.connect()` failed: the server, the database, the credentials or the version is wrong. */
export class OdooConnectError extends ThreadlineError {
  constructor(
    code: OdooConnectErrorCode,
    message: string,
    /** The Odoo URL that was tried. */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Whether `err` is the client refusing a call because its circuit breaker is open (or probing). */
export function isCircuitOpen(err: unknown): boolean {
  return err instanceof OdooError && err.odooName === CIRCUIT_OPEN;
}

/** Whether `err` is Odoo (or the way to it) failing for a reason that passes: an outage, a timeout, a 502. */
export function isTransientOdooError(err: unknown): boolean {
  return err instanceof OdooError && err.kind === "transient";
}
