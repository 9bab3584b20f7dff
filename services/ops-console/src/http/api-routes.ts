/**
 * The console's JSON API, each route with the action (and so the role) it needs and zod schemas for
 * what it takes (guard.ts). Reads need `viewer`; redrive and purge need `operator`. Times in filters are
 * ISO-8601 or relative to now (`90s`, `15m`, `2h`, `3d`), like the CLI's.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AUDIT_ACTIONS, type AuditAction, ConfigError, parseTime } from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";
import { type AuditTrail, auditWhoOf } from "../views/audit.js";
import type { DeadLetters } from "../views/dead-letters.js";
import type { LiveFeed } from "../views/live.js";
import type { OdooConnectorStatus } from "../views/odoo-connector.js";
import type { Orders } from "../views/orders.js";
import type { Plants } from "../views/plants.js";
import { consoleRoute, type GuardDeps, requireSession, whenReady } from "./guard.js";

/** What the routes read from; undefined while the service starts. */
export interface ConsoleViews {
  readonly audit: AuditTrail;
  /** Undefined: ODOO_CONNECTOR_URL is not set. */
  readonly odooConnector: OdooConnectorStatus | undefined;
  readonly deadLetters: DeadLetters;
  readonly orders: Orders;
  readonly plants: Plants;
  readonly live: LiveFeed;
}

const text = (max: number) => z.string().trim().min(1, { error: "must not be empty" }).max(max);
const time = text(64).optional();
const sequences = z
  .array(z.number({ error: "must be a number" }).int().positive({ error: "must be a sequence of MFG_DLQ" }))
  .min(1, { error: "name at least one dead letter" })
  .max(200, { error: "at most 200 at once" });

const DeadLetterQuery = z.strictObject({
  stream: text(64).optional(),
  consumer: text(128).optional(),
  code: text(256).optional(),
  type: text(256).optional(),
  since: time,
  until: time,
  text: text(200).optional(),
});
const SeqParams = z.strictObject({
  seq: z.coerce
    .number({ error: "must be a number" })
    .int()
    .positive({ error: "must be a sequence of MFG_DLQ" }),
});
const RedriveBody = z.strictObject({
  sequences,
  dryRun: z.boolean().default(false),
  /** How long to wait for the service to handle them. */
  waitSeconds: z
    .number()
    .min(0)
    .max(50, { error: "must be at most 50: an ingress answers 504 after 60 s" })
    .default(20),
});
const PurgeBody = z.strictObject({ sequences, dryRun: z.boolean().default(false) });
const OrdersQuery = z.strictObject({
  stuck: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
  since: time,
});
const OrderParams = z.strictObject({
  ref: z.string().min(1).max(128, { error: "is too long for an order reference" }),
});
const AuditQuery = z.strictObject({
  since: time,
  action: z.enum(AUDIT_ACTIONS as [AuditAction, ...AuditAction[]]).optional(),
});

/** `since` as a Date; 400 naming the parameter when it is not a time. */
export function timeOf(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  try {
    return parseTime(name, value);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new ConsoleError(ConsoleErrorCode.RequestInvalid, `query.${err.message}`);
    throw err;
  }
}

export function registerApiRoutes(
  app: FastifyInstance,
  deps: GuardDeps,
  views: () => ConsoleViews | undefined,
): void {
  const ready = whenReady(views);

  consoleRoute(app, deps, { method: "GET", url: "/api/odoo-connector", action: "view" }, async () => {
    const connector = ready().odooConnector;
    return connector ? { configured: true, ...(await connector.status()) } : { configured: false };
  });

  consoleRoute(app, deps, { method: "GET", url: "/api/plants", action: "view" }, async () =>
    ready().plants.overview(),
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/orders", action: "view", query: OrdersQuery },
    async ({ query }) => {
      const since = timeOf("since", query.since);
      return ready().orders.list({ stuck: query.stuck === "true", ...(since ? { since } : {}) });
    },
  );

  consoleRoute(
    app,
    deps,
    {
      method: "GET",
      url: "/api/orders/:ref",
      action: "view",
      params: OrderParams,
      query: z.strictObject({ since: time }),
    },
    async ({ params, query }) => {
      const since = timeOf("since", query.since);
      return ready().orders.timeline(params.ref, since ? { since } : {});
    },
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/dead-letters", action: "view", query: DeadLetterQuery },
    async ({ query }) => ready().deadLetters.list(query),
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/dead-letters/:seq", action: "view", params: SeqParams },
    async ({ params }) => ready().deadLetters.show(params.seq),
  );

  consoleRoute(
    app,
    deps,
    { method: "POST", url: "/api/dead-letters/redrive", action: "redrive", body: RedriveBody },
    async ({ body, identity }) => {
      const result = await ready().deadLetters.redrive(body.sequences, {
        dryRun: body.dryRun,
        waitMs: body.waitSeconds * 1000,
        who: auditWhoOf(identity),
      });
      deps.logger.info(
        { user: identity.name, sequences: body.sequences, dryRun: body.dryRun },
        "console redrive",
      );
      return result;
    },
  );

  consoleRoute(
    app,
    deps,
    { method: "POST", url: "/api/dead-letters/purge", action: "purge", body: PurgeBody },
    async ({ body, identity }) => {
      const result = await ready().deadLetters.purge(body.sequences, {
        dryRun: body.dryRun,
        who: auditWhoOf(identity),
      });
      deps.logger.info(
        { user: identity.name, sequences: body.sequences, dryRun: body.dryRun },
        "console purge",
      );
      return result;
    },
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/audit", action: "view", query: AuditQuery },
    async ({ query }) => {
      const since = timeOf("since", query.since) ?? new Date(Date.now() - 7 * 86_400_000);
      return ready().audit.list({ since, ...(query.action ? { action: query.action } : {}) });
    },
  );

  // Server-sent events: the page's live updates. The session is checked at the start and every 30 s.
  app.get("/api/live", async (request, reply) => {
    const { token } = await requireSession(deps, request);
    const live = ready().live;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "keep-alive",
    });
    res.write("retry: 3000\n\n");
    const unsubscribe = live.subscribe(
      (e) => res.write(`event: stored\ndata: ${JSON.stringify(e)}\n\n`),
      () => res.end(),
    );
    const beat = setInterval(async () => {
      res.write(": beat\n\n");
      if (
        !(await deps
          .sessions()
          ?.read(token)
          .catch(() => undefined))
      ) {
        res.write(`event: signed-out\ndata: {}\n\n`);
        res.end();
      }
    }, 30_000);
    const close = () => {
      clearInterval(beat);
      unsubscribe();
    };
    res.on("close", close);
    res.on("error", close);
  });
}
