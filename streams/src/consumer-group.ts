/**
 * The consumers of one service, started and stopped together: checked against the service's
 * manifest, every handler wrapped by the service's interceptors, and all of them paused while the
 * service's pause policy says so (an ERP's circuit breaker open, a downstream store full). runService
 * runs a service's consumers through it; a service that runs consumers outside runService (a test,
 * a bench) uses it directly.
 *
 * ```ts
 * const group = await startConsumers(nc, {
 *   manifest,
 *   consumers: [{ stream: "MFG_PRODUCTION", durable: "order-progress-reports", handlers }],
 *   interceptors: [async ({ event }, next) => { const t = Date.now(); await next(); observe(Date.now() - t); }],
 *   pausePolicy: { paused: () => breaker.isOpen, reason: () => "ERP down", onChange: (f) => breaker.onChange(f) },
 * });
 * ```
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createEventConsumer } from "./consumer/event-consumer.js";
import type { ConsumerOptions } from "./consumer/options.js";
import type { ConsumedEvent, EventConsumer, EventHandler, HandlerContext } from "./consumer/types.js";
import { ConfigError } from "./errors.js";
import type { ReadinessCheck } from "./http.js";
import type { Logger } from "./logger.js";
import type { ServiceManifest } from "./manifest.js";
import { createPartitionedConsumer, type PartitionedEventConsumer } from "./partitioned-consumer.js";
import { REPLAY_DEFAULTS, REPLAY_STREAM, replayDurable } from "./replay.js";
import { connectedServerHas } from "./server-features.js";

/** One delivery as an interceptor sees it. */
export interface InterceptedDelivery {
  readonly stream: string;
  readonly durable: string;
  readonly event: ConsumedEvent<unknown>;
  readonly ctx: HandlerContext;
}

/**
 * Wraps every handler of the service: runs code before and after it, maps its errors, or does not
 * call `next()` at all (the event is then acknowledged as handled). The first interceptor is the
 * outermost.
 */
export type HandlerInterceptor = (delivery: InterceptedDelivery, next: () => Promise<void>) => Promise<void>;

/** When the service's consumers must stop pulling (running handlers finish; nothing is lost). */
export interface PausePolicy {
  /** Whether they must be paused now. */
  paused(): boolean;
  /** Why, for `/readyz` and the logs (e.g. "Odoo circuit breaker open"). */
  reason(): string;
  /** Calls `listener` whenever `paused()` may have changed; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface ConsumerGroupOptions {
  readonly consumers: readonly ConsumerOptions[];
  /** When given, every consumer's durable must be one the manifest declares, on the same stream. */
  readonly manifest?: ServiceManifest;
  /** @default none */
  readonly interceptors?: readonly HandlerInterceptor[];
  /** @default never paused */
  readonly pausePolicy?: PausePolicy;
  /**
   * Also pause the durables on the server while the policy pauses them (nats-server 2.11+,
   * `$JS.API.CONSUMER.PAUSE`): `nats consumer info` shows them paused and every replica sharing a
   * durable stops, not only this one. The server pause is a lease, renewed while paused, so a process
   * that dies paused leaves its durables paused for at most `serverPauseLeaseMs`. On older servers
   * the pause is the client's alone. @default true
   */
  readonly serverPause?: boolean;
  /** @default 120000 */
  readonly serverPauseLeaseMs?: number;
  /** Filled in for consumers that do not set them. */
  readonly defaults?: Partial<Pick<ConsumerOptions, "logger" | "metrics" | "codec" | "drainTimeoutMs">>;
  /** Where the pause policy's changes are logged. */
  readonly logger?: Logger;
  /**
   * Also run each consumer's replay channel (streams/src/replay.ts): a small consumer on its durable
   * `<durable>-replay` of THREADLINE_REPLAY, with the same handlers, when `streams apply` declared it
   * (a missing one is logged and skipped: replays to that durable wait in the stream).
   * @default true
   */
  readonly replay?: boolean | { readonly concurrency?: number };
}

