/**
 * The Odoo simulator: an HTTP server on 127.0.0.1 speaking Odoo's external API for one version
 * profile (16–19) over a seeded in-memory database, with runtime fault injection and automated-action
 * webhooks. `startOdooSimulator()` is the programmatic entry point; `threadline sim odoo` the CLI.
 *
 * Routes: POST /jsonrpc; POST /xmlrpc/2/{common,object,db} and /xmlrpc/{…}; POST /json/2/<model>/<method>
 * (profile 19); the web-client routes in protocol/web.ts; /__sim/faults, /__sim/calls and
 * /__sim/webhooks for other processes (token-protected).
 *
 * It uses node:http rather than fastify: an outage window closes the listening socket and reopens it
 * on the same port, which a closed fastify instance cannot do.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { z } from "zod";
import { ConfigError } from "../../../streams/src/index.js";
import { SerializationFailure, SessionExpired } from "./errors.js";
import {
  type CallKey,
  type FaultController,
  FaultRuleSchema,
  Faults,
  OutageSchema,
  proxyErrorPage,
} from "./faults.js";
import { baseMethods } from "./methods.js";
import { installAccessCheck } from "./models/access.js";
import { allModels } from "./models/index.js";
import { recordXmlIds } from "./models/ir-model-data.js";
import { Database, type DatabaseSnapshot, type Vals } from "./orm.js";
import { getProfile, PROFILE_VERSIONS, type Profile } from "./profiles.js";
import type { Gate, HandlerContext, HandlerResult, Reply } from "./protocol/common.js";
import { handleJson2 } from "./protocol/json2.js";
import { handleJsonRpc } from "./protocol/jsonrpc.js";
import { handleWeb, WebSessions } from "./protocol/web.js";
import { handleXmlRpc } from "./protocol/xmlrpc.js";
import { seedDatabase } from "./seed.js";
import { type CallLogEntry, OdooService } from "./service.js";
import type { WebhookDelivery, WebhookRule } from "./webhooks.js";
import { WebhookDispatcher } from "./webhooks.js";

const UserCredentialsSchema = z
  .object({
    login: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    apiKey: z.string().min(8).optional(),
  })
  .strict();

const WebhookRuleSchema = z
  .object({
    model: z.string().min(1),
    on: z.enum(["create", "write", "create_or_write"]),
    url: z.string().url(),
    fields: z.array(z.string().min(1)).optional(),
    triggerFields: z.array(z.string().min(1)).optional(),
    name: z.string().min(1).optional(),
  })
  .strict();

const OptionsSchema = z
  .object({
    /** Odoo major version to behave as. */
    profile: z.union(
      PROFILE_VERSIONS.map((v) => z.literal(v)) as [
        z.ZodLiteral<16>,
        z.ZodLiteral<17>,
        z.ZodLiteral<18>,
        z.ZodLiteral<19>,
      ],
    ),
    /** @default "127.0.0.1" */
    host: z.string().min(1).default("127.0.0.1"),
    /** 0 picks a free port. @default 0 */
    port: z.number().int().min(0).max(65535).default(0),
    /** Seed of the demo data and of fault draws. @default 1 */
    seed: z.number().int().default(1),
    /** Database name. @default "threadline" */
    db: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)
      .default("threadline"),
    /**
     * Credentials of `admin`, of the integration user `threadline` (exactly Manufacturing / User) and of
     * the restricted `shopfloor` (Inventory / User); random when omitted.
     */
    users: z
      .object({
        admin: UserCredentialsSchema.optional(),
        integration: UserCredentialsSchema.optional(),
        restricted: UserCredentialsSchema.optional(),
      })
      .strict()
      .default({}),
    /**
     * Enterprise `quality_control` installed: the quality.* models exist and pending checks hold
     * picking validation. Without it, "Object quality.alert doesn't exist". @default true
     */
    quality: z.boolean().default(true),
    /**
     * Initial on-hand quantity per product code instead of the seeded one, e.g. `{ "COMP-HNY": 100 }`
     * to run an order short of a component (seed.ts). @default {}
     */
    onHand: z.record(z.string(), z.number().min(0)).default({}),
    /** Automated actions "Send Webhook Notification" (Odoo 17+). @default [] */
    webhooks: z.array(WebhookRuleSchema).default([]),
    /** Webhook timeout (Odoo: 1 s). @default 1000 */
    webhookTimeoutMs: z.number().int().positive().default(1000),
    /** Token of the /__sim admin endpoints; random when omitted. */
    adminToken: z.string().min(8).optional(),
    /** Clock giving each transaction its start time. @default () => new Date() */
    clock: z.custom<() => Date>((v) => typeof v === "function").optional(),
  })
  .strict();

