/**
 * The outbound half of the Odoo connector: the durables that post shop-floor events to Odoo, wired
 * to the posting functions, the Odoo client's circuit breaker and the connector's metrics.
 *
 *     // in the service: runService runs the parts (consumers, the Odoo gate, the breaker's pause)
 *     const parts = await outboundParts({ nc, client, publisher, codec, logger, registry, site, … });
 *     // elsewhere (tests, benches): started on their own
 *     const outbound = await startOutbound({ … }); // readiness: outbound.checks; await outbound.stop()
 *
 * - Postings of one production order run one at a time and in stream order (ordered consumer keyed
 *   by the payload's order, not by `ce-subject`, which the machine bridge sets to the machine).
 * - Odoo's permanent errors dead-letter the event (code `ODOO_<NAME>`, message `<python name>:
 *   <Odoo's message>`); transient ones are retried by the consumer with jittered backoff, after the
 *   client's own jittered retries. A retry is always safe: every posting looks for its event id first.
 * - When the client's circuit breaker opens, every outbound consumer is paused by the SDK's pause
 *   policy (`breakerPausePolicy`; events wait in the stream); when it half-opens they resume, and one posting at a time probes Odoo until it closes.
 *   Postings already running wait for the breaker instead of failing, so an outage does not use up
 *   their deliveries.
 */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { JsMsg } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import {
  type DowntimeCategory,
  EventCodec,
  type EventPayloads,
  type EventType,
  type ProductionReported,
  ThreadlineError,
  UnknownFingerprintError,
} from "../../../../contracts/src/index.js";
import {
  type BackoffPolicy,
  CE,
  ConfigError,
  type ConsumedEvent,
  type ConsumerOptions,
  defaultRegistry,
  derivedEventId,
  type EventConsumer,
  type EventHandler,
  type EventHandlers,
  type EventPublisher,
  type HandlerContext,
  type HandlerInterceptor,
  isRetryable,
  LeaseFencedError,
  type Logger,
  type PausePolicy,
  type ReadinessCheck,
  silentLogger,
  startConsumers,
} from "../../../../streams/src/index.js";
import { EquipmentMap } from "../equipment.js";
import { odooFields } from "../fields.js";
import { CONNECTOR_DURABLES, odooConnectorManifest } from "../manifest.js";
import { connectorMetrics } from "../metrics.js";
import type { CircuitBreaker, OdooClient } from "../odoo/index.js";
import type { ReferenceData } from "../reference/index.js";
import { postDowntimeEnded, postDowntimeStarted } from "./downtime.js";
import { toConsumerError } from "./errors.js";
import { BreakerGate } from "./gate.js";
import {
  type CloseOptions,
  familyKey,
  type ProductionPosting,
  postProductionReported,
  postRunEnded,
} from "./production/index.js";
import { postQualityHoldPlaced, postQualityHoldReleased, QUALITY_DEFAULTS } from "./quality.js";
import { postShipmentBlocked, postShipmentCleared } from "./shipping.js";
import { OdooSetup, type PostingContext, type PostingResult } from "./steps.js";

/** The outbound durables (declared in streams/src/declarations.ts). */
export type OutboundDurable = "production" | "downtimeStarted" | "downtimeEnded" | "quality" | "shipping";

