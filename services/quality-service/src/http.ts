/**
 * The quality service's HTTP API, for the systems and people without a NATS client: a lab records
 * inspections, a quality engineer places and decides holds, anyone with `read` sees holds, watched
 * deliveries, charts and the reconciliation. `threadline quality inspect|holds|hold|release|reconcile`
 * call it.
 *
 * Every route needs `Authorization: Bearer <token>` of a user of QUALITY_USERS_FILE with the route's
 * role (users.ts); a refusal is 401/403 and logged with the user and what was refused. A body or
 * parameter that is not valid is refused before anything is published (400, naming the field). Errors
 * answer `{ error: { code, message } }` with the code's status (errors.ts HTTP_STATUS).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Logger } from "../../../streams/src/index.js";
import { HTTP_STATUS, QualityError, QualityErrorCode } from "./errors.js";
import type { ApiUser, ApiUsers, Role } from "./users.js";

/** What the routes ask of the running service (main.ts gives it once its state is loaded). */
export interface QualityApi {
  recordInspection(input: InspectionInput, by: string): Promise<unknown>;
  holds(filter: HoldsQuery): unknown;
  hold(holdId: string): unknown;
  placeHold(input: PlaceHoldInput, by: string): Promise<unknown>;
  decide(holdId: string, input: DecisionInput, by: string): Promise<unknown>;
  shipments(all: boolean): unknown;
  characteristics(): unknown;
  reconcile(): unknown;
}

const text = (max: number) => z.string().trim().min(1, { error: "must not be empty" }).max(max);
const finite = z.number({ error: "must be a number" }).refine(Number.isFinite, "must be a finite number");
const time = z.iso.datetime({
  offset: true,
  error: "must be an ISO-8601 time with its zone, e.g. 2026-12-05T06:00:00Z",
});

export const InspectionInput = z.strictObject({
  inspectionId: text(128).optional(),
  site: text(64),
  lot: text(128),
  product: text(128),
  productName: text(256).optional(),
  orderRef: text(128).optional(),
  characteristic: text(128),
  measuredValues: z.array(finite).max(10_000).default([]),
  unit: text(32).optional(),
  lowerSpecLimit: finite.optional(),
  upperSpecLimit: finite.optional(),
  result: z.enum(["PASS", "FAIL"]).optional(),
  inspectedBy: text(128).optional(),
  inspectedAt: time.optional(),
});
export type InspectionInput = z.infer<typeof InspectionInput>;

const Scope = z.strictObject({
  forward: z.boolean().default(true),
  backward: z.boolean().default(false),
  depth: z.number().int().min(1).max(50).default(10),
});

export const PlaceHoldInput = z.strictObject({
  site: text(64),
  lot: text(128),
  product: text(128),
  reason: text(1000),
  scope: Scope.optional(),
});
export type PlaceHoldInput = z.infer<typeof PlaceHoldInput>;

export const DecisionInput = z.strictObject({
  disposition: z.enum(["release", "scrap", "rework", "return"], {
    error: "must be release, scrap, rework or return",
  }),
  comment: z.string().trim().min(3, { error: "must say why, in at least 3 characters" }).max(2000),
});
export type DecisionInput = z.infer<typeof DecisionInput>;

export const HoldsQuery = z.strictObject({
  status: z.enum(["active", "released", "rejected", "all"]).default("active"),
  lot: text(128).optional(),
  product: text(128).optional(),
});
export type HoldsQuery = z.infer<typeof HoldsQuery>;

const HOLD_PARAMS = z.strictObject({
  holdId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "is not a hold id"),
});
const NONE = z.strictObject({});
const SHIPMENTS_QUERY = z.strictObject({
  all: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
});

interface RouteSpec {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly role: Role;
  readonly description: string;
}

const SPECS = [
  {
    method: "POST",
    path: "/quality/inspections",
    role: "inspect",
    description:
      "Record an inspection (published as InspectionRecorded); out of spec raises a nonconformance.",
  },
  {
    method: "GET",
    path: "/quality/holds",
    role: "read",
    description: "Holds, active by default (?status=all|released|rejected, ?lot=, ?product=).",
  },
  {
    method: "POST",
    path: "/quality/holds",
    role: "hold",
    description: "Place a hold by hand on a lot, with its scope through the genealogy.",
  },
  {
    method: "GET",
    path: "/quality/holds/:holdId",
    role: "read",
    description: "One hold, with its decision.",
  },
  {
    method: "POST",
    path: "/quality/holds/:holdId/decision",
    role: "release",
    description: "Release a hold, or reject it for scrap, rework or return, with a comment.",
  },
  {
    method: "GET",
    path: "/quality/shipments",
    role: "read",
    description: "The deliveries the shipment gate watches, with its decision.",
  },
  {
    method: "GET",
    path: "/quality/characteristics",
    role: "read",
    description: "The charted characteristics: limits, open SPC episodes.",
  },
  {
    method: "GET",
    path: "/quality/reconcile",
    role: "read",
    description: "Lots delivered while on hold (escapes) and the holds Odoo should show.",
  },
] as const satisfies readonly RouteSpec[];