export type OdooSimulatorOptions = z.input<typeof OptionsSchema>;

export interface SimCredentials {
  login: string;
  password: string;
  apiKey: string;
  uid: number;
}

export interface SearchOpts {
  offset?: number;
  limit?: number;
  order?: string;
  context?: Record<string, unknown>;
}

/** In-process access to the database as admin (each call one transaction, webhooks included). */
export interface SimEnv {
  search(model: string, domain?: unknown[], opts?: SearchOpts): Promise<number[]>;
  searchRead(model: string, domain?: unknown[], fields?: string[], opts?: SearchOpts): Promise<Vals[]>;
  read(model: string, ids: number[], fields?: string[]): Promise<Vals[]>;
  create(model: string, vals: Vals, context?: Record<string, unknown>): Promise<number>;
  write(model: string, ids: number[], vals: Vals, context?: Record<string, unknown>): Promise<boolean>;
  unlink(model: string, ids: number[]): Promise<boolean>;
  /** Any model method, as execute_kw would call it (record methods take the ids as args[0]). */
  call(model: string, method: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<unknown>;
  /** Id of a seeded record by xml id, e.g. `stock.stock_location_stock`, `threadline.location_quarantine`. */
  ref(xmlId: string): number;
}

/**
 * A backdoor around the ORM: what a direct SQL import (or an `INSERT`/`UPDATE` run in psql) does to
 * the database. Odoo's constraints are not run — neither the Python ones (`@api.constrains`) nor the
 * SQL CHECKs (as in a database where they could not be added) —, nor defaults from `create`
 * overrides, access rights or automated actions. For tests that must show a consumer of Odoo data
 * refusing records the ORM would have refused. Values are column values (many2one an id); unset
 * columns get the fields' plain defaults; `create_date`/`write_date` are stamped as an import script
 * would.
 */
export interface SimSql {
  /** `INSERT INTO <table>`: the new row's id. */
  insert(model: string, vals: Vals): number;
  /** `UPDATE <table> SET … WHERE id IN (…)`. */
  update(model: string, ids: number[], vals: Vals): void;
}

export interface OdooSimulator {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly db: string;
  readonly profile: Profile;
  /** The administrator: login `admin`, its password and API key, uid 2 (same as `users.admin`). */
  readonly credentials: SimCredentials;
  /** The restricted `shopfloor` user, in Inventory / User only (same as `users.restricted`). */
  readonly restricted: SimCredentials;
  /**
   * The seeded users: `admin` (Settings, Inventory and Manufacturing administrator), `integration`
   * (`threadline`, exactly Manufacturing / User — what an integration needs and no more) and
   * `restricted` (`shopfloor`, Inventory / User).
   */
  readonly users: { admin: SimCredentials; integration: SimCredentials; restricted: SimCredentials };
  /** Token of /__sim/faults, /__sim/calls, /__sim/webhooks (header `X-Sim-Token` or bearer). */
  readonly adminToken: string;
  readonly faults: FaultController;
  readonly env: SimEnv;
  /** Rows written around the ORM, as a direct SQL import writes them (no constraints run). */
  readonly sql: SimSql;
  /** RPC calls served (protocol, service, method, model, ok/error); `includeEnv` adds in-process calls. */
  calls(opts?: { includeEnv?: boolean }): CallLogEntry[];
  /** Webhook requests sent (body, status or error, duration). */
  webhookDeliveries(): WebhookDelivery[];
  /**
   * A backup of the database now (records, custom fields and models, sequences, users), and its
   * restore: the Odoo an operator restores from an older backup (what it applied since is gone).
   */
  snapshot(): DatabaseSnapshot;
  restore(snapshot: DatabaseSnapshot): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MAX_BODY = 32 * 1024 * 1024;

/** How long a restore keeps Odoo down (answering 503) unless the request says otherwise. */
export const RESTORE_DOWN_MS = 2_000;
const RestoreSchema = z.object({ downMs: z.number().int().min(0).max(600_000).optional() }).strict();

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function notFoundPage(): Reply {
  return {
    status: 404,
    headers: { "Content-Type": "text/html; charset=utf-8" },
    body:
      "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>" +
      "<p>The requested URL was not found on the server.</p></body></html>\n",
  };
}

export async function startOdooSimulator(options: OdooSimulatorOptions): Promise<OdooSimulator> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) throw ConfigError.fromZod(parsed.error, "odoo simulator options");
  const o = parsed.data;
  const profile = getProfile(o.profile);
  const clock = o.clock ?? (() => new Date());
  if (o.webhooks.length > 0 && !profile.webhooks)
    throw new ConfigError(
      "webhooks",
      `need Odoo 17 or later: "Send Webhook Notification" server actions do not exist in ${profile.serverVersion}`,
    );