export interface OutboundOptions {
  nc: NatsConnection;
  /** The connected Odoo client; its breaker pauses the consumers. */
  client: OdooClient;
  /** Publishes ProductionPosted. */
  publisher: EventPublisher;
  /** Site token of what is published when the source event names none. */
  site: string;
  /** @default a new EventCodec over the catalog */
  codec?: EventCodec;
  /** @default a silent logger */
  logger?: Logger;
  /** Connector and consumer metrics. @default the process registry */
  registry?: Registry;
  /** Odoo work center code per line token (`line` or `line/machine`); unmapped lines use their token. */
  workcenterByLine?: Readonly<Record<string, string>>;
  /** Work center code → line, when not the inverse of workcenterByLine (routing split orders). */
  lineByWorkcenter?: Readonly<Record<string, string>>;
  /** When orders are closed and how (close policy, backorders, move dates). @default CLOSE_DEFAULTS */
  close?: CloseOptions;
  /**
   * Publish a ProductionRunEnded (PLANNED_QUANTITY) when the counting point reaches an order's
   * planned quantity, so the close policy can close it. @default false
   */
  closeAtPlannedQuantity?: boolean;
  /** Units and products for the postings: the master data in the running connector. @default read from Odoo */
  reference?: ReferenceData;
  /** Availability loss reason name per downtime category. @default the first availability loss */
  lossByCategory?: Readonly<Partial<Record<DowntimeCategory, string>>>;
  /** @default "WH/Quarantine" */
  quarantineLocation?: string;
  /** @default "WH/Stock" */
  stockLocation?: string;
  /** Durable names, when not the declared ones. @default OUTBOUND_DEFAULTS.durables */
  durables?: Partial<Record<OutboundDurable, string>>;
  /** Which durables to run. @default all */
  only?: readonly OutboundDurable[];
  /** Consumer tuning, per consumer. */
  consumer?: {
    /** @default 4 */
    concurrency?: number;
    maxBuffered?: number;
    /** Delay before a transient failure is retried (jittered). @default the SDK's (1 s doubling to 60 s, ±20 %) */
    retryBackoff?: Partial<BackoffPolicy>;
    maxDeliver?: number;
    drainTimeoutMs?: number;
    pullExpiresMs?: number;
    infoIntervalMs?: number;
  };
  /** Pause the consumers while the client's breaker is open. @default true */
  pauseWhenBreakerOpen?: boolean;
  /**
   * How the durables the manifest partitions (production, quality, shipping) run: as partitioned
   * consumers, so several replicas post with each order's postings in stream order, their leases in
   * `kv`, `holder` unique per process; `false`: on unpartitioned durables of those names (declared by
   * hand: a bench, a test of one process). @default partitioned, `kv` the connector's state bucket,
   * `holder` `<host>:<pid>:<random>`, `ttlMs` 15000
   */
  partitions?: false | { readonly kv?: KV; readonly holder?: string; readonly ttlMs?: number };
}

/** The single source of the outbound defaults. */
export const OUTBOUND_DEFAULTS = {
  durables: CONNECTOR_DURABLES satisfies Record<OutboundDurable, string>,
  /** The stream of each durable, as the manifest declares it. */
  streams: Object.fromEntries(
    Object.entries(CONNECTOR_DURABLES).map(([kind, durable]) => [
      kind,
      odooConnectorManifest.consumers[durable].stream,
    ]),
  ) as Record<OutboundDurable, string>,
  concurrency: 4,
  quarantineLocation: QUALITY_DEFAULTS.quarantineLocation,
  stockLocation: QUALITY_DEFAULTS.stockLocation,
  pauseWhenBreakerOpen: true,
  /** How often a posting waiting for the breaker looks again (besides being woken by its changes). */
  breakerPollMs: 1_000,
  /** The bucket of the partitions' leases (streams/src/declarations.ts). */
  stateBucket: "THREADLINE_CONNECTOR_STATE",
  /** How often the backlog gauge is refreshed from the consumers' metrics (their info interval). */
  backlogIntervalMs: 5_000,
} as const;

const DURABLES: readonly OutboundDurable[] = [
  "production",
  "downtimeStarted",
  "downtimeEnded",
  "quality",
  "shipping",
];

