/**
 * Odoo's RPC services as `dispatch_rpc` exposes them — `common` (version, login, authenticate),
 * `db` (list, server_version, db_exist) and `object` (execute, execute_kw) — plus the JSON-2 call
 * and the in-process call used by tests. Each object call runs `call_kw` in its own transaction:
 * committed on success (then automated actions send their webhooks), rolled back on error.
 *
 * Verified: `odoo/service/common.py` (`exp_login` → `exp_authenticate`, AccessDenied → `false`;
 * `RPC_VERSION_1` keys server_version, server_version_info, server_serie, protocol_version),
 * `odoo/service/model.py` (`security.check` before anything; unknown model →
 * UserError "Object %s doesn't exist"; unknown object method → NameError),
 * `addons/rpc/controllers/json2.py` (19.0: 404 unknown model/method, 422 ids on an @api.model
 * method or a signature mismatch, recordsets returned as ids).
 */
import {
  AccessDenied,
  AccessError,
  attributeError,
  HttpError,
  PythonError,
  typeError,
  UserError,
} from "./errors.js";
import { type Database, Env, type MethodSpec, type SimUser, type Vals } from "./orm.js";
import { pyRepr } from "./py.js";
import type { PendingWebhook, WebhookDispatcher } from "./webhooks.js";

export type Protocol = "jsonrpc" | "xmlrpc" | "json2" | "web" | "env";

export interface CallLogEntry {
  at: Date;
  protocol: Protocol;
  service: string;
  /** Service method (`execute_kw`, `login`, …) or, for object calls, the model method. */
  method: string;
  model?: string;
  uid?: number;
  ok: boolean;
  /** Python name of the error raised, e.g. `odoo.exceptions.AccessDenied`, or the fault injected. */
  error?: string;
}