  const snapshots = new Map<string, DatabaseSnapshot>();
  const db = new Database(
    o.db,
    profile,
    clock,
    allModels(profile, { quality: o.quality }),
    baseMethods(profile),
  );
  installAccessCheck(db);
  for (const [i, rule] of o.webhooks.entries()) {
    const model = db.models.get(rule.model);
    if (!model)
      throw new ConfigError(`webhooks.${i}.model`, `names no model of the simulator: ${rule.model}`);
    for (const f of [...(rule.fields ?? []), ...(rule.triggerFields ?? [])])
      if (!(f in model.fields))
        throw new ConfigError(`webhooks.${i}.fields`, `names no field of ${rule.model}: ${f}`);
  }
  const secret = (bytes: number) => randomBytes(bytes).toString("hex");
  const users = {
    admin: {
      login: o.users.admin?.login ?? "admin",
      password: o.users.admin?.password ?? secret(8),
      apiKey: o.users.admin?.apiKey ?? secret(20),
    },
    integration: {
      login: o.users.integration?.login ?? "threadline",
      password: o.users.integration?.password ?? secret(8),
      apiKey: o.users.integration?.apiKey ?? secret(20),
    },
    restricted: {
      login: o.users.restricted?.login ?? "shopfloor",
      password: o.users.restricted?.password ?? secret(8),
      apiKey: o.users.restricted?.apiKey ?? secret(20),
    },
  };
  seedDatabase(db, { seed: o.seed, users, quality: o.quality, onHand: o.onHand });
  recordXmlIds(db);
  const uidOf = (login: string) => [...db.users.values()].find((u) => u.login === login)?.id ?? 0;

  const webhooks = new WebhookDispatcher(o.webhooks as WebhookRule[], o.webhookTimeoutMs);
  const service = new OdooService(db, webhooks);
  const faults = new Faults(o.seed);
  const sessions = new WebSessions();
  const adminToken = o.adminToken ?? secret(16);