/** The routes as the manifest declares them. */
export const QUALITY_ROUTES: readonly {
  method: "GET" | "POST";
  path: string;
  auth: "bearer";
  description: string;
}[] = SPECS.map((s) => ({
  method: s.method,
  path: s.path,
  auth: "bearer",
  description: `${s.description} Role: ${s.role}.`,
}));

function parse<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join(".") || where;
  throw new QualityError(
    QualityErrorCode.RequestInvalid,
    `${where === "body" ? "" : `${where} `}${field}: ${issue?.message ?? "is invalid"}`,
  );
}

function answer(reply: FastifyReply, err: unknown, logger: Logger, req: FastifyRequest): FastifyReply {
  if (err instanceof QualityError) {
    if (HTTP_STATUS[err.code] === 503) reply.header("retry-after", "5");
    return reply.code(HTTP_STATUS[err.code]).send({ error: { code: err.code, message: err.message } });
  }
  logger.error({ err, route: req.routeOptions.url }, "quality API request failed");
  return reply.code(500).send({
    error: {
      code: QualityErrorCode.RequestFailed,
      message: `the request failed: ${(err as Error)?.message ?? String(err)}`,
    },
  });
}

export function registerQualityRoutes(
  app: FastifyInstance,
  options: { users: ApiUsers; api: () => QualityApi | undefined; logger: Logger },
): void {
  const { users, logger } = options;
  const api = (): QualityApi => {
    const a = options.api();
    if (!a)
      throw new QualityError(
        QualityErrorCode.NotReady,
        "the quality service is starting: its state is not loaded yet; try again in a few seconds",
      );
    return a;
  };
  const authorize = (req: FastifyRequest, role: Role): ApiUser => {
    const header = req.headers.authorization ?? "";
    const token = /^Bearer (.+)$/i.exec(header)?.[1]?.trim();
    const user = token ? users.authenticate(token) : undefined;
    if (!user) {
      logger.warn(
        { route: req.routeOptions.url, method: req.method, ip: req.ip },
        "quality API: refused, no valid token",
      );
      throw new QualityError(
        QualityErrorCode.Unauthorized,
        token
          ? "the bearer token is not one of QUALITY_USERS_FILE's users"
          : "Authorization: Bearer <token> is required",
      );
    }
    if (!user.roles.has(role)) {
      logger.warn(
        { user: user.name, route: req.routeOptions.url, method: req.method, needs: role },
        "quality API: refused, role missing",
      );
      throw new QualityError(
        QualityErrorCode.Forbidden,
        `${user.name} may not do this: it needs the role ${role}`,
      );
    }
    return user;
  };
  type Handler = (req: FastifyRequest, user: ApiUser, reply: FastifyReply) => Promise<unknown> | unknown;
  const handlers: Record<string, Handler> = {
    "POST /quality/inspections": async (req, user, reply) => {
      const body = parse(InspectionInput, req.body, "body");
      reply.code(201);
      return api().recordInspection(body, user.name);
    },
    "GET /quality/holds": (req) => api().holds(parse(HoldsQuery, req.query, "query")),
    "POST /quality/holds": async (req, user, reply) => {
      const body = parse(PlaceHoldInput, req.body, "body");
      parse(NONE, req.query, "query");
      reply.code(201);
      return api().placeHold(body, user.name);
    },
    "GET /quality/holds/:holdId": (req) => api().hold(parse(HOLD_PARAMS, req.params, "path").holdId),
    "POST /quality/holds/:holdId/decision": (req, user) =>
      api().decide(
        parse(HOLD_PARAMS, req.params, "path").holdId,
        parse(DecisionInput, req.body, "body"),
        user.name,
      ),
    "GET /quality/shipments": (req) =>
      api().shipments(parse(SHIPMENTS_QUERY, req.query, "query").all === "true"),
    "GET /quality/characteristics": (req) => {
      parse(NONE, req.query, "query");
      return api().characteristics();
    },
    "GET /quality/reconcile": (req) => {
      parse(NONE, req.query, "query");
      return api().reconcile();
    },
  };
  for (const spec of SPECS) {
    const handler = handlers[`${spec.method} ${spec.path}`] as Handler;
    app.route({
      method: spec.method,
      url: spec.path,
      handler: async (req, reply) => {
        try {
          const user = authorize(req, spec.role);
          return await handler(req, user, reply);
        } catch (err) {
          return answer(reply, err, logger, req);
        }
      },
    });
  }
}
