/**
 * The ops console: a web page and its JSON API for ops, quality engineers and planners — plants and
 * connectors, orders and their timelines, dead letters (redrive, purge), quality holds (and their
 * release), SPC charts, lot genealogy, the audit trail — with live updates, sign-in through OpenID
 * Connect or local accounts, and every action checked against the user's role on the server and
 * audited.
 * Run it: `NATS_URL=nats://… CONSOLE_ACCOUNTS_FILE=accounts.json node dist/services/ops-console/src/main.js`
 * (README.md); it acts on NATS with the ops user's grants.
 */
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import {
  type AuditAction,
  ConfigError,
  type RunningService,
  runService,
  sleep,
  startOrExit,
} from "../../../streams/src/index.js";
import { LocalAccounts } from "./accounts.js";
import { ConsoleConfig, isLoopbackHost, roleMapOf } from "./config.js";
import { type ConsoleViews, registerApiRoutes } from "./http/api-routes.js";
import { registerConsoleApp } from "./http/app.js";
import { cookiePolicy } from "./http/cookies.js";
import type { GuardDeps } from "./http/guard.js";
import { registerHealthRoutes } from "./http/health-routes.js";
import { registerQualityRoutes, type UpstreamViews } from "./http/quality-routes.js";
import { registerReplayRoutes } from "./http/replay-routes.js";
import { opsConsoleManifest } from "./manifest.js";
import { consoleMetrics } from "./metrics.js";
import { OidcSignIn } from "./oidc.js";
import type { ConsoleAction } from "./roles.js";
import { SESSIONS_BUCKET, SessionStore } from "./sessions.js";
import { AuditTrail } from "./views/audit.js";
import { DeadLetters } from "./views/dead-letters.js";
import { GenealogyView } from "./views/genealogy.js";
import { Health } from "./views/health.js";
import { LiveFeed } from "./views/live.js";
import { OdooConnectorStatus } from "./views/odoo-connector.js";
import { Orders } from "./views/orders.js";
import { Plants } from "./views/plants.js";
import { QualityView } from "./views/quality.js";
import { Replays } from "./views/replays.js";
import { reportUnreadableWith } from "./views/scan.js";
import { UpstreamClient } from "./views/upstream.js";

/** The console's actions that are ops actions of the audit trail. */
const AUDITED: Partial<Record<ConsoleAction, AuditAction>> = {
  redrive: "redrive",
  purge: "purge",
  replay: "replay",
  decideHold: "hold-decision",
};

/** How often a provider that could not be discovered at start is tried again. */
const OIDC_RETRY_MS = 30_000;

export interface ConsoleStartOptions {
  /** The built page's folder. @default the build's (dist/services/ops-console/web) */
  readonly webDir?: string;
}

