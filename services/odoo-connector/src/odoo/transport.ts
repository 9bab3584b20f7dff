/**
 * The two ways to call a model method on Odoo, behind one interface:
 *
 * - JSON-RPC (`POST /jsonrpc`, Odoo 8–19, deprecated in 19): `object.execute_kw(db, uid, key, model,
 *   method, args, kwargs)`; always HTTP 200, errors in the envelope's `error.data` (`name`, `message`,
 *   `arguments`, `debug`), `error.code` 100 for an expired session. Credentials travel with every call.
 * - JSON-2 (`POST /json/2/<model>/<method>`, Odoo 19+): `Authorization: bearer <API key>`,
 *   `X-Odoo-Database`, a JSON object of named arguments plus `ids` and `context`; the bare result,
 *   errors as 4xx/5xx with the same error object as the body (odoo/documentation external_api.rst,
 *   addons/rpc/controllers/json2.py).
 *
 * Some arguments must be positional over JSON-RPC: `call_kw` reads `create`'s values from `args[0]`
 * (16–19: `result.id if isinstance(args[0], Mapping) else result.ids`), and `search`/`search_count`
 * name their domain `args` in 16 but `domain` from 17. `OdooRequest.positional` carries those, with
 * the names JSON-2 (19+) expects.
 */
import {
  classifyOdooException,
  httpStatusError,
  OdooError,
  type OdooErrorInit,
  SESSION_EXPIRED,
} from "./errors.js";
import { type HttpAnswer, httpExchange, parseJson, snippet, USER_AGENT } from "./http.js";

export type Protocol = "jsonrpc" | "json2";

/** One model method call. */
export interface OdooRequest {
  readonly model: string;
  readonly method: string;
  /** Records to call the method on (omitted for `@api.model` methods). */
  readonly ids?: readonly number[];
  /** Arguments sent positionally over JSON-RPC, named over JSON-2, in the method's order. */
  readonly positional?: ReadonlyArray<readonly [name: string, value: unknown]>;
  /** Named arguments. */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** Where and as whom. The API key never leaves this object except in request bodies/headers. */
export interface Endpoint {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly db: string;
  readonly login: string;
  readonly apiKey: string;
  readonly timeoutMs: number;
  /** Aborts requests when the client closes. */
  readonly signal?: AbortSignal;
}

export interface Transport {
  readonly protocol: Protocol;
  /** The user the calls run as. */
  uid: number;
  execute(req: OdooRequest): Promise<unknown>;
  /** Checks the credentials again and returns the user id (`false`: refused). */
  authenticate(): Promise<number | false>;
}

export function createTransport(protocol: Protocol, endpoint: Endpoint, uid: number): Transport {
  return protocol === "json2" ? new Json2Transport(endpoint, uid) : new JsonRpcTransport(endpoint, uid);
}

let nextId = 1;

/** `POST /jsonrpc` with `{service, method, args}`: the result, or the envelope's error as an OdooError. */
export async function jsonRpc(
  endpoint: Endpoint,
  service: string,
  method: string,
  args: unknown[],
): Promise<unknown> {
  const answer = await httpExchange({
    url: `${endpoint.url}/jsonrpc`,
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "User-Agent": USER_AGENT },
    body: JSON.stringify({ jsonrpc: "2.0", method: "call", params: { service, method, args }, id: nextId++ }),
    timeoutMs: endpoint.timeoutMs,
    ...(endpoint.signal ? { signal: endpoint.signal } : {}),
  });
  return decodeJsonRpc(answer, `POST ${endpoint.url}/jsonrpc`);
}

export function decodeJsonRpc(answer: HttpAnswer, what: string): unknown {
  if (answer.status !== 200) throw unexpectedAnswer(answer, what);
  const envelope = parseJson(answer.body);
  if (
    !isRecord(envelope) ||
    (envelope["jsonrpc"] !== "2.0" && !("result" in envelope) && !("error" in envelope))
  )
    throw unexpectedAnswer(answer, what);
  const error = envelope["error"];
  if (error === undefined || error === null) return envelope["result"] ?? null;
  const e = isRecord(error) ? error : {};
  const data = isRecord(e["data"]) ? e["data"] : {};
  const code = e["code"];
  let name =
    typeof data["name"] === "string"
      ? data["name"]
      : code === 404
        ? "werkzeug.exceptions.NotFound"
        : "odoo.ServerError";
  if (code === 100) name = SESSION_EXPIRED;
  const message =
    typeof data["message"] === "string"
      ? data["message"]
      : typeof e["message"] === "string"
        ? e["message"]
        : JSON.stringify(error);
  throw odooException(name, message, data);
}

