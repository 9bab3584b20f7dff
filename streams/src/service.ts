/**
 * A Threadline service in one call: config validated, NATS connected, schema registry opened,
 * consumers started, `/metrics` `/healthz` `/readyz` served, SIGTERM drained. A service's own
 * code is its `setup` function: business logic on top of the context it is given.
 *
 * ```ts
 * await runService({
 *   name: "order-progress",
 *   setup: ({ publisher }) => ({
 *     consumers: [{ stream: "MFG_PRODUCTION", durable: "order-progress", handlers: { ... } }],
 *   }),
 * });
 * ```
 */

import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, type Registry } from "prom-client";
import type { z } from "zod";
import { EventCodec, SchemaRegistry, ThreadlineError } from "../../contracts/src/index.js";
import { BaseServiceConfig, loadConfig } from "./config.js";
import { connectNats, natsSettingsFromEnv } from "./connection.js";
import { type ConsumerOptions, type EventConsumer, handleSignals } from "./consumer.js";
import { type HandlerInterceptor, type PausePolicy, startConsumers } from "./consumer-group.js";
import { ConfigError, SetupFailedError } from "./errors.js";
import { createHealthServer, type ReadinessCheck } from "./http.js";
import { createLogger, type Logger } from "./logger.js";
import type { ServiceManifest } from "./manifest.js";
import { defaultRegistry } from "./metrics.js";
import { defaultInboxPrefix } from "./permissions.js";
import { EventPublisher } from "./publisher.js";
import { CONNECTION_DRAIN_MS, shutdownDeadlineMs } from "./shutdown.js";
import { watchTlsFiles } from "./tls.js";

/** What `setup` gets: everything a handler needs, already connected. */
export interface ServiceContext<C extends BaseServiceConfig = BaseServiceConfig> {
  readonly name: string;
  readonly config: C;
  readonly logger: Logger;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly codec: EventCodec;
  readonly publisher: EventPublisher;
  readonly metrics: Registry;
}

/** What `setup` returns. */
export interface ServiceParts {
  /**
   * Consumers to run (logger, metrics and codec are filled in from the context unless given); with a
   * manifest, each must be one of its durables.
   */
  consumers?: ConsumerOptions[];
  /** Wrap every handler of every consumer, first outermost (consumer-group.ts). */
  interceptors?: HandlerInterceptor[];
  /** Pauses every consumer while it says so; `/readyz` names the reason. */
  pausePolicy?: PausePolicy;
  /**
   * Called when the stop begins, before the consumers drain: wake what handlers wait for (a breaker,
   * a lock), so they give their events back at once instead of at the drain deadline.
   */
  onStopping?: () => void;
  /** Called once the consumers run (e.g. to watch their metrics). */
  onStarted?: (consumers: readonly EventConsumer[]) => void;
  /** Extra readiness checks (an ERP reachable, a cache warm, ...). */
  checks?: ReadinessCheck[];
  /** Runs after the consumers drained, before the connection closes. */
  onStop?: () => Promise<void>;
}

export interface ServiceOptions<S extends z.ZodObject = typeof BaseServiceConfig> {
  /**
   * The service's manifest (streams/src/manifest.ts): its name, and the durables its consumers must
   * be. @default none: consumers are not checked
   */
  manifest?: ServiceManifest;
  /** The service name (logs, metrics, `ce-source`, the NATS connection name). @default the manifest's */
  name?: string;
  /** The config schema; extend `BaseServiceConfig` with the service's own keys. @default BaseServiceConfig */
  configSchema?: S;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  setup: (ctx: ServiceContext<z.infer<S> & BaseServiceConfig>) => Promise<ServiceParts> | ServiceParts;
  /**
   * Extra HTTP routes on the service's server (e.g. an inbound webhook). They are registered, and
   * the port bound, before anything else starts — a port already taken fails the start before any
   * work was done — so a route that needs what `setup` builds must cope with its absence meanwhile.
   * Each route authenticates its callers itself.
   */
  routes?: (
    app: FastifyInstance,
    ctx: { config: z.infer<S> & BaseServiceConfig; logger: Logger },
  ) => void | Promise<void>;
  /** Install SIGTERM/SIGINT handlers that drain and exit. @default true */
  handleSignals?: boolean;
  /** Where logs go. @default stdout */
  logDestination?: NodeJS.WritableStream;
}

