/**
 * Replays from the console: the durables that can take one, a preview (the dry run), a start, the
 * jobs with their progress, and a stop. Reads need `viewer`; start and stop need `operator`.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { auditWhoOf } from "../views/audit.js";
import type { Replays } from "../views/replays.js";
import { consoleRoute, type GuardDeps, whenReady } from "./guard.js";

const text = (max: number) => z.string().trim().min(1, { error: "must not be empty" }).max(max);
const optional = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .transform((v) => v || undefined);

const ReplayBody = z.strictObject({
  stream: text(64).regex(/^[A-Z][A-Z0-9_]*$/, "must be a stream name such as MFG_PRODUCTION"),
  durable: text(128).regex(/^[A-Za-z0-9_-]+$/, "must be a durable's name"),
  subject: optional(256),
  type: optional(256),
  since: optional(64),
  until: optional(64),
  seq: optional(64),
  key: optional(256),
  rate: z.number().positive({ error: "must be > 0 events per second" }).max(100_000).optional(),
  /** A stopped job of this console, resumed from its saved position. */
  job: z
    .string()
    .regex(/^console-[A-Za-z0-9_.-]{1,180}$/, "must be a job of this console (console-…)")
    .optional(),
  dryRun: z.boolean().default(true),
});
const JobParams = z.strictObject({ job: text(200).regex(/^[A-Za-z0-9_.-]+$/, "is not a job id") });

export function registerReplayRoutes(
  app: FastifyInstance,
  deps: GuardDeps,
  replays: () => Replays | undefined,
): void {
  const ready = whenReady(replays);
  consoleRoute(app, deps, { method: "GET", url: "/api/replays/targets", action: "view" }, async () => ({
    items: await ready().targets(),
  }));
  consoleRoute(app, deps, { method: "GET", url: "/api/replays", action: "view" }, async () => ({
    items: await ready().list(),
  }));
  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/replays/:job", action: "view", params: JobParams },
    async ({ params }) => ready().get(params.job),
  );
  // The dry run is an operator's too: it is the first half of the action, and says what the durable holds.
  consoleRoute(
    app,
    deps,
    { method: "POST", url: "/api/replays", action: "replay", body: ReplayBody },
    async ({ body, identity, reply }) => {
      const { dryRun, ...request } = body;
      if (dryRun) return { dryRun: true, ...(await ready().preview(request)) };
      const job = await ready().begin(request, auditWhoOf(identity));
      deps.logger.info(
        { user: identity.name, job: job.job, durable: request.durable },
        "console replay started",
      );
      return reply.code(202).send({ dryRun: false, ...job });
    },
  );
  consoleRoute(
    app,
    deps,
    { method: "POST", url: "/api/replays/:job/stop", action: "replay", params: JobParams },
    async ({ params, identity }) => ready().stop(params.job, auditWhoOf(identity)),
  );
}