export interface ObjectCall {
  protocol: Protocol;
  uid: number;
  model: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export class OdooService {
  readonly calls: CallLogEntry[] = [];

  constructor(
    readonly db: Database,
    private readonly webhooks: WebhookDispatcher,
  ) {}

  log(entry: Omit<CallLogEntry, "at">): void {
    this.calls.push({ at: new Date(), ...entry });
  }

  version(): Vals {
    const p = this.db.profile;
    return {
      server_version: p.serverVersion,
      server_version_info: [...p.serverVersionInfo],
      server_serie: p.serverVersion,
      protocol_version: 1,
    };
  }

  private checkDb(name: unknown): void {
    if (name !== this.db.name)
      throw new PythonError(
        "psycopg2.OperationalError",
        `connection to server failed: FATAL:  database "${String(name)}" does not exist\n`,
      );
  }

  /** Password or API key of an active user, else undefined. */
  private credentialsMatch(user: SimUser | undefined, secret: unknown): user is SimUser {
    if (!user?.active || typeof secret !== "string" || secret === "") return false;
    return user.password === secret || user.apiKeys.includes(secret);
  }

  authenticate(dbName: unknown, login: unknown, password: unknown): number | false {
    this.checkDb(dbName);
    const user = [...this.db.users.values()].find((u) => u.login === login);
    return this.credentialsMatch(user, password) ? user.id : false;
  }

  /** `security.check(db, uid, passwd)`: AccessDenied unless uid and password/API key match. */
  checkUser(dbName: unknown, uid: unknown, password: unknown): SimUser {
    this.checkDb(dbName);
    const id =
      typeof uid === "number"
        ? Math.trunc(uid)
        : typeof uid === "string" && /^\d+$/.test(uid)
          ? Number(uid)
          : 0;
    const user = this.db.users.get(id);
    if (!this.credentialsMatch(user, password)) throw new AccessDenied();
    return user;
  }

  userForApiKey(key: string): SimUser | undefined {
    return [...this.db.users.values()].find((u) => u.active && u.apiKeys.includes(key));
  }

  /** `dispatch_rpc(service, method, params)` of /jsonrpc and /xmlrpc/2. */
  async dispatch(protocol: Protocol, service: string, method: string, params: unknown[]): Promise<unknown> {
    if (service === "common" || service === "db") {
      try {
        const result = service === "common" ? this.common(method, params) : this.dbService(method, params);
        this.log({ protocol, service, method, ok: true });
        return result;
      } catch (err) {
        this.log({
          protocol,
          service,
          method,
          ok: false,
          error: (err as { pyName?: string }).pyName ?? String(err),
        });
        throw err;
      }
    }
    if (service === "object") {
      const [db, uid, password, model, modelMethod, ...rest] = params;
      if (params.length < 5) throw typeError(`dispatch() missing required arguments (got ${params.length})`);
      const user = this.checkUser(db, uid, password);
      let args: unknown[];
      let kwargs: Record<string, unknown> = {};
      if (method === "execute_kw") {
        args = Array.isArray(rest[0]) ? (rest[0] as unknown[]) : [];
        const kw = rest[1];
        if (kw !== undefined && kw !== null && kw !== false) {
          if (typeof kw !== "object" || Array.isArray(kw))
            throw typeError("argument after ** must be a mapping");
          kwargs = kw as Record<string, unknown>;
        }
      } else if (method === "execute") args = rest;
      else throw new PythonError("builtins.NameError", `Method not available ${method}`);
      return this.call({
        protocol,
        uid: user.id,
        model: String(model),
        method: String(modelMethod),
        args,
        kwargs,
      });
    }
    throw new PythonError("builtins.KeyError", pyRepr(service), [service]);
  }

  private common(method: string, params: unknown[]): unknown {
    switch (method) {
      case "version":
        return this.version();
      case "login":
        if (params.length !== 3)
          throw typeError(`exp_login() takes 3 positional arguments but ${params.length} were given`);
        return this.authenticate(params[0], params[1], params[2]);
      case "authenticate":
        if (params.length !== 4)
          throw typeError(`exp_authenticate() takes 4 positional arguments but ${params.length} were given`);
        return this.authenticate(params[0], params[1], params[2]);
      case "about":
        return `See http://openerp.com`;
      default:
        throw new PythonError("builtins.KeyError", pyRepr(`exp_${method}`), [`exp_${method}`]);
    }
  }

  private dbService(method: string, params: unknown[]): unknown {
    switch (method) {
      case "list":
        return [this.db.name];
      case "server_version":
        return this.db.profile.serverVersion;
      case "db_exist":
        return params[0] === this.db.name;
      default:
        throw new PythonError("builtins.KeyError", pyRepr(`exp_${method}`), [`exp_${method}`]);
    }
  }

  /** `execute_kw` / `execute` (and the in-process env): call_kw in one transaction. */
  async call(c: ObjectCall): Promise<unknown> {
    const { context, ...kwargs } = c.kwargs;
    let pending: PendingWebhook[] = [];
    try {
      const result = this.db.transaction((tx) => {
        const env = new Env(this.db, c.uid, contextOf(context), tx);
        if (!this.db.models.has(c.model)) throw new UserError(`Object ${c.model} doesn't exist`);
        const spec = this.resolve(env, c.model, c.method);
        let ids: number[] = [];
        let args = c.args;
        if (!spec.model) {
          if (args.length === 0) throw new PythonError("builtins.IndexError", "tuple index out of range");
          ids = idsOf(args[0]);
          args = args.slice(1);
        }
        // Odoo's call_kw answers `create` with `result.id if isinstance(args[0], Mapping) else
        // result.ids`: values passed by name leave args empty, an IndexError (after the create,
        // rolled back with the transaction).
        if (c.method === "create" && args.length === 0)
          throw new PythonError("builtins.IndexError", "tuple index out of range");
        const kw = bind(c.method, spec, args, kwargs, "python");
        const op = spec.access ?? (spec.model ? "read" : "write");
        if (op !== "none") env.checkAccess(c.model, op);
        const out = spec.fn({ env: spec.asUser ? env : env.sudo(), model: c.model, ids, kw });
        pending = this.webhooks.collect(env.sudo(), tx.events);
        return out;
      });
      this.log({
        protocol: c.protocol,
        service: "object",
        method: c.method,
        model: c.model,
        uid: c.uid,
        ok: true,
      });
      await this.webhooks.deliver(pending);
      return result;
    } catch (err) {
      this.log({
        protocol: c.protocol,
        service: "object",
        method: c.method,
        model: c.model,
        uid: c.uid,
        ok: false,
        error: (err as { pyName?: string }).pyName ?? String(err),
      });
      throw err;
    }
  }

  /** POST /json/2/<model>/<method>: named arguments only, `ids` and `context` in the body. */
  async callJson2(
    uid: number,
    model: string,
    method: string,
    body: Record<string, unknown>,
  ): Promise<unknown> {
    const { ids: rawIds, context, ...kwargs } = body;
    let pending: PendingWebhook[] = [];
    try {
      const result = this.db.transaction((tx) => {
        const env = new Env(this.db, uid, contextOf(context), tx);
        if (!this.db.models.has(model))
          throw new HttpError(404, "NotFound", `the model ${pyRepr(model)} does not exist`);
        let spec: MethodSpec;
        try {
          spec = this.resolve(env, model, method);
        } catch (err) {
          if ((err as PythonError).pyName === "builtins.AttributeError")
            throw new HttpError(404, "NotFound", (err as Error).message);
          throw err;
        }
        const ids = rawIds === undefined || rawIds === null ? [] : idsOf(rawIds);
        if (spec.model && ids.length)
          throw new HttpError(422, "UnprocessableEntity", `cannot call ${model}.${method} with ids`);
        const kw = bind(method, spec, [], kwargs, "json2");
        const op = spec.access ?? (spec.model ? "read" : "write");
        if (op !== "none") env.checkAccess(model, op);
        let out = spec.fn({ env: spec.asUser ? env : env.sudo(), model, ids, kw });
        // JSON-2 answers a method that returns records with their ids: `create` of one dict gives [id].
        if (method === "create" && typeof out === "number") out = [out];
        pending = this.webhooks.collect(env.sudo(), tx.events);
        return out;
      });
      this.log({ protocol: "json2", service: "object", method, model, uid, ok: true });
      await this.webhooks.deliver(pending);
      return result;
    } catch (err) {
      this.log({
        protocol: "json2",
        service: "object",
        method,
        model,
        uid,
        ok: false,
        error: (err as { pyName?: string }).pyName ?? String(err),
      });
      throw err;
    }
  }

  private resolve(env: Env, model: string, method: string): MethodSpec {
    const p = env.profile;
    if (method.startsWith("_"))
      throw new AccessError(
        p.publicMethodErrors
          ? `Private methods (such as '${model}.${method}') cannot be called remotely.`
          : `Private methods (such as ${method}) cannot be called remotely.`,
      );
    const spec = env.model(model).methods[method];
    if (!spec)
      throw attributeError(
        p.publicMethodErrors
          ? `The method '${model}.${method}' does not exist`
          : `type object '${model}' has no attribute '${method}'`,
      );
    return spec;
  }
}

function contextOf(context: unknown): Record<string, unknown> {
  return context && typeof context === "object" && !Array.isArray(context)
    ? { ...(context as Record<string, unknown>) }
    : {};
}

function idsOf(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (value === false || value === null) return [];
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return value as number[];
  throw typeError(`unhashable type: 'list'`);
}

/** Binds positional and keyword arguments to a method's Python signature, with Python's TypeErrors. */
export function bind(
  method: string,
  spec: MethodSpec,
  args: unknown[],
  kwargs: Record<string, unknown>,
  style: "python" | "json2",
): Record<string, unknown> {
  const params = spec.params ?? [];
  const required = spec.required ?? 0;
  const fail = (python: string, json2: string) =>
    style === "json2" ? new HttpError(422, "UnprocessableEntity", json2) : typeError(python);
  if (args.length > params.length) {
    const min = required + 1;
    const max = params.length + 1;
    const takes =
      min === max
        ? `${max} positional argument${max === 1 ? "" : "s"}`
        : `from ${min} to ${max} positional arguments`;
    throw fail(
      `${method}() takes ${takes} but ${args.length + 1} were given`,
      "too many positional arguments",
    );
  }
  const out: Record<string, unknown> = {};
  args.forEach((a, i) => {
    out[params[i] as string] = a;
  });
  for (const [k, v] of Object.entries(kwargs)) {
    if (params.includes(k)) {
      if (k in out)
        throw fail(
          `${method}() got multiple values for argument '${k}'`,
          `multiple values for argument '${k}'`,
        );
      out[k] = v;
    } else if (spec.varKw) out[k] = v;
    else
      throw fail(
        `${method}() got an unexpected keyword argument '${k}'`,
        `got an unexpected keyword argument '${k}'`,
      );
  }
  const missing = params.slice(0, required).filter((p) => !(p in out));
  if (missing.length) {
    const names = missing.map((m) => `'${m}'`);
    const list =
      names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
    throw fail(
      `${method}() missing ${missing.length} required positional argument${missing.length === 1 ? "" : "s"}: ${list}`,
      `missing a required argument: '${missing[0]}'`,
    );
  }
  return out;
}