export interface Outbound {
  /** The running consumers, one per durable. */
  readonly consumers: readonly EventConsumer[];
  /** Readiness: each consumer running (not paused by the breaker), for `/readyz`. */
  readonly checks: readonly ReadinessCheck[];
  /** Stops listening to the breaker and drains the consumers. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** What runService (or {@link startOutbound}) runs: the consumers, the Odoo gate and the breaker's pause. */
export interface OutboundParts {
  readonly consumers: ConsumerOptions[];
  readonly interceptors: HandlerInterceptor[];
  readonly pausePolicy?: PausePolicy;
  /** Starts the backlog gauge over the running consumers. */
  onStarted(consumers: readonly EventConsumer[]): void;
  /** Wakes postings waiting for the breaker (they give their events back) and stops the gauge. */
  onStopping(): void;
}

/** The outbound consumers, their interceptor and pause policy, not started. */
export async function outboundParts(options: OutboundOptions): Promise<OutboundParts> {
  if (!options.site)
    throw new ConfigError("site", "is required (the site of published ProductionPosted events)");
  const codec = options.codec ?? new EventCodec();
  const logger = (options.logger ?? silentLogger).child({ component: "odoo-outbound" });
  const registry = options.registry ?? defaultRegistry;
  const metrics = connectorMetrics(registry);
  const client = options.client;
  const fields = odooFields(client.version.major);
  const setup = new OdooSetup(client);
  const gate = new BreakerGate(client.breaker, OUTBOUND_DEFAULTS.breakerPollMs);
  const quality = {
    quarantineLocation: options.quarantineLocation ?? OUTBOUND_DEFAULTS.quarantineLocation,
    stockLocation: options.stockLocation ?? OUTBOUND_DEFAULTS.stockLocation,
  };
  const downtime = {
    ...(options.workcenterByLine ? { workcenterByLine: options.workcenterByLine } : {}),
    ...(options.lossByCategory ? { lossByCategory: options.lossByCategory } : {}),
  };
  const equipment = new EquipmentMap(options.workcenterByLine ?? {}, options.lineByWorkcenter);
  const closeOptions = options.close ?? {};

  /**
   * Around every posting: the breaker gate (a posting waits for Odoo instead of using a delivery),
   * Odoo's errors as the consumer's (permanent → dead letter, else retried), the dead-letter count.
   */
  const odooGate: HandlerInterceptor = async ({ event, ctx }, next) => {
    try {
      await gate.run(ctx.signal, next);
    } catch (err) {
      const failure = toConsumerError(err);
      if (!isRetryable(failure) || ctx.lastAttempt)
        metrics.postings.inc({ event_type: event.type, outcome: "dead_lettered" });
      throw failure;
    }
  };

  /** A posting function as a handler: the ProductionPosted it leads to, metrics, logs. */
  function handler<K extends EventType>(
    type: K,
    post: (ctx: PostingContext, event: ConsumedEvent<EventPayloads[K]>) => Promise<PostingResult>,
  ): EventHandler<EventPayloads[K]> {
    return async (event, hctx: HandlerContext) => {
      const ctx: PostingContext = {
        odoo: fencedOdoo(client, hctx.owner),
        fields,
        setup,
        equipment,
        logger: hctx.logger,
        ...(options.reference ? { reference: options.reference } : {}),
      };
      const result = await post(ctx, event);
      const acceptedAt = Date.now();
      const production = result as ProductionPosting;
      if (production.posted)
        await publishPosted(
          options,
          production.posted,
          event as unknown as ConsumedEvent<ProductionReported>,
        );
      if (production.plannedReached && options.closeAtPlannedQuantity)
        await publishPlannedReached(
          options,
          production.plannedReached,
          event as unknown as ConsumedEvent<ProductionReported>,
        );
      metrics.postings.inc({ event_type: type, outcome: result.outcome });
      if (result.outcome === "applied")
        metrics.postingLag.observe(
          { event_type: type },
          Math.max(0, acceptedAt - event.envelope.time.getTime()) / 1000,
        );
      hctx.logger.info(
        {
          outcome: result.outcome,
          ...(result.reason ? { reason: result.reason } : {}),
          odoo: result.records.map((r) => `${r.model}:${r.id}`),
        },
        result.outcome === "skipped" ? "nothing to post to Odoo" : "posted to Odoo",
      );
    };
  }

  const handlersOf: Record<OutboundDurable, EventHandlers> = {
    production: {
      "mfg.production.production_reported.v1": handler(
        "mfg.production.production_reported.v1",
        postProductionReported,
      ),
      "mfg.production.production_run_ended.v1": handler("mfg.production.production_run_ended.v1", (ctx, e) =>
        postRunEnded(ctx, e, closeOptions),
      ),
    },
    downtimeStarted: {
      "mfg.machine.downtime_started.v1": handler("mfg.machine.downtime_started.v1", (ctx, e) =>
        postDowntimeStarted(ctx, e, downtime),
      ),
    },
    downtimeEnded: {
      "mfg.machine.downtime_ended.v1": handler("mfg.machine.downtime_ended.v1", (ctx, e) =>
        postDowntimeEnded(ctx, e, downtime),
      ),
    },
    quality: {
      "mfg.quality.quality_hold_placed.v1": handler("mfg.quality.quality_hold_placed.v1", (ctx, e) =>
        postQualityHoldPlaced(ctx, e, quality),
      ),
      "mfg.quality.quality_hold_released.v1": handler("mfg.quality.quality_hold_released.v1", (ctx, e) =>
        postQualityHoldReleased(ctx, e, quality),
      ),
    },
    shipping: {
      "mfg.shipping.shipment_blocked.v1": handler("mfg.shipping.shipment_blocked.v1", postShipmentBlocked),
      "mfg.shipping.shipment_cleared.v1": handler("mfg.shipping.shipment_cleared.v1", postShipmentCleared),
    },
  };

  for (const type of ORDERED_TYPES) await learnWriter(codec, type, logger);
  const partitionKv =
    options.partitions === false
      ? undefined
      : (options.partitions?.kv ?? (await new Kvm(options.nc).open(OUTBOUND_DEFAULTS.stateBucket)));
  // Unique per instance: two connectors in one process (tests) are two holders.
  const holder =
    (options.partitions || undefined)?.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const tuning = options.consumer ?? {};
  const consumers: ConsumerOptions[] = (options.only ?? DURABLES).map((which) => ({
    stream: OUTBOUND_DEFAULTS.streams[which],
    durable: options.durables?.[which] ?? OUTBOUND_DEFAULTS.durables[which],
    handlers: handlersOf[which],
    // Other event types of the stream (inspections, shipment requests, …) are not for Odoo.
    onUnhandledType: "ack",
    ordered: true,
    concurrency: tuning.concurrency ?? OUTBOUND_DEFAULTS.concurrency,
    codec,
    // The consumer binds its durable as `consumer` itself; binding the kind here wrote the key twice.
    logger,
    metrics: registry,
    ...(which === "production" ? { orderingKey: orderOf(codec) } : {}),
    ...partitionsOf(which, options, partitionKv, holder),
    ...(tuning.maxBuffered !== undefined ? { maxBuffered: tuning.maxBuffered } : {}),
    ...(tuning.retryBackoff !== undefined ? { retryBackoff: tuning.retryBackoff } : {}),
    ...(tuning.maxDeliver !== undefined ? { maxDeliver: tuning.maxDeliver } : {}),
    ...(tuning.drainTimeoutMs !== undefined ? { drainTimeoutMs: tuning.drainTimeoutMs } : {}),
    ...(tuning.pullExpiresMs !== undefined ? { pullExpiresMs: tuning.pullExpiresMs } : {}),
    ...(tuning.infoIntervalMs !== undefined ? { infoIntervalMs: tuning.infoIntervalMs } : {}),
  }));

  let backlogTimer: NodeJS.Timeout | undefined;
  return {
    consumers,
    interceptors: [odooGate],
    ...((options.pauseWhenBreakerOpen ?? OUTBOUND_DEFAULTS.pauseWhenBreakerOpen)
      ? { pausePolicy: breakerPausePolicy(client.breaker) }
      : {}),
    onStarted(started) {
      // Once now: the consumers read their durables' info as they started, and a scrape before the
      // first tick would otherwise show no backlog while a whole shift's reports wait.
      void mirrorBacklog(registry, started, metrics.backlog);
      backlogTimer = setInterval(
        () => void mirrorBacklog(registry, started, metrics.backlog),
        tuning.infoIntervalMs ?? OUTBOUND_DEFAULTS.backlogIntervalMs,
      );
      backlogTimer.unref();
    },
    onStopping() {
      clearInterval(backlogTimer);
      gate.close();
    },
  };
}

/** The partitioning of a durable the manifest partitions, unless the connector runs unpartitioned. */
function partitionsOf(
  which: OutboundDurable,
  options: OutboundOptions,
  kv: KV | undefined,
  holder: string,
): Pick<ConsumerOptions, "partitions"> {
  const count = (
    odooConnectorManifest.consumers[OUTBOUND_DEFAULTS.durables[which]] as { partitions?: number }
  ).partitions;
  if (options.partitions === false || !count || !kv) return {};
  const durable = options.durables?.[which] ?? OUTBOUND_DEFAULTS.durables[which];
  return {
    partitions: {
      count,
      kv,
      holder,
      group: `${odooConnectorManifest.service}.${durable}`,
      ...(options.partitions?.ttlMs !== undefined ? { ttlMs: options.partitions.ttlMs } : {}),
      ...(options.registry ? { registry: options.registry } : {}),
    },
  };
}

/** Creates and starts the outbound consumers (outside runService: tests, benches). */
export async function startOutbound(options: OutboundOptions): Promise<Outbound> {
  const parts = await outboundParts(options);
  const group = await startConsumers(options.nc, {
    consumers: parts.consumers,
    interceptors: parts.interceptors,
    ...(parts.pausePolicy ? { pausePolicy: parts.pausePolicy } : {}),
    logger: (options.logger ?? silentLogger).child({ component: "odoo-outbound" }),
  });
  parts.onStarted(group.consumers);
  let stopping: Promise<void> | undefined;
  return {
    consumers: group.consumers,
    checks: group.checks,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        parts.onStopping();
        await group.stop(stopOptions);
      })();
      return stopping;
    },
  };
}

