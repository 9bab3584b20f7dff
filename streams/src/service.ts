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

import { hostname } from "node:os";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
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
import { Lease } from "./lease.js";
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
  /**
   * Under {@link ServiceOptions.activeStandby}: the lease that makes this replica the active one.
   * Check `isOwner()` immediately before each write of owned state: false once another replica may
   * have taken over (the work is being stopped).
   */
  readonly lease?: Lease;
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
  /**
   * Active/standby: of the replicas, only the one holding the lease `lease.<service>.<site>` in
   * `bucket` runs `setup` and the consumers it returns; the others wait, `/readyz` 503 "standby".
   * `setup` runs again at every take-over (load the state fresh there) and `onStopping`/`onStop` when
   * the lease is lost, so a replica that was active and is again starts from what the bucket holds.
   * @default none: `setup` runs once, at start, on every replica
   */
  activeStandby?: ActiveStandbyOptions;
}

export interface ActiveStandbyOptions {
  /** A KV bucket the service may write (one of its manifest's), where the lease is kept. */
  readonly bucket: string;
  /** How long a silent owner keeps the role. @default the config's LEASE_TTL_MS, else 15000 */
  readonly ttlMs?: number;
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
  const opened: {
    onStop?: () => Promise<void>;
    consumers: EventConsumer[];
    role?: { stop(): Promise<void> };
  } = { consumers: [] };
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
    const activate = async (ctx: ServiceContext<z.infer<S> & BaseServiceConfig>): Promise<Active> => {
      const parts = await Promise.resolve()
        .then(() => options.setup(ctx))
        .catch((err: unknown) => {
          throw err instanceof ThreadlineError ? err : new SetupFailedError(name, err);
        });
      try {
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
        parts.onStarted?.(group.consumers);
        return { parts, group };
      } catch (err) {
        await parts.onStop?.().catch(() => undefined);
        throw err;
      }
    };
    const natsCheck: ReadinessCheck = {
      name: "nats",
      check: () => (nc.isClosed() || disconnected ? { ok: false, reason: "disconnected" } : { ok: true }),
    };
    const role = options.activeStandby
      ? new ActiveRole({
          lease: new Lease({
            kv: await new Kvm(nc).open(options.activeStandby.bucket),
            key: `lease.${name}.${config.SITE.replace(/[^-_a-zA-Z0-9]/g, "_")}`,
            // Unique per process: a copy restarted after a crash waits out its predecessor's ttl.
            holder: `${env["HOSTNAME"] || hostname()}:${process.pid}`,
            ttlMs:
              options.activeStandby.ttlMs ?? ((config as { LEASE_TTL_MS?: number }).LEASE_TTL_MS || 15_000),
            logger,
            registry: metrics,
          }),
          activate: (lease) => activate({ ...context, lease }),
          drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
          logger,
        })
      : undefined;
    if (role) opened.role = role;
    const first = role ? undefined : await activate(context);
    if (first) {
      if (first.parts.onStop) opened.onStop = first.parts.onStop;
      opened.consumers = [...first.group.consumers, ...first.group.replayConsumers];
    }
    const current = () => first ?? role?.active;

