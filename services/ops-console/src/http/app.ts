/**
 * The console's HTTP application, in its own fastify scope beside the service's /metrics, /healthz and
 * /readyz: cookies, security headers (a strict Content-Security-Policy: only this origin's scripts,
 * styles and connections; no framing; no referrer), no caching of API answers, errors as
 * `{ error: { code, message } }`, then the sign-in routes, the API and the page.
 */
import fastifyCookie from "@fastify/cookie";
import fastifyHelmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";
import { loadAssets, registerAssets } from "./assets.js";
import { type AuthDeps, registerAuthRoutes } from "./auth-routes.js";
import { sendError } from "./guard.js";

export interface ConsoleAppOptions extends AuthDeps {
  /** The API routes (api-routes.ts), registered in the same scope. */
  readonly api: (scope: FastifyInstance) => void;
  /** The built page's folder. @default assets.ts WEB_DIR */
  readonly webDir?: string;
}

export async function registerConsoleApp(app: FastifyInstance, options: ConsoleAppOptions): Promise<void> {
  const assets = loadAssets(options.webDir);
  await app.register(async (scope) => {
    await scope.register(fastifyCookie);
    await scope.register(fastifyHelmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      referrerPolicy: { policy: "no-referrer" },
      strictTransportSecurity: options.cookies.secure ? { maxAge: 31_536_000 } : false,
      crossOriginEmbedderPolicy: false,
    });
    scope.addHook("onSend", async (request, reply, payload) => {
      if (request.url.startsWith("/api/") || request.url.startsWith("/auth/"))
        reply.header("cache-control", "no-store");
      return payload;
    });
    scope.setErrorHandler((thrown, request, reply) => {
      if (thrown instanceof ConsoleError) return sendError(reply, thrown);
      const err = thrown as Error & { statusCode?: number };
      const status = err.statusCode;
      if (status !== undefined && status >= 400 && status < 500)
        return sendError(reply, new ConsoleError(ConsoleErrorCode.RequestInvalid, err.message));
      options.logger.error({ err, url: request.url }, "console request failed");
      return sendError(
        reply,
        new ConsoleError(ConsoleErrorCode.UpstreamFailed, `the request failed: ${err.message}`),
      );
    });
    scope.setNotFoundHandler((request, reply) =>
      sendError(
        reply,
        new ConsoleError(ConsoleErrorCode.NotFound, `no such page or API: ${request.method} ${request.url}`),
      ),
    );
    registerAuthRoutes(scope, options);
    options.api(scope);
    registerAssets(scope, assets);
  });
}
