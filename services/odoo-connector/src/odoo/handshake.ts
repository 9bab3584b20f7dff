/**
 * The checks `OdooClient.connect()` runs before any call: is it Odoo, which version, does the
 * database exist, are the credentials accepted. Each failure becomes an `OdooConnectError` with a
 * stable code and a message that names the URL (never the key).
 *
 * - Version: `common.version()` over `/jsonrpc` (16–19), else `GET /web/version` (19+, which the
 *   documentation gives as its replacement).
 * - JSON-RPC credentials: `common.login(db, login, key)` returns the uid, or `false` when refused
 *   (odoo/service/common.py catches AccessDenied). An unknown database raises psycopg2's
 *   OperationalError `database "x" does not exist` while the registry opens.
 * - JSON-2 credentials: `POST /json/2/res.users/context_get` returns the API key's user in `uid`
 *   (external_api.rst, "Migrating from XML-RPC / JSON-RPC"); 401 `Invalid apikey` when refused. The
 *   key alone names the user, so its login is read back and compared with the configured one.
 */
import { OdooConnectError, OdooConnectErrorCode, OdooError } from "./errors.js";
import { httpExchange, parseJson, TRANSPORT_FAILURES, USER_AGENT } from "./http.js";
import { type Endpoint, isRecord, json2, jsonRpc, type Protocol } from "./transport.js";

export interface ServerVersion {
  /** 16, 17, 18, 19, … (`saas~17.2` is 17). */
  major: number;
  /** As the server says it, e.g. `17.0`, `saas~17.2`, `19.0+e`. */
  serverVersion: string;
}

export const MIN_MAJOR = 16;

export async function probeVersion(endpoint: Endpoint): Promise<ServerVersion> {
  let first: OdooError;
  try {
    const version = parseVersion(await jsonRpc(endpoint, "common", "version", []));
    if (version) return version;
    throw new OdooConnectError(
      OdooConnectErrorCode.NotOdoo,
      `${endpoint.url} answered common.version() without a server version: this is not an Odoo server`,
      endpoint.url,
    );
  } catch (err) {
    if (!(err instanceof OdooError)) throw err;
    if (unreachable(err)) throw unreachableError(endpoint, err);
    first = err;
  }
  // /jsonrpc is absent or refused (deprecated from 19, to be removed in 22): try /web/version.
  const fallback = await webVersion(endpoint).catch(() => undefined);
  if (fallback) return fallback;
  if (first.odooName.startsWith("http."))
    throw new OdooConnectError(
      OdooConnectErrorCode.NotOdoo,
      `${endpoint.url} is not an Odoo server: ${first.odooMessage}. Check the URL (scheme, host, port, ` +
        "and the path prefix of a reverse proxy).",
      endpoint.url,
      { cause: first },
    );
  throw connectFailed(endpoint, "asking its version", first);
}

async function webVersion(endpoint: Endpoint): Promise<ServerVersion | undefined> {
  const answer = await httpExchange({
    url: `${endpoint.url}/web/version`,
    method: "GET",
    headers: { Accept: "application/json", "User-Agent": USER_AGENT },
    timeoutMs: endpoint.timeoutMs,
    ...(endpoint.signal ? { signal: endpoint.signal } : {}),
  });
  if (answer.status !== 200) return undefined;
  const body = parseJson(answer.body);
  if (!isRecord(body)) return undefined;
  return parseVersion({ server_version: body["version"], server_version_info: body["version_info"] });
}

/** `{server_version, server_version_info}` of common.version(); undefined when it is not that. */
export function parseVersion(result: unknown): ServerVersion | undefined {
  if (!isRecord(result)) return undefined;
  const info = result["server_version_info"];
  const text = result["server_version"];
  const head = Array.isArray(info) ? info[0] : undefined;
  const major =
    typeof head === "number"
      ? head
      : typeof head === "string"
        ? Number(/(\d+)/.exec(head)?.[1])
        : typeof text === "string"
          ? Number(/(\d+)/.exec(text)?.[1])
          : Number.NaN;
  if (!Number.isInteger(major) || major <= 0) return undefined;
  return { major, serverVersion: typeof text === "string" ? text : String(major) };
}

/** The protocol to use with this server; throws when the one asked for is not offered. */
export function chooseProtocol(
  endpoint: Endpoint,
  version: ServerVersion,
  wanted: "auto" | Protocol,
): Protocol {
  if (version.major < MIN_MAJOR)
    throw new OdooConnectError(
      OdooConnectErrorCode.VersionUnsupported,
      `Odoo at ${endpoint.url} runs ${version.serverVersion}: Threadline needs Odoo ${MIN_MAJOR} or later`,
      endpoint.url,
    );
  if (wanted === "json2" && version.major < 19)
    throw new OdooConnectError(
      OdooConnectErrorCode.VersionUnsupported,
      `protocol json2 needs Odoo 19 or later, and ${endpoint.url} runs ${version.serverVersion}: ` +
        'use protocol "auto" or "jsonrpc"',
      endpoint.url,
    );
  if (wanted === "auto") return version.major >= 19 ? "json2" : "jsonrpc";
  return wanted;
}

