/**
 * The small HTTP server every service runs: `/metrics` (Prometheus), `/healthz` (the process is
 * alive) and `/readyz` (it can do its work: NATS connected, consumers running, not paused).
 * Probes stay unauthenticated (they reveal only up/down); `/metrics` can require a bearer token.
 */
import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { defaultRegistry } from "./metrics.js";

/** Something whose readiness `/readyz` reports (the NATS connection, a consumer, …). */
export interface ReadinessCheck {
  readonly name: string;
  /** `ok: false` with a reason makes `/readyz` answer 503. */
  check(): { ok: boolean; reason?: string };
}

export interface HealthServerOptions {
  /** @default the process's default registry */
  registry?: Registry;
  checks?: ReadinessCheck[];
  /** Bearer token required on /metrics. @default none */
  metricsToken?: string;
}

/**
 * Whether an Authorization header carries `Bearer <token>`, compared in constant time so that the time
 * taken does not tell how much of a guess was right. An empty token never matches: a route behind it
 * must not open up because its secret was left unset.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (token === "") return false;
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function createHealthServer(options: HealthServerOptions = {}): FastifyInstance {
  const registry = options.registry ?? defaultRegistry;
  const checks = options.checks ?? [];
  // Path parameters carry business keys (a lot name such as LOT/2026/001, URL-encoded): room for long ones.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 512 } });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const results = checks.map((c) => ({ name: c.name, ...c.check() }));
    const ready = results.every((r) => r.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks: results });
  });

  app.get("/metrics", async (req, reply) => {
    if (options.metricsToken && !tokenMatches(req.headers.authorization, options.metricsToken)) {
      return reply
        .code(401)
        .header("www-authenticate", "Bearer")
        .send({ error: "a bearer token is required" });
    }
    return reply.header("content-type", registry.contentType).send(await registry.metrics());
  });

  return app;
}
