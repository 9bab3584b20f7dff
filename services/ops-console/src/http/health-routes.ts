/** Business health over a window (viewer): `GET /api/health?window=24h` — 1h to 7d, in 24 buckets. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Health } from "../views/health.js";
import { consoleRoute, type GuardDeps, whenReady } from "./guard.js";

const WINDOW = /^(\d+)(h|d)$/;
const HealthQuery = z.strictObject({
  window: z
    .string()
    .regex(WINDOW, "must be hours or days, e.g. 6h, 24h, 7d")
    .refine((w) => {
      // zod runs this check after a failed regex too: that one has said what is wrong.
      const m = WINDOW.exec(w);
      if (!m) return true;
      const [, n, unit] = m;
      const hours = Number(n) * (unit === "d" ? 24 : 1);
      return hours >= 1 && hours <= 7 * 24;
    }, "must be between 1h and 7d")
    .default("24h"),
});

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: GuardDeps,
  health: () => Health | undefined,
): void {
  consoleRoute(
    app,
    deps,
    { method: "GET", url: "/api/health", action: "view", query: HealthQuery },
    async ({ query }) => {
      const h = whenReady(health)();
      const [, n, unit] = WINDOW.exec(query.window)!;
      const windowMs = Number(n) * (unit === "d" ? 86_400_000 : 3_600_000);
      return h.overview({ windowMs, buckets: 24 });
    },
  );
}