/** A running service. */
export interface RunningService {
  readonly context: ServiceContext;
  readonly consumers: readonly EventConsumer[];
  /**
   * The replay channels beside them: each runs the same handlers over what `threadline replay --to`
   * and `threadline dlq redrive` address to its durable (`ctx.delivery` says which; streams/src/replay.ts).
   */
  readonly replayConsumers: readonly EventConsumer[];
  readonly http: FastifyInstance;
  /** The address the health server listens on, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  /** Drains consumers (within DRAIN_TIMEOUT_MS), stops the HTTP server, drains the connection. */
  stop(): Promise<void>;
}

export async function runService<S extends z.ZodObject = typeof BaseServiceConfig>(
  options: ServiceOptions<S>,
): Promise<RunningService> {
  const name = options.name ?? options.manifest?.service;
  if (!name) throw new ConfigError("name", "is required (or a manifest naming the service)");
  if (options.manifest && options.name && options.name !== options.manifest.service)
    throw new ConfigError("name", `is ${options.name}, but the manifest is ${options.manifest.service}'s`);
  const schema = (options.configSchema ?? BaseServiceConfig) as S;
  const env = options.env ?? process.env;
  const config = loadConfig(schema, { env }) as z.infer<S> & BaseServiceConfig;
  const logger = createLogger({
    service: name,
    level: config.LOG_LEVEL,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  // The port first: when it is taken, the start fails before any work was done (nothing pulled, no
  // Odoo pass run) and the error names the setting to change.
  const checks: ReadinessCheck[] = [{ name: "start", check: () => ({ ok: false, reason: "starting" }) }];
  const metrics = defaultRegistry;
  collectProcessMetrics(metrics);
  const http = createHealthServer({
    registry: metrics,
    checks,
    ...(config.METRICS_TOKEN ? { metricsToken: config.METRICS_TOKEN } : {}),
  });
  // A route the manifest does not declare is refused: the manifest is where operators and the
  // generated deployment read what a service exposes and how it is protected.
  const undeclared: string[] = [];
  if (options.manifest) {
    const declared = new Set((options.manifest.http ?? []).map((r) => `${r.method} ${r.path}`));
    http.addHook("onRoute", (route) => {
      for (const method of [route.method].flat())
        if (method !== "HEAD" && !declared.has(`${method} ${route.url}`))
          undeclared.push(`${method} ${route.url}`);
    });
  }
  await options.routes?.(http, { config, logger });
  if (undeclared.length > 0) {
    await http.close().catch(() => undefined);
    throw new ConfigError(
      "routes",
      `${undeclared.join(", ")} ${undeclared.length === 1 ? "is" : "are"} not declared in ${options.manifest?.service}'s manifest (http): declare each route with its auth`,
    );
  }
  let url: string;
  try {
    url = await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  } catch (err) {
    await http.close().catch(() => undefined);
    const address = `${config.HTTP_HOST}:${config.HTTP_PORT}`;
    throw new ConfigError(
      "HTTP_PORT",
      (err as NodeJS.ErrnoException).code === "EADDRINUSE"
        ? `${config.HTTP_PORT} is in use by another process: cannot listen on ${address} (choose a free HTTP_PORT or stop the other process)`
        : `${config.HTTP_PORT} cannot be listened on: ${address}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const settings = natsSettingsFromEnv({
    ...config,
    NATS_NAME: name,
    // Replies on a per-service prefix, so its NATS user subscribes to `_INBOX_<service>.>` only.
    NATS_INBOX_PREFIX: env["NATS_INBOX_PREFIX"] || defaultInboxPrefix(name),
  } as Record<string, string | undefined>);
  let nc: NatsConnection;
  try {
    nc = await connectNats(settings);
  } catch (err) {
    await http.close().catch(() => undefined);
    throw err;
  }
  logger.info({ servers: settings.servers, url }, "connected to NATS; health server listening");
  // A rotated client certificate (cert-manager) is picked up by a reconnect, not a restart.
  const stopTlsWatch = settings.tls
    ? watchTlsFiles(nc, settings.tls, {
        logger,
        ...(settings.tlsWatchMs ? { intervalMs: settings.tlsWatchMs } : {}),
      })
    : () => undefined;
  // Released when the start fails after connecting (a dependency refused, setup threw), so the
  // process ends with its error instead of hanging on what it opened.
  const opened: { onStop?: () => Promise<void>; consumers: EventConsumer[] } = { consumers: [] };
  try {
    let disconnected = false;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") disconnected = true;
        if (s.type === "reconnect") disconnected = false;
        if (s.type === "disconnect" || s.type === "reconnect")
          logger.warn({ status: s.type }, "NATS connection");
      }
    })();
    const js = jetstream(nc);
    const codec = new EventCodec({ writers: await SchemaRegistry.open(nc, { readOnly: true }) });
    const publisher = new EventPublisher(js, codec, {
      service: name,
      site: config.SITE,
      logger,
      metrics,
    });
    const context: ServiceContext<z.infer<S> & BaseServiceConfig> = {
      name: name,
      config,
      logger,
      nc,
      js,
      codec,
      publisher,
      metrics,
    };
    // An error with a code (a ConfigError, an Odoo login refused) says what is wrong by itself; any
    // other is named as setup's, so the failed start's log line still has a catalogued code.
    const parts = await Promise.resolve()
      .then(() => options.setup(context))
      .catch((err: unknown) => {
        throw err instanceof ThreadlineError ? err : new SetupFailedError(name, err);
      });
    if (parts.onStop) opened.onStop = parts.onStop;
    const group = await startConsumers(nc, {
      consumers: (parts.consumers ?? []).map((c) => ({
        ...c,
        // The consumer binds its stream and durable itself: binding them here too doubled the keys.
        logger: c.logger ?? logger,
      })),
      ...(options.manifest ? { manifest: options.manifest } : {}),
      ...(parts.interceptors ? { interceptors: parts.interceptors } : {}),
      ...(parts.pausePolicy ? { pausePolicy: parts.pausePolicy } : {}),
      defaults: { drainTimeoutMs: config.DRAIN_TIMEOUT_MS, metrics, codec },
      logger,
    });
    const consumers = group.consumers;
    opened.consumers = [...consumers, ...group.replayConsumers];
    parts.onStarted?.(consumers);

    checks.splice(
      0,
      checks.length,
      {
        name: "nats",
        check: () => (nc.isClosed() || disconnected ? { ok: false, reason: "disconnected" } : { ok: true }),
      },
      ...group.checks,
      ...(parts.checks ?? []),
    );
    logger.info(
      {
        url,
        consumers: consumers.map((c) => c.durable),
        replayChannels: group.replayConsumers.map((c) => c.durable),
      },
      "service running",
    );

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        logger.info("stopping: draining consumers");
        parts.onStopping?.();
        await group.stop({ timeoutMs: config.DRAIN_TIMEOUT_MS });
        await parts.onStop?.();
        stopTlsWatch();
        await http.close();
        // A drain needs the server; when it is gone, do not hang the exit: close after a grace period.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          nc.drain().catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CONNECTION_DRAIN_MS);
          }),
        ]);
        clearTimeout(timer);
        if (!nc.isClosed()) await nc.close().catch(() => undefined);
        logger.info("stopped");
      })();
      return stopping;
    };
    if (options.handleSignals ?? true)
      handleSignals({ stop }, { logger, deadlineMs: shutdownDeadlineMs(config.DRAIN_TIMEOUT_MS) });
    return {
      context: context as unknown as ServiceContext,
      consumers,
      replayConsumers: group.replayConsumers,
      http,
      url,
      stop,
    };
  } catch (err) {
    await Promise.allSettled(opened.consumers.map((c) => c.stop({ timeoutMs: 1_000 })));
    await opened.onStop?.().catch(() => undefined);
    stopTlsWatch();
    await http.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
    throw err;
  }
}

const collecting = new WeakSet<Registry>();

/**
 * Node's process metrics (CPU, memory, event-loop delay — `nodejs_eventloop_lag_p99_seconds` is the
 * p99 since the previous scrape, so a handler that blocks the loop shows) on the service's registry,
 * once per registry.
 */
function collectProcessMetrics(registry: Registry): void {
  if (collecting.has(registry)) return;
  collecting.add(registry);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
}