  const gate = async (call: CallKey): Promise<Gate> => {
    const d = faults.decide(call);
    if (d.latencyMs > 0) await sleep(d.latencyMs);
    if (!d.action) return { kind: "proceed" };
    service.log({
      protocol: call.protocol,
      service: call.service,
      method: call.method,
      model: call.model,
      ok: false,
      error: `fault:${d.action.kind}`,
    });
    switch (d.action.kind) {
      case "http_error":
        return {
          kind: "reply",
          reply: {
            status: d.action.status,
            headers: { "Content-Type": "text/html" },
            body: proxyErrorPage(d.action.status),
          },
        };
      case "timeout":
        return { kind: "hang" };
      case "serialization_failure":
        return { kind: "raise", error: new SerializationFailure() };
      case "session_expired":
        sessions.expireAll();
        return { kind: "raise", error: new SessionExpired() };
    }
  };
  const ctx: HandlerContext = { service, profile, gate };

  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => void handle(req, res));
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5000;

  const send = (res: ServerResponse, reply: Reply) => {
    res.writeHead(reply.status, { ...reply.headers, "Content-Length": Buffer.byteLength(reply.body) });
    res.end(reply.body);
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new Error("request body too large"));
          req.destroy();
        } else chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });

  // Calls being served (a call can await between its checks and its database work): a restore waits
  // for them, as stopping Odoo lets its workers finish their requests before the database goes.
  const inFlight = { count: 0, idle: [] as (() => void)[] };
  const served = () =>
    inFlight.count === 0 ? Promise.resolve() : new Promise<void>((resolve) => inFlight.idle.push(resolve));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      return;
    }
    const path = new URL(req.url ?? "/", "http://sim").pathname;
    const method = req.method ?? "GET";
    try {
      if (path.startsWith("/__sim/")) return send(res, await admin(path, method, req.headers, body));
      if (faults.outageMode === "503")
        return send(res, {
          status: 503,
          headers: { "Content-Type": "text/html" },
          body: proxyErrorPage(503),
        });
      let result: HandlerResult;
      inFlight.count++;
      try {
        result = await route(path, method, req.headers, body);
      } finally {
        inFlight.count--;
        if (inFlight.count === 0) for (const wake of inFlight.idle.splice(0)) wake();
      }
      if (result === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      send(res, result);
    } catch (err) {
      send(res, {
        status: 500,
        headers: { "Content-Type": "text/plain" },
        body: `simulator error: ${(err as Error).stack}`,
      });
    }
  }

  async function route(
    path: string,
    method: string,
    headers: IncomingMessage["headers"],
    body: string,
  ): Promise<HandlerResult> {
    if (path === "/jsonrpc" && method === "POST") return handleJsonRpc(body, ctx);
    const xml = /^\/xmlrpc\/(2\/)?(common|object|db)$/.exec(path);
    if (xml && method === "POST") return handleXmlRpc(xml[2] as string, body, xml[1] === undefined, ctx);
    if ((path === "/json/2" || path.startsWith("/json/2/")) && profile.json2)
      return handleJson2(path, method, headers, body, ctx);
    if (path.startsWith("/web/")) {
      const r = await handleWeb(path, method, headers, body, sessions, ctx);
      if (r) return r;
    }
    return notFoundPage();
  }

  async function admin(
    path: string,
    method: string,
    headers: IncomingMessage["headers"],
    body: string,
  ): Promise<Reply> {
    const json = (status: number, value: unknown): Reply => ({
      status,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(value),
    });
    const auth = headers["authorization"];
    const token =
      headers["x-sim-token"] ?? (typeof auth === "string" ? /^bearer\s+(.+)$/i.exec(auth)?.[1] : undefined);
    if (token !== adminToken) return json(401, { error: "missing or wrong token: send X-Sim-Token" });
    if (path === "/__sim/calls" && method === "GET")
      return json(
        200,
        service.calls.filter((c) => c.protocol !== "env"),
      );
    if (path === "/__sim/webhooks" && method === "GET") return json(200, webhooks.deliveries);
    // A backup taken now, and its restore (an Odoo restored from an older backup).
    if (path === "/__sim/snapshots" && method === "POST") {
      const id = `s${snapshots.size + 1}`;
      snapshots.set(id, db.snapshot());
      return json(201, { id });
    }
    const restoring = /^\/__sim\/snapshots\/([\w-]+)\/restore$/.exec(path);
    if (restoring && method === "POST") {
      const snapshot = snapshots.get(restoring[1] as string);
      if (!snapshot) return json(404, { error: `no snapshot ${restoring[1]}` });
      let downMs = RESTORE_DOWN_MS;
      if (body.trim() !== "") {
        const input = RestoreSchema.safeParse(safeJson(body));
        if (!input.success)
          return json(400, {
            error: input.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
          });
        downMs = input.data.downMs ?? downMs;
      }
      // A database is restored with Odoo stopped (PostgreSQL cannot replace it under open
      // connections): calls meet the proxy's 503 while it is down, then the restored database.
      if (downMs > 0) {
        await faults.outage({ mode: "503", durationMs: downMs });
        await served();
      }
      db.restore(snapshot);
      return json(200, { restored: restoring[1], downMs });
    }
    if (path === "/__sim/faults") {
      if (method === "GET") return json(200, { rules: faults.list(), outage: faults.outageMode ?? null });
      if (method === "DELETE") {
        setImmediate(() => void faults.clear());
        return json(200, { cleared: true });
      }
      if (method === "POST") {
        let input: unknown;
        try {
          input = JSON.parse(body);
        } catch {
          return json(400, { error: "body is not JSON" });
        }
        if (input && typeof input === "object" && "outage" in input) {
          const outage = OutageSchema.safeParse((input as { outage: unknown }).outage);
          if (!outage.success)
            return json(400, {
              error: outage.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
            });
          if (outage.data.mode === "refuse" && outage.data.durationMs === undefined)
            return json(400, {
              error:
                'outage.durationMs is required for a "refuse" outage started over HTTP: the listener closes, so no request could end it',
            });
          // Answer first: a "refuse" outage closes this very connection.
          setImmediate(() => void faults.outage(outage.data));
          return json(202, { outage: outage.data });
        }
        const rule = FaultRuleSchema.safeParse(input);
        if (!rule.success)
          return json(400, {
            error: rule.error.issues.map((i) => `${i.path.join(".") || "rule"}: ${i.message}`).join("; "),
          });
        return json(201, { id: faults.add(rule.data) });
      }
    }
    const one = /^\/__sim\/faults\/([\w-]+)$/.exec(path);
    if (one && method === "DELETE") return json(faults.remove(one[1] as string) ? 200 : 404, { id: one[1] });
    return json(404, { error: `no admin route ${method} ${path}` });
  }

  let port = o.port;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, o.host, () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const closeListener = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  faults.attach({
    begin: async (mode) => {
      if (mode === "refuse") await closeListener();
    },
    end: async () => {
      if (!server.listening) await listen();
    },
  });
  await listen();

  const adminCreds: SimCredentials = { ...users.admin, uid: uidOf(users.admin.login) };
  const restrictedCreds: SimCredentials = { ...users.restricted, uid: uidOf(users.restricted.login) };
  const integrationCreds: SimCredentials = { ...users.integration, uid: uidOf(users.integration.login) };
  const envCall = (
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ) => service.call({ protocol: "env", uid: adminCreds.uid, model, method, args, kwargs });
  const optsKw = (opts: SearchOpts = {}) => {
    const kw: Record<string, unknown> = {};
    if (opts.offset !== undefined) kw["offset"] = opts.offset;
    if (opts.limit !== undefined) kw["limit"] = opts.limit;
    if (opts.order !== undefined) kw["order"] = opts.order;
    if (opts.context !== undefined) kw["context"] = opts.context;
    return kw;
  };
  const env: SimEnv = {
    search: async (model, domain = [], opts) =>
      (await envCall(model, "search", [domain], optsKw(opts))) as number[],
    searchRead: async (model, domain = [], fields, opts) =>
      (await envCall(model, "search_read", [domain], {
        ...optsKw(opts),
        ...(fields ? { fields } : {}),
      })) as Vals[],
    read: async (model, ids, fields) =>
      (await envCall(model, "read", [ids], fields ? { fields } : {})) as Vals[],
    create: async (model, vals, context) =>
      (await envCall(model, "create", [vals], context ? { context } : {})) as number,
    write: async (model, ids, vals, context) =>
      (await envCall(model, "write", [ids, vals], context ? { context } : {})) as boolean,
    unlink: async (model, ids) => (await envCall(model, "unlink", [ids])) as boolean,
    call: envCall,
    ref: (xmlId) => {
      const r = db.xmlIds.get(xmlId);
      if (!r) throw new RangeError(`no seeded record with xml id ${xmlId}`);
      return r.id;
    },
  };

  const sql: SimSql = {
    insert: (model, vals) => db.transaction((tx) => db.superuserEnv(tx).insertRaw(model, vals)),
    update: (model, ids, vals) => db.transaction((tx) => db.superuserEnv(tx).updateRaw(model, ids, vals)),
  };

  let stopped = false;
  return {
    get url() {
      return `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}`;
    },
    db: o.db,
    profile,
    credentials: adminCreds,
    restricted: restrictedCreds,
    users: { admin: adminCreds, integration: integrationCreds, restricted: restrictedCreds },
    adminToken,
    faults,
    env,
    sql,
    calls: (opts = {}) => service.calls.filter((c) => opts.includeEnv || c.protocol !== "env"),
    webhookDeliveries: () => [...webhooks.deliveries],
    snapshot: () => db.snapshot(),
    restore: (snapshot) => db.restore(snapshot),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await faults.clear().catch(() => undefined);
      for (const res of hanging) res.socket?.destroy();
      await closeListener();
    },
  };
}