export function startService(
  env: Record<string, string | undefined> = process.env,
  options: ConsoleStartOptions = {},
): Promise<RunningService> {
  let sessions: SessionStore | undefined;
  let views: ConsoleViews | undefined;
  let upstream: UpstreamViews | undefined;
  let replays: Replays | undefined;
  let health: Health | undefined;
  let oidc: OidcSignIn | undefined;
  // The console's origin: CONSOLE_PUBLIC_URL's, else the loopback address the server is bound to
  // (known once it listens, which is before `setup` runs).
  let originOf: () => string = () => {
    throw new Error("the console's origin is asked before its routes are registered");
  };
  let audit: AuditTrail | undefined;
  return runService({
    manifest: opsConsoleManifest,
    configSchema: ConsoleConfig,
    env,
    routes: async (app, { config, logger }) => {
      const configured = config.CONSOLE_PUBLIC_URL ? new URL(config.CONSOLE_PUBLIC_URL) : undefined;
      if (
        configured &&
        configured.protocol === "http:" &&
        !isLoopbackHost(configured.hostname) &&
        !config.CONSOLE_ALLOW_HTTP
      )
        throw new ConfigError(
          "CONSOLE_PUBLIC_URL",
          `is http:// on ${configured.hostname}: sessions would travel in clear text; serve the console behind https, or set CONSOLE_ALLOW_HTTP=true where TLS ends in front of it`,
        );
      // Beyond loopback the console cannot guess the address browsers use: every action's Origin and
      // the OIDC redirect URI are checked against it, so a guess would refuse every user.
      if (!configured && !isLoopbackHost(config.HTTP_HOST))
        throw new ConfigError(
          "CONSOLE_PUBLIC_URL",
          `is required when the console listens beyond loopback (HTTP_HOST=${config.HTTP_HOST}): the address browsers reach it at, e.g. https://console.plant.example`,
        );
      originOf = () => configured?.origin ?? `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      // Read first: a wrong accounts file stops the start before anything connects.
      const accounts = config.CONSOLE_ACCOUNTS_FILE
        ? LocalAccounts.load(config.CONSOLE_ACCOUNTS_FILE)
        : undefined;
      const deps: GuardDeps = {
        sessions: () => sessions,
        cookies: cookiePolicy(configured ?? new URL("http://127.0.0.1")),
        origin: () => originOf(),
        proxyHops: config.CONSOLE_PROXY_HOPS,
        logger,
      };
      await registerConsoleApp(app, {
        ...deps,
        accounts,
        oidc: () => oidc,
        oidcLabel: config.OIDC_ISSUER ? new URL(config.OIDC_ISSUER).host : "",
        sessionTtlMs: config.CONSOLE_SESSION_TTL_MS,
        api: (scope) => {
          const guarded: GuardDeps = {
            ...deps,
            // A refused action is audited too: who tried what, without the role.
            refused: async (identity, action, what, params) => {
              const audited = AUDITED[action];
              if (audited && audit) await audit.refused(identity, audited, what, params, logger);
            },
          };
          registerApiRoutes(scope, guarded, () => views);
          registerQualityRoutes(scope, guarded, () => upstream);
          registerReplayRoutes(scope, guarded, () => replays);
          registerHealthRoutes(scope, guarded, () => health);
        },
        ...(options.webDir ? { webDir: options.webDir } : {}),
      });
    },
    setup: async ({ config, logger, nc, codec, metrics: registry }) => {
      // A message a page skips is said once: a log line naming it and why, and a metric.
      const metrics = consoleMetrics(registry);
      const told = new Set<string>();
      reportUnreadableWith((stream, seq, err) => {
        if (told.has(`${stream}#${seq}`) || told.size > 100_000) return;
        told.add(`${stream}#${seq}`);
        metrics.unreadable(stream);
        logger.warn(
          { stream, seq, code: (err as { code?: string }).code, reason: (err as Error).message },
          "a stored message cannot be read as an event: the console's pages skip it",
        );
      });
      const kv = await new Kvm(nc).open(SESSIONS_BUCKET);
      sessions = new SessionStore(kv, config.CONSOLE_SESSION_TTL_MS);
      const running = new Replays(nc, kv, logger);
      await running.start();
      replays = running;
      const watch = new Health(nc, codec, running, logger);
      watch.start();
      health = watch;
      const live = new LiveFeed(nc, logger);
      live.start();
      audit = new AuditTrail(nc);
      views = {
        audit,
        odooConnector: config.ODOO_CONNECTOR_URL
          ? new OdooConnectorStatus(
              config.ODOO_CONNECTOR_URL,
              config.ODOO_CONNECTOR_METRICS_TOKEN,
              config.UPSTREAM_TIMEOUT_MS,
            )
          : undefined,
        deadLetters: new DeadLetters(nc, codec),
        orders: new Orders(nc, codec),
        plants: new Plants(nc, codec),
        live,
      };
      // The quality service and the genealogy builder, each asked only once its token is configured.
      const client = (service: string, url: string, token: string | undefined) =>
        token
          ? new UpstreamClient({ service, url, token, timeoutMs: config.UPSTREAM_TIMEOUT_MS })
          : undefined;
      const quality = client("quality service", config.QUALITY_URL, config.QUALITY_API_TOKEN);
      const genealogy = client("genealogy builder", config.GENEALOGY_URL, config.GENEALOGY_API_TOKEN);
      upstream = {
        quality: quality ? new QualityView(nc, codec, quality) : undefined,
        genealogy: genealogy ? new GenealogyView(genealogy) : undefined,
      };
      if (!quality || !genealogy)
        logger.warn(
          { quality: Boolean(quality), genealogy: Boolean(genealogy) },
          "quality or genealogy pages not configured: set QUALITY_API_TOKEN, GENEALOGY_API_TOKEN",
        );
      const stopping = new AbortController();
      if (config.OIDC_ISSUER && config.OIDC_CLIENT_ID) {
        const settings = {
          issuer: config.OIDC_ISSUER,
          clientId: config.OIDC_CLIENT_ID,
          ...(config.OIDC_CLIENT_SECRET ? { clientSecret: config.OIDC_CLIENT_SECRET } : {}),
          redirectUri: `${originOf()}/auth/callback`,
          roleClaim: config.OIDC_ROLE_CLAIM,
          roleMap: roleMapOf(config),
          allowHttp: config.OIDC_ALLOW_HTTP,
        };
        // A provider down at start must not keep the console (and its local accounts) down: retried.
        void (async () => {
          while (!stopping.signal.aborted && !oidc) {
            try {
              oidc = await OidcSignIn.discover(settings);
              logger.info(
                { issuer: settings.issuer, redirectUri: settings.redirectUri },
                "OpenID provider discovered",
              );
            } catch (err) {
              logger.error(
                { err, issuer: settings.issuer },
                "OpenID provider not reachable: OIDC sign-in waits for it",
              );
              await sleep(OIDC_RETRY_MS, stopping.signal);
            }
          }
        })();
      }
      return {
        checks: [{ name: "sessions", check: () => ({ ok: sessions !== undefined }) }],
        onStopping: () => stopping.abort(),
        onStop: async () => {
          stopping.abort();
          views = undefined;
          upstream = undefined;
          replays = undefined;
          health = undefined;
          watch.stop();
          // Running replays stop with their position saved: started again with the same id, they resume.
          await running.close();
          await live.stop();
        },
      };
    },
  });
}

// Started as a program: the running service, or one JSON log line saying why it cannot start (exit 1).
if (process.argv[1] === fileURLToPath(import.meta.url))
  await startOrExit(opsConsoleManifest.service, () => startService());