/** Started consumers; `checks` say each is running (or why not) for `/readyz`. */
export interface ConsumerGroup {
  readonly consumers: readonly EventConsumer[];
  /** The replay channels started beside them (not in `checks`: a replay never makes a service unready). */
  readonly replayConsumers: readonly EventConsumer[];
  readonly checks: readonly ReadinessCheck[];
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Checks the consumers against the manifest, wraps their handlers, starts them (all or none: a
 * failing start stops those already started) and follows the pause policy.
 *
 * @throws {ConfigError} naming a durable the manifest does not declare, or declares on another stream.
 */
export async function startConsumers(
  nc: NatsConnection,
  options: ConsumerGroupOptions,
): Promise<ConsumerGroup> {
  if (options.manifest) checkAgainstManifest(options.manifest, options.consumers);
  const interceptors = options.interceptors ?? [];
  // A partitioned durable (its `partitions`) runs as a partitioned consumer: per-key order across replicas.
  const consumers = options.consumers.map((c) =>
    (c.partitions ? createPartitionedConsumer : createEventConsumer)(nc, {
      ...options.defaults,
      ...c,
      ...(c.handlers && interceptors.length > 0
        ? { handlers: wrapHandlers(c.handlers, c, interceptors) as ConsumerOptions["handlers"] }
        : {}),
      ...(c.handler && interceptors.length > 0 ? { handler: wrap(c.handler, c, interceptors) } : {}),
    }),
  );
  const replayConsumers: EventConsumer[] = [];
  try {
    for (const c of consumers) await c.start();
    if (options.replay !== false && consumers.length > 0)
      await startReplayChannels(nc, options, replayConsumers);
  } catch (err) {
    await Promise.allSettled([...consumers, ...replayConsumers].map((c) => c.stop({ timeoutMs: 1_000 })));
    throw err;
  }

  // Only consumers paused by the policy are resumed by it: one paused by hand stays paused.
  const pausedByPolicy = new Set<EventConsumer>();
  const policy = options.pausePolicy;
  const onServer =
    (options.serverPause ?? true) && connectedServerHas(nc, "consumerPauseApi")
      ? new ServerPause(nc, options.serverPauseLeaseMs ?? 120_000, options.logger)
      : undefined;
  const follow = () => {
    if (!policy) return;
    const paused = policy.paused();
    let changed = 0;
    for (const c of [...consumers, ...replayConsumers]) {
      if (paused && c.state === "running") {
        c.pause();
        pausedByPolicy.add(c);
        onServer?.pause(c);
        changed++;
      } else if (!paused && pausedByPolicy.delete(c) && c.state === "paused") {
        onServer?.resume(c);
        c.resume();
        changed++;
      }
    }
    if (changed > 0)
      options.logger?.warn(
        { consumers: changed, ...(paused ? { reason: policy.reason() } : {}) },
        paused ? "consumers paused" : "consumers resumed",
      );
  };
  const unsubscribe = policy?.onChange(follow) ?? (() => undefined);
  follow();

  const checks: ReadinessCheck[] = consumers.map((c) => ({
    name: `consumer ${c.stream}/${c.durable}`,
    check: () =>
      c.state === "running"
        ? { ok: true }
        : {
            ok: false,
            reason: pausedByPolicy.has(c) && policy ? `paused: ${policy.reason()}` : c.state,
          },
  }));
  let stopping: Promise<void> | undefined;
  return {
    consumers,
    replayConsumers,
    checks,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        unsubscribe();
        // A stopped service leaves nothing paused on the server for the replicas that stay.
        await onServer?.resumeAll();
        await Promise.allSettled([...consumers, ...replayConsumers].map((c) => c.stop(stopOptions)));
      })();
      return stopping;
    },
  };
}

/**
 * Durables paused on the server as a renewed lease. Failures (a user without the PAUSE grant, the
 * server away) are logged, never thrown: the client-side pause holds either way.
 */
class ServerPause {
  readonly #leases = new Map<EventConsumer, NodeJS.Timeout>();
  readonly #jsm: Promise<JetStreamManager>;

  constructor(
    nc: NatsConnection,
    private readonly leaseMs: number,
    private readonly logger: Logger | undefined,
  ) {
    this.#jsm = jetstreamManager(nc, { checkAPI: false });
  }

  pause(c: EventConsumer): void {
    const renew = () => void this.#request(c, new Date(Date.now() + this.leaseMs));
    renew();
    const timer = setInterval(renew, this.leaseMs / 2);
    timer.unref();
    this.#leases.set(c, timer);
  }

  resume(c: EventConsumer): Promise<void> {
    const timer = this.#leases.get(c);
    if (!timer) return Promise.resolve();
    clearInterval(timer);
    this.#leases.delete(c);
    return this.#request(c, new Date(0));
  }

