/**
 * The console's quality and genealogy API (guard.ts: session, role, CSRF, zod): holds with their
 * evidence, one hold, a hold's decision (the quality role; audited, refusals too), the deliveries the
 * shipment gate watches, the charted characteristics and one's control chart, a lot's trace and its
 * recall report. The data is the quality service's and the genealogy builder's, asked over HTTP with
 * the console's tokens (views/upstream.ts); without a token configured, their routes say so.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { type GenealogyView, MAX_TRACE_DEPTH } from "../views/genealogy.js";
import { CHART_POINTS, type QualityView } from "../views/quality.js";
import { notConfigured } from "../views/upstream.js";
import { timeOf } from "./api-routes.js";
import { consoleRoute, type GuardDeps, whenReady } from "./guard.js";

/** What the routes ask; undefined while the console starts. */
export interface UpstreamViews {
  /** Undefined: QUALITY_API_TOKEN is not set. */
  readonly quality: QualityView | undefined;
  /** Undefined: GENEALOGY_API_TOKEN is not set. */
  readonly genealogy: GenealogyView | undefined;
}

const HoldParams = z.strictObject({
  holdId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "is not a hold id" })
    .refine((v) => v !== "." && v !== "..", { error: "is not a hold id" }),
});
const HoldsQuery = z.strictObject({
  status: z
    .enum(["active", "released", "rejected", "all"], {
      error: "must be active, released, rejected or all",
    })
    .default("active"),
});
const DecisionBody = z.strictObject({
  disposition: z.enum(["release", "scrap", "rework", "return"], {
    error: "must be release, scrap, rework or return",
  }),
  comment: z
    .string({ error: "must say why" })
    .trim()
    .min(3, { error: "must say why, in at least 3 characters" })
    .max(1800, { error: "must be at most 1800 characters" }),
});
const ShipmentsQuery = z.strictObject({
  all: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
});
const ChartParams = z.strictObject({
  characteristic: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: "is not a characteristic id of the quality plan" }),
});
const ChartQuery = z.strictObject({
  since: z.string().trim().min(1, { error: "must not be empty" }).max(64).optional(),
  points: z.coerce
    .number({ error: "must be a number" })
    .int()
    .min(1, { error: "must be at least 1" })
    .max(10_000, { error: "must be at most 10000" })
    .optional(),
});
const LotParams = z.strictObject({
  lot: z.string().min(1, { error: "must not be empty" }).max(256, { error: "is too long for a lot name" }),
});
const product = z.string().trim().min(1, { error: "must not be empty" }).max(128).optional();
const TraceQuery = z.strictObject({
  direction: z.enum(["backward", "forward"], { error: "must be backward or forward" }),
  depth: z.coerce
    .number({ error: "must be a number" })
    .int()
    .min(1, { error: "must be at least 1" })
    .max(MAX_TRACE_DEPTH, { error: `must be at most ${MAX_TRACE_DEPTH}` })
    .default(1),
  product,
});
const RecallQuery = z.strictObject({ product });

export function registerQualityRoutes(
  app: FastifyInstance,
  deps: GuardDeps,
  views: () => UpstreamViews | undefined,
): void {
  const ready = whenReady(views);
  const quality = (): QualityView => {
    const q = ready().quality;
    if (!q) throw notConfigured("quality service", "QUALITY_URL and QUALITY_API_TOKEN");
    return q;
  };
  const genealogy = (): GenealogyView => {
    const g = ready().genealogy;
    if (!g) throw notConfigured("genealogy builder", "GENEALOGY_URL and GENEALOGY_API_TOKEN");
    return g;
  };

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/quality/holds", action: "view", query: HoldsQuery },
    async ({ query }) => quality().holds(query.status),
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/quality/holds/:holdId", action: "view", params: HoldParams },
    async ({ params }) => quality().hold(params.holdId),
  );

  consoleRoute(
    app,
    deps,
    {
      method: "POST",
      url: "/api/quality/holds/:holdId/decision",
      action: "decideHold",
      params: HoldParams,
      body: DecisionBody,
    },
    async ({ params, body, identity }) => {
      const decided = await quality().decide(params.holdId, body, identity);
      deps.logger.info(
        { user: identity.name, holdId: params.holdId, disposition: body.disposition, status: decided.status },
        "console hold decision",
      );
      return decided;
    },
  );

  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/quality/shipments", action: "view", query: ShipmentsQuery },
    async ({ query }) => quality().shipments(query.all === "true"),
  );

  consoleRoute(app, deps, { method: "GET", url: "/api/quality/characteristics", action: "view" }, async () =>
    quality().characteristics(),
  );

  consoleRoute(
    app,
    deps,
    {
      method: "GET",
      url: "/api/quality/charts/:characteristic",
      action: "view",
      params: ChartParams,
      query: ChartQuery,
    },
    async ({ params, query }) => {
      const since = timeOf("since", query.since);
      return quality().chart(params.characteristic, {
        ...(since ? { since } : {}),
        maxPoints: query.points ?? CHART_POINTS,
      });
    },
  );

  consoleRoute(
    app,
    deps,
    {
      method: "GET",
      url: "/api/genealogy/lots/:lot/trace",
      action: "view",
      params: LotParams,
      query: TraceQuery,
    },
    async ({ params, query }) =>
      genealogy().trace(params.lot, {
        direction: query.direction,
        depth: query.depth,
        ...(query.product ? { product: query.product } : {}),
      }),
  );

  consoleRoute(
    app,
    deps,
    {
      method: "GET",
      url: "/api/genealogy/lots/:lot/recall",
      action: "view",
      params: LotParams,
      query: RecallQuery,
    },
    async ({ params, query }) =>
      genealogy().recall(params.lot, query.product ? { product: query.product } : {}),
  );
}