    checks.splice(
      0,
      checks.length,
      natsCheck,
      ...(first ? [...first.group.checks, ...(first.parts.checks ?? [])] : []),
      ...(role ? [role.check] : []),
    );
    await role?.start();
    logger.info(
      {
        url,
        consumers: first?.group.consumers.map((c) => c.durable),
        replayChannels: first?.group.replayConsumers.map((c) => c.durable),
        ...(role ? { activeStandby: role.lease.key, active: role.active !== undefined } : {}),
      },
      role && !role.active ? "service running: standby until it holds the lease" : "service running",
    );

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        logger.info("stopping: draining consumers");
        if (first) {
          first.parts.onStopping?.();
          await first.group.stop({ timeoutMs: config.DRAIN_TIMEOUT_MS });
          await first.parts.onStop?.();
        }
        // Drained before the lease is released: the standby that takes over at once finds it all written.
        await role?.stop();
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
      get consumers() {
        return current()?.group.consumers ?? [];
      },
      get replayConsumers() {
        return current()?.group.replayConsumers ?? [];
      },
      http,
      url,
      stop,
    };
  } catch (err) {
    await opened.role?.stop().catch(() => undefined);
    await Promise.allSettled(opened.consumers.map((c) => c.stop({ timeoutMs: 1_000 })));
    await opened.onStop?.().catch(() => undefined);
    stopTlsWatch();
    await http.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** What runs while a replica is active: setup's parts and their consumers. */
interface Active {
  readonly parts: ServiceParts;
  readonly group: Awaited<ReturnType<typeof startConsumers>>;
}

/**
 * The active role of an active/standby service: activated when the lease is acquired, deactivated
 * (consumers stopped, onStop) as soon as it is lost. Changes run one after the other, so a role lost
 * while it was starting is stopped once started, and two activations never overlap.
 */
class ActiveRole {
  active: Active | undefined;
  #failure: Error | undefined;
  #changes: Promise<void> = Promise.resolve();
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      lease: Lease;
      activate: (lease: Lease) => Promise<Active>;
      drainTimeoutMs: number;
      logger: Logger;
    },
  ) {
    o.lease.on("acquired", () => this.#queue(() => this.#activate()));
    // Lost, the role's handlers can write nothing more (each write checks the lease): what they hold
    // goes back to the stream after a short wait, not the full drain a clean stop allows.
    o.lease.on("lost", (reason) =>
      this.#queue(() => this.#deactivate(reason, Math.min(o.drainTimeoutMs, o.lease.renewEveryMs))),
    );
  }

  get lease(): Lease {
    return this.o.lease;
  }

  /** `/readyz`: the active role's own checks; a standby is not ready (Kubernetes routes elsewhere). */
  readonly check: ReadinessCheck = {
    name: "active",
    check: () => {
      if (this.active) {
        for (const c of [...this.active.group.checks, ...(this.active.parts.checks ?? [])]) {
          const r = c.check();
          if (!r.ok) return { ok: false, reason: `${c.name}: ${r.reason ?? "not ready"}` };
        }
        return { ok: true };
      }
      if (this.#failure)
        return { ok: false, reason: `active role failed to start: ${this.#failure.message}` };
      return this.o.lease.state === "owner"
        ? { ok: false, reason: "starting the active role" }
        : { ok: false, reason: `standby: another replica holds ${this.o.lease.key}` };
    },
  };

  /**
   * Starts contending. Waits for the first look (at most renewEveryMs): a replica that finds the lease
   * free is active when runService returns, as a service that does not opt in is.
   * @throws what the first activation threw, when this replica found the lease free
   */
  async start(): Promise<void> {
    const { lease } = this.o;
    let timer: NodeJS.Timeout | undefined;
    const acquired = new Promise<void>((resolve) => {
      lease.once("acquired", () => resolve());
      timer = setTimeout(resolve, lease.renewEveryMs);
    });
    lease.start();
    await acquired;
    clearTimeout(timer);
    await this.#changes;
    // The first activation failing is a failed start (a wrong setting, a bucket missing), as without
    // a standby: said once, loudly, rather than retried behind a 503.
    if (this.#failure) throw this.#failure;
  }

  /** Deactivates, then releases the lease (a standby takes over at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#queue(() => this.#deactivate("stopping", this.o.drainTimeoutMs));
    await this.o.lease.stop();
  }

  #queue(change: () => Promise<void>): Promise<void> {
    this.#changes = this.#changes.then(change).catch((err: unknown) => {
      this.o.logger.error({ err }, "active/standby: a change of role failed");
    });
    return this.#changes;
  }

  async #activate(): Promise<void> {
    if (this.#stopped || this.active || !this.o.lease.isOwner()) return;
    const { logger, lease } = this.o;
    try {
      this.active = await this.o.activate(lease);
      this.#failure = undefined;
      logger.info({ lease: lease.key, fencingToken: lease.token }, "active: this replica holds the lease");
    } catch (err) {
      // Owner but unable to work (a dependency refused): tried again while it keeps the lease.
      this.#failure = err as Error;
      logger.error({ err }, "active/standby: the active role failed to start; trying again");
      this.#retry = setTimeout(() => void this.#queue(() => this.#activate()), lease.renewEveryMs);
      this.#retry.unref();
      return;
    }
    // Lost while it was starting: the "lost" change queued behind this one stops it.
  }

  async #deactivate(reason: string, drainMs: number): Promise<void> {
    clearTimeout(this.#retry);
    this.#failure = undefined;
    const active = this.active;
    if (!active) return;
    // Not ready first: from here on, this replica does no more work for the role.
    this.active = undefined;
    this.o.logger.warn({ lease: this.o.lease.key, reason }, "standby: the active role stops");
    active.parts.onStopping?.();
    await active.group.stop({ timeoutMs: drainMs });
    await active.parts.onStop?.();
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