/** Consumers pause while Odoo's circuit breaker is open; they resume when it half-opens. */
export function breakerPausePolicy(breaker: CircuitBreaker): PausePolicy {
  return {
    paused: () => breaker.state === "open",
    reason: () => "Odoo circuit breaker open",
    onChange: (listener) => breaker.onChange(() => listener()),
  };
}

/**
 * The connector's backlog gauge per durable: what the SDK's consumers last read from the server,
 * not yet delivered plus delivered and not acknowledged.
 */
async function mirrorBacklog(
  registry: Registry,
  consumers: readonly EventConsumer[],
  backlog: ReturnType<typeof connectorMetrics>["backlog"],
): Promise<void> {
  // A partitioned durable's partitions each read the whole stream: its lag is the largest of theirs,
  // its unacknowledged deliveries the sum.
  const of = (consumer: string | undefined, durable: string) =>
    consumer === durable ||
    (consumer?.startsWith(`${durable}-p`) && /^\d+$/.test(consumer.slice(durable.length + 2)));
  const values = async (name: string, durable: string) => {
    const metric = await registry.getSingleMetric(name)?.get();
    return (metric?.values ?? [])
      .filter((v) => of(v.labels["consumer"] as string | undefined, durable))
      .map((v) => v.value);
  };
  for (const c of consumers) {
    const pending = Math.max(0, ...(await values("threadline_consumer_pending", c.durable)));
    const ackPending = (await values("threadline_consumer_ack_pending", c.durable)).reduce(
      (t, v) => t + v,
      0,
    );
    backlog.set({ consumer: c.durable }, pending + ackPending);
  }
}