  async resumeAll(): Promise<void> {
    await Promise.all([...this.#leases.keys()].map((c) => this.resume(c)));
  }

  async #request(c: EventConsumer, until: Date): Promise<void> {
    // A partitioned consumer is paused on its partitions this replica owns (renewals follow changes).
    const durables =
      "partitions" in c ? (c as PartitionedEventConsumer).partitions().map((p) => p.durable) : [c.durable];
    try {
      const jsm = await this.#jsm;
      for (const durable of durables) await jsm.consumers.pause(c.stream, durable, until);
    } catch (err) {
      this.logger?.warn(
        { err, stream: c.stream, durable: c.durable },
        "could not pause or resume the durable on the server; the client-side pause holds",
      );
    }
  }
}

/**
 * A replay consumer per live one whose replay durable exists: same handlers (already wrapped by the
 * interceptors), ordering and codec, a small concurrency so live traffic keeps priority.
 */
async function startReplayChannels(
  nc: NatsConnection,
  options: ConsumerGroupOptions,
  started: EventConsumer[],
): Promise<void> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const concurrency =
    (typeof options.replay === "object" ? options.replay.concurrency : undefined) ??
    REPLAY_DEFAULTS.concurrency;
  const interceptors = options.interceptors ?? [];
  for (const c of options.consumers) {
    const durable = replayDurable(c.durable);
    try {
      await jsm.consumers.info(REPLAY_STREAM, durable);
    } catch (err) {
      const missing =
        err instanceof JetStreamApiError &&
        (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound);
      (options.defaults?.logger ?? c.logger ?? options.logger)?.[missing ? "info" : "warn"](
        { stream: REPLAY_STREAM, durable, ...(missing ? {} : { err }) },
        missing
          ? "no replay channel for this durable (threadline streams apply declares it): replays to it wait"
          : "replay channel not started",
      );
      continue;
    }
    const { partitions: _partitioned, ...live } = c;
    const replay = createEventConsumer(nc, {
      ...options.defaults,
      ...live,
      ...(c.handlers && interceptors.length > 0
        ? { handlers: wrapHandlers(c.handlers, c, interceptors) as ConsumerOptions["handlers"] }
        : {}),
      ...(c.handler && interceptors.length > 0 ? { handler: wrap(c.handler, c, interceptors) } : {}),
      stream: REPLAY_STREAM,
      durable,
      concurrency: Math.min(concurrency, c.concurrency ?? concurrency),
      maxBuffered: REPLAY_DEFAULTS.maxBuffered,
      replayOf: { stream: c.stream, durable: c.durable },
      // streams apply declares it; the service's user may not create it (least privilege).
      recreateDeleted: false,
    });
    started.push(replay);
    await replay.start();
  }
}

function checkAgainstManifest(manifest: ServiceManifest, consumers: readonly ConsumerOptions[]): void {
  const declared = manifest.consumers ?? {};
  for (const c of consumers) {
    const d = declared[c.durable];
    if (!d)
      throw new ConfigError(
        `consumers.${c.durable}`,
        `is not declared in ${manifest.service}'s manifest (declared: ${Object.keys(declared).join(", ") || "none"}): declare it there, so streams apply creates it and the service's NATS user may pull from it`,
      );
    if (d.stream !== c.stream)
      throw new ConfigError(
        `consumers.${c.durable}.stream`,
        `is ${c.stream}, but ${manifest.service}'s manifest declares it on ${d.stream}`,
      );
    if ((d.partitions ?? 0) !== (c.partitions?.count ?? 0))
      throw new ConfigError(
        `consumers.${c.durable}.partitions`,
        d.partitions
          ? `must be { count: ${d.partitions}, … }: ${manifest.service}'s manifest partitions it (${d.partitions})`
          : `is set, but ${manifest.service}'s manifest does not partition it`,
      );
  }
}

function wrapHandlers(
  handlers: Readonly<Record<string, EventHandler<never> | undefined>>,
  c: ConsumerOptions,
  interceptors: readonly HandlerInterceptor[],
): Record<string, EventHandler<unknown>> {
  const out: Record<string, EventHandler<unknown>> = {};
  for (const [type, h] of Object.entries(handlers))
    if (h) out[type] = wrap(h as EventHandler<unknown>, c, interceptors);
  return out;
}

function wrap(
  handler: EventHandler<never>,
  c: ConsumerOptions,
  interceptors: readonly HandlerInterceptor[],
): EventHandler<unknown> {
  return (event, ctx) => {
    const delivery: InterceptedDelivery = { stream: c.stream, durable: c.durable, event, ctx };
    const run = (i: number): Promise<void> => {
      const interceptor = interceptors[i];
      if (!interceptor) return (handler as EventHandler<unknown>)(event, ctx);
      return interceptor(delivery, () => run(i + 1));
    };
    return run(0);
  };
}