/** A JSON-2 answer: the bare result on 200, Odoo's error object on 4xx/5xx. */
export function decodeJson2(answer: HttpAnswer, what: string): unknown {
  if (answer.status === 200) {
    if (answer.body.trim() === "") return null;
    const value = parseJson(answer.body);
    if (value === undefined) throw unexpectedAnswer(answer, what);
    return value;
  }
  const body = parseJson(answer.body);
  if (answer.status >= 400 && isRecord(body) && typeof body["name"] === "string") {
    const message = typeof body["message"] === "string" ? body["message"] : "";
    throw odooException(body["name"], message, body, answer);
  }
  throw unexpectedAnswer(answer, what);
}

function odooException(
  name: string,
  message: string,
  data: Record<string, unknown>,
  answer?: HttpAnswer,
): OdooError {
  let { kind, ambiguous } = classifyOdooException(name, message);
  // Statuses a proxy in front of Odoo may also have produced mean the same whatever the body names.
  if (answer?.status === 429 || answer?.status === 502 || answer?.status === 503) {
    kind = "transient";
    ambiguous = false;
  }
  const init: OdooErrorInit = { odooName: name, odooMessage: message, kind, ambiguous };
  if (answer) init.httpStatus = answer.status;
  if (answer?.retryAfterMs !== undefined) init.retryAfterMs = answer.retryAfterMs;
  if (Array.isArray(data["arguments"])) init.odooArguments = data["arguments"];
  if (typeof data["debug"] === "string") init.debug = data["debug"];
  return new OdooError(init);
}

function unexpectedAnswer(answer: HttpAnswer, what: string): OdooError {
  const type = answer.contentType.split(";")[0]?.trim() || "no content type";
  const redirect = answer.location ? ` redirecting to ${answer.location}` : "";
  return httpStatusError(
    answer.status,
    `${what} answered HTTP ${answer.status} (${type})${redirect}, not Odoo's answer: ${snippet(answer.body) || "empty body"}`,
    answer.retryAfterMs,
  );
}

class JsonRpcTransport implements Transport {
  readonly protocol = "jsonrpc";

  constructor(
    private readonly endpoint: Endpoint,
    public uid: number,
  ) {}

  execute(req: OdooRequest): Promise<unknown> {
    const args: unknown[] = req.ids ? [req.ids] : [];
    for (const [, value] of req.positional ?? []) args.push(value);
    const kwargs: Record<string, unknown> = { ...req.kwargs };
    if (req.context) kwargs["context"] = req.context;
    const e = this.endpoint;
    return jsonRpc(e, "object", "execute_kw", [
      e.db,
      this.uid,
      e.apiKey,
      req.model,
      req.method,
      args,
      kwargs,
    ]);
  }

  async authenticate(): Promise<number | false> {
    const e = this.endpoint;
    const uid = await jsonRpc(e, "common", "login", [e.db, e.login, e.apiKey]);
    return typeof uid === "number" && uid > 0 ? uid : false;
  }
}

class Json2Transport implements Transport {
  readonly protocol = "json2";

  constructor(
    private readonly endpoint: Endpoint,
    public uid: number,
  ) {}

  execute(req: OdooRequest): Promise<unknown> {
    const body: Record<string, unknown> = {};
    if (req.ids) body["ids"] = req.ids;
    for (const [name, value] of req.positional ?? []) body[name] = value;
    Object.assign(body, req.kwargs);
    if (req.context) body["context"] = req.context;
    return json2(this.endpoint, req.model, req.method, body);
  }

  async authenticate(): Promise<number | false> {
    try {
      const ctx = await json2(this.endpoint, "res.users", "context_get", {});
      const uid = isRecord(ctx) ? ctx["uid"] : undefined;
      return typeof uid === "number" ? uid : false;
    } catch (err) {
      if (err instanceof OdooError && err.kind === "auth") return false;
      throw err;
    }
  }
}

/** `POST /json/2/<model>/<method>` with named arguments. */
export async function json2(
  endpoint: Endpoint,
  model: string,
  method: string,
  body: Record<string, unknown>,
): Promise<unknown> {
  const url = `${endpoint.url}/json/2/${encodeURIComponent(model)}/${encodeURIComponent(method)}`;
  const answer = await httpExchange({
    url,
    method: "POST",
    headers: {
      Authorization: `bearer ${endpoint.apiKey}`,
      "X-Odoo-Database": endpoint.db,
      "Content-Type": "application/json; charset=utf-8",
      Accept: "application/json",
      "User-Agent": USER_AGENT,
    },
    body: JSON.stringify(body),
    timeoutMs: endpoint.timeoutMs,
    ...(endpoint.signal ? { signal: endpoint.signal } : {}),
  });
  return decodeJson2(answer, `POST ${url}`);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