/** Publishes ProductionPosted with an id derived from the report's, so a re-post publishes the same event. */
async function publishPosted(
  options: OutboundOptions,
  posted: NonNullable<ProductionPosting["posted"]>,
  source: ConsumedEvent<ProductionReported>,
): Promise<void> {
  const equipment = source.value.equipment;
  const line = equipment.line ?? undefined;
  await options.publisher.publish("mfg.production.production_posted.v1", posted, {
    site: equipment.site || options.site,
    ...(line !== undefined ? { line } : {}),
    ...(line !== undefined && equipment.machine !== null ? { machine: equipment.machine } : {}),
    key: posted.orderRef,
    id: productionPostedId(posted.sourceEventId),
    time: posted.postedAt,
    ...(source.envelope.traceparent ? { traceparent: source.envelope.traceparent } : {}),
  });
}

/**
 * The counting point reached the order's planned quantity: a ProductionRunEnded (PLANNED_QUANTITY)
 * for the close policy, with an id derived from the order, so one is published per order.
 */
async function publishPlannedReached(
  options: OutboundOptions,
  reached: NonNullable<ProductionPosting["plannedReached"]>,
  source: ConsumedEvent<ProductionReported>,
): Promise<void> {
  const r = source.value;
  const line = r.equipment.line ?? undefined;
  await options.publisher.publish(
    "mfg.production.production_run_ended.v1",
    {
      equipment: r.equipment,
      orderRef: reached.name,
      lot: r.lot,
      reason: "PLANNED_QUANTITY",
      nextOrderRef: null,
      nextLot: null,
      requestedBy: null,
      endedAt: r.reportedAt,
    },
    {
      site: r.equipment.site || options.site,
      ...(line !== undefined ? { line } : {}),
      ...(line !== undefined && r.equipment.machine !== null ? { machine: r.equipment.machine } : {}),
      key: reached.name,
      id: derivedEventId("odoo-connector", "planned-quantity", String(reached.productionId)),
      time: r.reportedAt,
    },
  );
}