/** Checks the database and the credentials; returns the user id. */
export async function authenticate(endpoint: Endpoint, protocol: Protocol): Promise<number> {
  return protocol === "json2" ? authenticateJson2(endpoint) : authenticateJsonRpc(endpoint);
}

async function authenticateJsonRpc(endpoint: Endpoint): Promise<number> {
  let uid: unknown;
  try {
    uid = await jsonRpc(endpoint, "common", "login", [endpoint.db, endpoint.login, endpoint.apiKey]);
  } catch (err) {
    if (!(err instanceof OdooError)) throw err;
    if (unreachable(err)) throw unreachableError(endpoint, err);
    if (/database ".*" does not exist/.test(err.odooMessage) || err.odooName.endsWith("OperationalError"))
      throw databaseUnknown(endpoint, err);
    if (err.kind === "auth") throw loginFailed(endpoint, err);
    throw connectFailed(endpoint, "logging in", err);
  }
  if (typeof uid !== "number" || uid <= 0) throw loginFailed(endpoint);
  return uid;
}

async function authenticateJson2(endpoint: Endpoint): Promise<number> {
  let uid: unknown;
  let login: unknown;
  try {
    const context = await json2(endpoint, "res.users", "context_get", {});
    uid = isRecord(context) ? context["uid"] : undefined;
    if (typeof uid !== "number")
      throw new OdooConnectError(
        OdooConnectErrorCode.ConnectFailed,
        `Odoo at ${endpoint.url} answered res.users.context_get without a uid`,
        endpoint.url,
      );
    const rows = await json2(endpoint, "res.users", "read", { ids: [uid], fields: ["login"] });
    login = Array.isArray(rows) && isRecord(rows[0]) ? rows[0]["login"] : undefined;
  } catch (err) {
    if (!(err instanceof OdooError)) throw err;
    if (unreachable(err)) throw unreachableError(endpoint, err);
    if (err.kind === "auth") throw loginFailed(endpoint, err);
    // No database selected (unknown name), the route is not there: Odoo answers 404.
    if (err.httpStatus === 404) throw databaseUnknown(endpoint, err);
    throw connectFailed(endpoint, "checking the API key", err);
  }
  if (login !== endpoint.login)
    throw new OdooConnectError(
      OdooConnectErrorCode.LoginFailed,
      `the API key given for login "${endpoint.login}" belongs to user ${JSON.stringify(login)} (id ${uid}) ` +
        `on ${endpoint.url}: use that user's login or a key of "${endpoint.login}"`,
      endpoint.url,
    );
  return uid;
}

function unreachable(err: OdooError): boolean {
  return (
    TRANSPORT_FAILURES.has(err.odooName) ||
    (err.odooName.startsWith("http.") && [502, 503, 504].includes(err.httpStatus ?? 0))
  );
}

function unreachableError(endpoint: Endpoint, err: OdooError): OdooConnectError {
  const detail = err.odooName.startsWith("http.")
    ? `a proxy answers, but not Odoo behind it (${err.odooMessage})`
    : err.odooMessage;
  return new OdooConnectError(
    OdooConnectErrorCode.Unreachable,
    `cannot reach Odoo at ${endpoint.url}: ${detail}. Check the URL, that Odoo runs, and that this host may connect to it.`,
    endpoint.url,
    { cause: err },
  );
}

function databaseUnknown(endpoint: Endpoint, err: OdooError): OdooConnectError {
  return new OdooConnectError(
    OdooConnectErrorCode.DatabaseUnknown,
    `database "${endpoint.db}" not found on ${endpoint.url} (${err.odooName}: ${err.odooMessage.trim()}): ` +
      "check the database name",
    endpoint.url,
    { cause: err },
  );
}

function loginFailed(endpoint: Endpoint, err?: OdooError): OdooConnectError {
  const why = err ? ` (${err.odooName}: ${err.odooMessage.trim()})` : "";
  return new OdooConnectError(
    OdooConnectErrorCode.LoginFailed,
    `Odoo at ${endpoint.url} refused login "${endpoint.login}" on database "${endpoint.db}"${why}: ` +
      "check the login and the API key (the key is not shown)",
    endpoint.url,
    ...(err ? [{ cause: err }] : []),
  );
}

function connectFailed(endpoint: Endpoint, doing: string, err: OdooError): OdooConnectError {
  return new OdooConnectError(
    OdooConnectErrorCode.ConnectFailed,
    `Odoo at ${endpoint.url} failed while ${doing}: ${err.odooName}: ${err.odooMessage.trim()}`,
    endpoint.url,
    { cause: err },
  );
}