/** The ce-id of the ProductionPosted of a report. */
export function productionPostedId(sourceEventId: string): string {
  return derivedEventId("odoo-connector", "production-posted", sourceEventId);
}

/** The production stream's event types whose postings are ordered by their order. */
const ORDERED_TYPES = [
  "mfg.production.production_reported.v1",
  "mfg.production.production_run_ended.v1",
] as const satisfies readonly EventType[];

/**
 * The ordering key of a production report or run end: its order's family (postings to one order
 * must not run at once or reorder, and a run's end must come after its counts). `ce-subject` is the
 * machine. A payload whose writer schema is not in the codec's cache yet (a producer on a newer
 * minor version) is decoded once the writer is fetched — the consumer takes nothing else meanwhile —
 * so every replica computes the same key, and so the same partition; a writer the registry does not
 * know makes the event poison (dead-lettered), and its key falls back to `ce-subject`.
 */
function orderOf(codec: EventCodec): (msg: JsMsg) => string | undefined | Promise<string | undefined> {
  const decode = (msg: JsMsg, type: (typeof ORDERED_TYPES)[number]) => {
    const { value } = codec.decodeKnown<{ orderRef: string | null }>(msg.data, { as: type });
    return value.orderRef ? `order:${familyKey(value.orderRef)}` : subjectOf(msg);
  };
  // The key picks the partition, so it must be the same on every replica. A message that cannot be
  // decoded, now or ever (corrupt bytes, a writer the registry does not know), is keyed by its
  // ce-subject everywhere (its handler dead-letters it); only a lookup that did not get an answer (the
  // registry unreachable) fails, and the consumer asks again (streams' #keyFailed).
  const definite = (msg: JsMsg) => (err: unknown) => {
    if (err instanceof ThreadlineError) return subjectOf(msg);
    throw err;
  };
  return (msg) => {
    const type = msg.headers?.get(CE.type) as (typeof ORDERED_TYPES)[number] | undefined;
    if (!type || !(ORDERED_TYPES as readonly string[]).includes(type)) return subjectOf(msg);
    try {
      return decode(msg, type);
    } catch (err) {
      // Not in the codec's cache yet: look the writer up first.
      if (!(err instanceof UnknownFingerprintError)) return subjectOf(msg);
      return codec.writerOf(msg.data).then(() => {
        try {
          return decode(msg, type);
        } catch (e) {
          return definite(msg)(e);
        }
      }, definite(msg));
    }
  };
}

const subjectOf = (msg: JsMsg): string | undefined => msg.headers?.get(CE.subject) || undefined;

/** Puts the catalog's writer of `type` in the codec's cache, so ordering keys decode from the start. */
async function learnWriter(codec: EventCodec, type: EventType, logger: Logger): Promise<void> {
  try {
    const { fingerprint } = codec.contract(type);
    await codec.writerOf(Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from(fingerprint, "hex")]));
  } catch (err) {
    logger.warn(
      { err, type },
      "could not look up the writer schema ahead; ordering keys fall back to ce-subject",
    );
  }
}

/**
 * The Odoo client as one posting sees it: every call refused (LEASE_FENCED) once this replica no
 * longer owns the event's partition. A replica paused in the middle of a posting wakes up deposed —
 * the new owner is posting the same event — and must not write the rest of it (ctx.owner()).
 */
function fencedOdoo(client: OdooClient, owner: () => boolean): OdooClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (!owner())
          throw new LeaseFencedError(
            `odoo.${String(prop)}`,
            "this replica no longer owns the event's partition: its new owner posts it",
          );
        return value.apply(target, args);
      };
    },
  });
}
