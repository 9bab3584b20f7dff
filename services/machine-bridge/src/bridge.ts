/**
 * The machine bridge: OPC UA endpoints in, canonical machine and production events out.
 *
 * Per machine, a {@link MachineTracker} turns readings into events and an {@link Outbox} publishes
 * them in order. When an endpoint starts, each of its machines' trackers resumes from the machine's
 * last events in the streams, so a restart neither loses nor double-counts. Endpoint status (ONLINE,
 * DEGRADED with the nodes at fault, OFFLINE) goes out as ConnectorStatusChanged on every change and
 * into the connector-state KV bucket, with every node's status and type, on every heartbeat. A value
 * the trackers cannot use is never dropped silently: a log line and a metric name the machine, the
 * tag and the reason.
 *
 * Replicas (`replicas`): the endpoints are spread over the bridge's replicas by {@link WorkShares},
 * one lease per endpoint in the connector-state bucket. An endpoint — its OPC UA session, its
 * machines' trackers and outboxes, its commands, its status — runs only on the replica that owns
 * it: started (resumed from the streams) when the lease is acquired, stopped at once when it is
 * lost, nothing published for its machines from then on. Two fences keep a deposed owner (paused
 * past the ttl, cut from NATS) from counting beside the new one: the lease is asked before every
 * publish, and each production report is stored only if its machine's last report in the stream is
 * still the one this owner read or wrote (expected last subject sequence), which the new owner's
 * first report changes. Without `replicas` the bridge owns every endpoint: one copy only.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { OPCUACertificateManager } from "node-opcua";
import type { Registry } from "prom-client";
import type { EquipmentPath, EventCodec, PackMlMode } from "../../../contracts/src/index.js";
import {
  ConfigError,
  derivedEventId,
  type EventPublisher,
  type Logger,
  WorkShares,
} from "../../../streams/src/index.js";
import { MachineCommandServer } from "./commands.js";
import {
  type BridgeConfig,
  countingPoints,
  type EndpointConfig,
  equipmentOf,
  machineKeyOf,
  stateTableFor,
} from "./config.js";
import { type Drop, MachineTracker, type Outgoing, type Reading } from "./machine.js";
import { type BridgeMetrics, bridgeMetrics } from "./metrics.js";
import {
  EndpointConnection,
  type EndpointStatus,
  labelOf,
  type MonitoredSignal,
  type NodeReport,
  type StatusChange,
} from "./opcua/endpoint.js";
import type { NodeRole } from "./opcua/nodes.js";
import { Outbox } from "./outbox.js";
import { readResumePoint } from "./resume.js";

/** KV bucket of connector status (declared in streams/src/declarations.ts); also where the endpoints' leases are. */
export const CONNECTOR_STATE_BUCKET = "THREADLINE_CONNECTOR_STATE";

const DEFAULT_MODES: Record<string, PackMlMode> = { "1": "PRODUCTION", "2": "MAINTENANCE", "3": "MANUAL" };

/** How replicas of one bridge share its endpoints. */
export interface BridgeReplicaOptions {
  /** Unique per process (`<pod>:<pid>`): a restarted copy waits out its predecessor's leases like any replica. */
  readonly holder: string;
  /**
   * How long a killed, paused or partitioned owner keeps its endpoints; another replica takes them
   * over after about ttl + ttl / 3. @default 15000
   */
  readonly ttlMs?: number;
}

export interface MachineBridgeOptions {
  readonly config: BridgeConfig;
  readonly publisher: EventPublisher;
  readonly jsm: JetStreamManager;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Connector-state bucket; status is not recorded in KV when absent. Needed with `replicas` (the leases). */
  readonly statusKv?: KV;
  /** Where endpoint passwords are read (`user.passwordEnv`). @default process.env */
  readonly env?: Record<string, string | undefined>;
  /**
   * The connection commands to machines arrive on (threadline.cmd.machine.<site>.<line>.<machine>,
   * src/commands.ts). @default none: the bridge takes no command
   */
  readonly nc?: NatsConnection;
  /**
   * Run as one of several replicas: each endpoint runs on the replica holding its lease
   * (`lease.machine-bridge.<connectorId>.<endpoint id>` in `statusKv`). @default none: this bridge
   * runs every endpoint (one copy only: two would count every machine twice)
   */
  readonly replicas?: BridgeReplicaOptions;
}

interface BridgedMachine {
  readonly key: string;
  readonly tracker: MachineTracker;
  readonly outbox: Outbox;
  queuedSamples: number;
}

/** An endpoint this replica runs: from the acquisition of its lease to its loss. */
interface BridgedEndpoint {
  readonly config: EndpointConfig;
  readonly machines: readonly BridgedMachine[];
  readonly connection: EndpointConnection;
  /** False from the moment the endpoint is lost: nothing more is published or reported for it. */
  active: boolean;
}

/** A kind of dropped value is logged at once, then at most once a minute with how many more. */
const DROP_LOG_EVERY_MS = 60_000;

export class MachineBridge {
  /** The endpoints running on this replica, by id. */
  readonly #endpoints = new Map<string, BridgedEndpoint>();
  /** Per endpoint, its last start or stop: they run in turn. */
  readonly #transitions = new Map<string, Promise<void>>();
  readonly #statusOutbox: Outbox;
  readonly #metrics: BridgeMetrics;
  readonly #timers: NodeJS.Timeout[] = [];
  /** The reason of each endpoint's last reported status (a DEGRADED with other nodes is reported again). */
  readonly #lastReason = new Map<string, string | null>();
  /** Per machine, kind and reason of dropped value: when last logged and how many since. */
  readonly #dropLog = new Map<string, { loggedAt: number; since: number }>();
  /** Machine keys of the lines' counting points. */
  readonly #countingPoints: ReadonlySet<string>;
  readonly #passwords = new Map<string, string>();
  #certificateManager: OPCUACertificateManager | undefined;
  #shares: WorkShares | undefined;
  #stopping: Promise<void> | undefined;
  #commands: MachineCommandServer | undefined;

  private constructor(private readonly options: MachineBridgeOptions) {
    this.#metrics = bridgeMetrics(options.registry);
    this.#countingPoints = countingPoints(options.config);
    this.#statusOutbox = new Outbox({
      publisher: options.publisher,
      target: { site: options.config.site, key: options.config.connectorId },
      logger: options.logger,
    });
  }

  /**
   * Without `replicas`: resumes every machine from the streams, then connects to every endpoint (in
   * the background). With `replicas`: starts contending for the endpoints' leases; each endpoint
   * starts when its lease is acquired.
   */
  static async start(options: MachineBridgeOptions): Promise<MachineBridge> {
    const bridge = new MachineBridge(options);
    await bridge.#start();
    return bridge;
  }

  /** Endpoint id → status, of the endpoints this replica runs, for health output and tests. */
  endpointStatus(): Record<string, EndpointStatus> {
    return Object.fromEntries([...this.#endpoints.values()].map((e) => [e.config.id, e.connection.status]));
  }

  /** Endpoint id → every configured node with its status and type (endpoints this replica runs). */
  nodeStatus(): Record<string, NodeReport[]> {
    return Object.fromEntries([...this.#endpoints.values()].map((e) => [e.config.id, e.connection.nodes()]));
  }

  /** The endpoints this replica runs (all of them without `replicas`). */
  ownedEndpoints(): string[] {
    return [...this.#endpoints.keys()].sort();
  }

  /** Machines whose state and counters have been read since their endpoint started (see MachineTracker.baselined). */
  baselined(): number {
    return this.#machines().filter((m) => m.tracker.baselined).length;
  }

  /** Publishes what is counted and sampled so far and waits until JetStream has all of it. */
  async flush(): Promise<void> {
    this.#flushProduction();
    this.#flushTelemetry();
    await Promise.all([...this.#machines().map((m) => m.outbox.idle()), this.#statusOutbox.idle()]);
  }

  /**
   * Disconnects from every endpoint (closing sessions), flushes, then releases the leases so that
   * the other replicas take the endpoints at once, and stops.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#stopping ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      await this.#commands?.stop();
      await Promise.all([...this.#transitions.values()]);
      const running = [...this.#endpoints.values()];
      await Promise.all(running.map((e) => e.connection.stop()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.timeoutMs ?? 10_000);
        }),
      ]);
      clearTimeout(timer);
      for (const e of running) this.#close(e);
      this.#statusOutbox.close();
      await this.#shares?.stop();
    })();
    return this.#stopping;
  }

  #machines(): BridgedMachine[] {
    return [...this.#endpoints.values()].filter((e) => e.active).flatMap((e) => e.machines);
  }

  /** Whether this replica may work for the endpoint now (always without `replicas`). */
  #owns(endpointId: string): boolean {
    return this.#shares ? this.#shares.isOwner(endpointId) : true;
  }

  async #start(): Promise<void> {
    const { config, logger, replicas, statusKv } = this.options;
    const env = this.options.env ?? process.env;
    if (replicas && !statusKv)
      throw new ConfigError(
        "statusKv",
        `replicas need the ${CONNECTOR_STATE_BUCKET} bucket: the endpoints' leases are held there`,
      );
    this.#certificateManager = new OPCUACertificateManager({
      rootFolder: config.pkiFolder,
      automaticallyAcceptUnknownCertificate: config.trustUnknownServerCertificates,
    });
    await this.#certificateManager.initialize();
    for (const [ei, endpoint] of config.endpoints.entries()) {
      if (!endpoint.user) continue;
      const password = env[endpoint.user.passwordEnv];
      if (!password)
        throw new ConfigError(
          `endpoints.${ei}.user.passwordEnv`,
          `names ${endpoint.user.passwordEnv}, which is not set in the environment`,
        );
      this.#passwords.set(endpoint.id, password);
    }
    this.#timers.push(setInterval(() => this.#flushProduction(), config.reportIntervalMs));
    this.#timers.push(setInterval(() => this.#flushTelemetry(), config.telemetry.batchIntervalMs));
    if (this.options.nc)
      this.#commands = MachineCommandServer.start({
        nc: this.options.nc,
        publisher: this.options.publisher,
        targets: [],
        // Replicas: a request reaches one of them (one that lost the endpoint says so, writing nothing).
        ...(replicas ? { queue: `machine-bridge.${config.connectorId}` } : {}),
        logger: logger.child({ component: "commands" }),
        metrics: this.#metrics,
      });
    if (!replicas || !statusKv) {
      for (const endpoint of config.endpoints) await this.#startEndpoint(endpoint);
      logger.info(
        { endpoints: this.ownedEndpoints(), machines: this.#machines().length },
        "machine bridge started",
      );
      return;
    }
    const byId = new Map(config.endpoints.map((e) => [e.id, e]));
    const shares = new WorkShares({
      kv: statusKv,
      group: `machine-bridge.${config.connectorId}`,
      items: config.endpoints.map((e) => e.id),
      holder: replicas.holder,
      ...(replicas.ttlMs ? { ttlMs: replicas.ttlMs } : {}),
      logger,
      registry: this.options.registry,
    });
    shares.on("acquired", (id, token) => {
      const endpoint = byId.get(id);
      if (!endpoint) return;
      logger.info({ endpoint: id, fencingToken: token }, "endpoint acquired: starting it");
      this.#inTurn(id, () => this.#startEndpoint(endpoint));
    });
    shares.on("lost", (id, reason) => {
      // At once, before the stop below gets its turn: no reading, report or status of it from now on.
      const running = this.#endpoints.get(id);
      if (running && !this.#stopping) this.#deactivate(running);
      logger[reason === "released" ? "info" : "warn"]({ endpoint: id, reason }, "endpoint lost: stopping it");
      this.#inTurn(id, () => this.#stopEndpoint(id));
    });
    this.#shares = shares;
    shares.start();
    logger.info(
      { endpoints: config.endpoints.map((e) => e.id), holder: replicas.holder, ttlMs: replicas.ttlMs },
      "machine bridge started: contending for its endpoints",
    );
  }

  #inTurn(endpointId: string, step: () => Promise<void>): void {
    const next = (this.#transitions.get(endpointId) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.options.logger.error({ err, endpoint: endpointId }, "endpoint failed to start or stop");
    });
    this.#transitions.set(endpointId, next);
  }

  /** Resumes the endpoint's machines from the streams, connects, and takes their commands. */
  async #startEndpoint(endpoint: EndpointConfig): Promise<void> {
    if (this.#stopping || this.#endpoints.has(endpoint.id) || !this.#owns(endpoint.id)) return;
    const { config, logger } = this.options;
    const machines: BridgedMachine[] = [];
    const signals: MonitoredSignal[] = [];
    for (const [index, mapping] of endpoint.machines.entries()) {
      machines.push(await this.#machine(endpoint, mapping));
      signals.push(...signalsOf(index, mapping));
    }
    // Lost while its machines were read: nothing was started, the loss has nothing to stop.
    if (this.#stopping || !this.#owns(endpoint.id)) {
      for (const m of machines) m.outbox.close();
      return;
    }
    for (const s of signals)
      this.#metrics.nodeOk.set({ endpoint: endpoint.id, machine: s.machineName, signal: labelOf(s) }, 0);
    const password = this.#passwords.get(endpoint.id);
    const running: BridgedEndpoint = {
      config: endpoint,
      machines,
      active: true,
      connection: new EndpointConnection({
        endpoint,
        signals,
        certificateManager: this.#certificateManager as OPCUACertificateManager,
        ...(password ? { password } : {}),
        heartbeatMs: config.heartbeatMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        rebuildAfterMs: config.rebuildAfterMs,
        recheckNodesMs: config.recheckNodesMs,
        logger: logger.child({ endpoint: endpoint.id }),
        onReadings: (i, readings) => this.#onReadings(running, i, readings),
        onStatus: (change) => this.#onStatus(running, change),
      }),
    };
    this.#endpoints.set(endpoint.id, running);
    running.connection.start();
    this.#commands?.serve(
      endpoint.machines.map((mapping) => ({
        key: machineKeyOf(mapping, config.site),
        equipment: equipmentOf(mapping, config.site),
        mapping,
        endpoint: running.connection,
        owns: () => running.active && this.#owns(endpoint.id),
      })),
    );
  }

  /** Stops publishing and reporting for the endpoint (its lease is lost): its queued events are the new owner's to recompute. */
  #deactivate(running: BridgedEndpoint): void {
    running.active = false;
    this.#commands?.release(running.machines.map((m) => m.key));
    for (const m of running.machines) m.outbox.close();
    this.#metrics.endpointUp.set({ endpoint: running.config.id }, 0);
  }

  /** Disconnects from the endpoint; a graceful release (stop) publishes what is counted first. */
  async #stopEndpoint(endpointId: string): Promise<void> {
    const running = this.#endpoints.get(endpointId);
    if (!running) return;
    if (this.#stopping) return; // stop() disconnects, flushes and closes every endpoint itself
    this.#deactivate(running);
    await running.connection.stop();
    this.#close(running);
  }

  #close(running: BridgedEndpoint): void {
    running.active = false;
    for (const m of running.machines) m.outbox.close();
    this.#endpoints.delete(running.config.id);
    this.#metrics.baselined.set(this.baselined());
  }

  /**
   * The stream refused a report of the endpoint's machine: the subject's last report is not the one
   * this replica expected — another replica reported it since, or this replica's own report landed
   * and its ack was lost (nats-server 2.15 refuses the retry instead of deduplicating it). A deposed owner stops (its loss
   * is on its way); an owner restarts the endpoint from the streams, which hold whichever it was.
   */
  #fenced(running: BridgedEndpoint, machine: string, reason: string): void {
    if (!running.active) return;
    const id = running.config.id;
    this.options.logger.warn({ endpoint: id, machine, reason }, "endpoint fenced: stopping it");
    this.#deactivate(running);
    this.#inTurn(id, async () => {
      await running.connection.stop();
      if (this.#endpoints.get(id) === running) this.#close(running);
      await this.#startEndpoint(running.config);
    });
  }

  async #machine(
    endpoint: EndpointConfig,
    mapping: EndpointConfig["machines"][number],
  ): Promise<BridgedMachine> {
    const { config, publisher, logger, jsm, codec } = this.options;
    const site = mapping.site ?? config.site;
    const key = machineKeyOf(mapping, config.site);
    const equipment: EquipmentPath = equipmentOf(mapping, config.site);
    const modes = new Map(Object.entries(mapping.modes ?? DEFAULT_MODES).map(([n, m]) => [Number(n), m]));
    const tracker = new MachineTracker({
      key,
      equipment,
      states: stateTableFor(config, endpoint, mapping),
      modes,
      counters: mapping.counters,
      hasGoodCounter: mapping.signals.goodCounter !== undefined,
      hasRejectCounter: mapping.signals.rejectCounter !== undefined,
      hasState: mapping.signals.state !== undefined,
      running: mapping.signals.running
        ? mapping.signals.running.values
          ? { values: mapping.signals.running.values }
          : {}
        : null,
      alarms: mapping.alarms
        ? {
            downtimeReason: mapping.alarms.downtimeReason
              ? { minSeverity: mapping.alarms.downtimeReason.minSeverity }
              : null,
          }
        : null,
      categories: config.downtime.categories,
      defaultCategory: config.downtime.defaultCategory,
      maxSamples: config.telemetry.maxSamples,
      countingPoint: this.#countingPoints.has(key),
      rejectedComponent: mapping.rejects?.component ?? null,
    });
    const route = { site, line: mapping.line, machine: mapping.machine };
    const resume = await readResumePoint(jsm, codec, route, {
      running: mapping.signals.running !== undefined,
    });
    tracker.restore(resume);
    const replicated = this.options.replicas !== undefined;
    const machine: BridgedMachine = {
      key,
      tracker,
      queuedSamples: 0,
      outbox: new Outbox({
        publisher,
        target: { ...route, key },
        logger,
        onPublished: (event) => this.#onPublished(machine, event),
        onInvalid: (event) => this.#metrics.eventsInvalid.inc({ machine: key, event_type: event.type }),
        ...(replicated
          ? {
              mayPublish: () => this.#owns(endpoint.id),
              fence: {
                type: "mfg.production.production_reported.v1",
                lastSequence: resume.productionSequence,
              },
              onFenced: (reason: string) => {
                const running = this.#endpoints.get(endpoint.id);
                if (running?.machines.includes(machine)) this.#fenced(running, key, reason);
              },
            }
          : {}),
      }),
    };
    return machine;
  }

  #onReadings(running: BridgedEndpoint, index: number, readings: Reading[]): void {
    const m = running.machines[index];
    if (!m || !running.active) return;
    this.#metrics.readings.inc({ endpoint: running.config.id }, readings.length);
    const before = { ...m.tracker.anomalies };
    m.outbox.push(m.tracker.apply(readings));
    for (const d of m.tracker.takeDrops()) this.#dropped(m, d);
    const after = m.tracker.anomalies;
    if (after.rollovers > before.rollovers)
      this.#metrics.counterAnomalies.inc({ machine: m.key, kind: "rollover" });
    if (after.resets > before.resets) this.#metrics.counterAnomalies.inc({ machine: m.key, kind: "reset" });
    if (after.unknownStates > before.unknownStates) this.#metrics.unknownStates.inc({ machine: m.key });
    if (after.staleReadings > before.staleReadings)
      this.#metrics.staleReadings.inc({ machine: m.key }, after.staleReadings - before.staleReadings);
    this.#metrics.outboxSize.set({ machine: m.key }, m.outbox.size);
    this.#metrics.baselined.set(this.baselined());
  }

  #onPublished(m: BridgedMachine, event: Outgoing): void {
    if (event.type === "mfg.machine.telemetry_sampled.v1") {
      const samples = (event.payload as { samples: { sourceTime: Date }[] }).samples;
      m.queuedSamples -= samples.length;
      const now = Date.now();
      for (const s of samples)
        this.#metrics.sourceToStored.observe(
          { event_type: event.type },
          (now - s.sourceTime.getTime()) / 1000,
        );
    } else {
      this.#metrics.sourceToStored.observe(
        { event_type: event.type },
        (Date.now() - event.time.getTime()) / 1000,
      );
    }
    this.#metrics.outboxSize.set({ machine: m.key }, m.outbox.size);
  }

  /** A value a tracker could not use: counted, and logged (at once, then once a minute per kind). */
  #dropped(m: BridgedMachine, d: Drop): void {
    if (d.kind === "telemetry")
      this.#metrics.samplesDropped.inc({ machine: m.key, tag: d.name, reason: d.reason }, d.count);
    else this.#metrics.readingsDropped.inc({ machine: m.key, signal: d.name, reason: d.reason }, d.count);
    const key = `${m.key}|${d.kind}|${d.name}|${d.reason}`;
    const now = Date.now();
    const seen = this.#dropLog.get(key);
    if (seen && now - seen.loggedAt < DROP_LOG_EVERY_MS) {
      seen.since += d.count;
      return;
    }
    const more = seen?.since ?? 0;
    this.#dropLog.set(key, { loggedAt: now, since: 0 });
    this.options.logger.warn(
      {
        machine: m.key,
        [d.kind === "telemetry" ? "tag" : "signal"]: d.name,
        reason: d.reason,
        value: d.detail,
        count: d.count,
        ...(more > 0 ? { moreSinceLastLog: more } : {}),
      },
      `${d.kind === "telemetry" ? "telemetry sample" : "reading"} of ${m.key} ${d.name} dropped: ${d.reason} (${d.detail})`,
    );
  }

  /** Reports the counts of the endpoints this replica still owns (asked before each batch). */
  #flushProduction(): void {
    for (const running of this.#endpoints.values()) {
      if (!running.active || !this.#owns(running.config.id)) continue;
      for (const m of running.machines) m.outbox.push(m.tracker.flushProduction());
    }
  }

  #flushTelemetry(): void {
    const max = this.options.config.telemetry.maxBuffered;
    for (const m of this.#machines()) {
      const batches = m.tracker.takeTelemetry();
      for (const b of batches) {
        const n = (b.payload as { samples: unknown[] }).samples.length;
        if (m.queuedSamples + n > max) {
          // NATS has been unreachable for a while: telemetry is the one thing we let go (counted).
          const byTag = new Map<string, number>();
          for (const sample of (b.payload as { samples: { tag: string }[] }).samples)
            byTag.set(sample.tag, (byTag.get(sample.tag) ?? 0) + 1);
          for (const [tag, count] of byTag)
            this.#dropped(m, {
              kind: "telemetry",
              name: tag,
              reason: "buffer_full",
              detail: "NATS unreachable",
              count,
            });
          continue;
        }
        m.queuedSamples += n;
        m.outbox.push([b]);
      }
    }
  }

  /** Reported only by the endpoint's owner: a replica that lost it says nothing more about it. */
  #onStatus(running: BridgedEndpoint, { status, previous, reason, lastHeartbeatAt, nodes }: StatusChange) {
    if (!running.active || !this.#owns(running.config.id)) return;
    const endpoint = running.config;
    const { config, logger, statusKv } = this.options;
    this.#metrics.endpointUp.set(
      { endpoint: endpoint.id },
      status === "ONLINE" || status === "DEGRADED" ? 1 : 0,
    );
    for (const n of nodes)
      this.#metrics.nodeOk.set(
        { endpoint: endpoint.id, machine: n.machine, signal: n.signal },
        n.status === "Good" ? 1 : 0,
      );
    const problems = nodes.filter((n) => n.status !== "Good" && n.status !== "Unchecked");
    this.#metrics.nodesNotOk.set({ endpoint: endpoint.id }, problems.length);
    const record = {
      connectorId: config.connectorId,
      endpoint: endpoint.url,
      status,
      reason,
      lastHeartbeatAt,
      nodes,
    };
    void statusKv
      ?.put(`machine-bridge.${config.connectorId}.${endpoint.id}`, JSON.stringify(record))
      .catch((err) => logger.debug({ err }, "connector status not written to KV"));
    if (previous === status && status !== "DEGRADED") return; // a heartbeat: recorded in KV only
    if (previous === status && previous === "DEGRADED" && reason === this.#lastReason.get(endpoint.id))
      return;
    this.#lastReason.set(endpoint.id, reason);
    logger[status === "ONLINE" ? "info" : "warn"](
      { endpoint: endpoint.id, status, reason },
      "endpoint status",
    );
    const changedAt = new Date();
    const event: Outgoing<"mfg.machine.connector_status_changed.v1"> = {
      type: "mfg.machine.connector_status_changed.v1",
      payload: {
        connectorId: config.connectorId,
        endpoint: endpoint.url,
        equipment: endpoint.machines.map((m) => equipmentOf(m, config.site)),
        status,
        previousStatus: previous,
        reason,
        lastHeartbeatAt,
        changedAt,
        nodes:
          status === "DEGRADED"
            ? problems.map((n) => ({
                machine: n.machine,
                signal: n.signal,
                nodeId: n.nodeId,
                status: n.status,
                detail: n.detail,
              }))
            : [],
      },
      id: derivedEventId(config.connectorId, endpoint.id, status, changedAt.getTime()),
      time: changedAt,
    };
    this.#statusOutbox.push([event]);
  }
}

/** What each signal is, for the node check of its type. */
const ROLES: Readonly<Record<string, NodeRole>> = {
  state: "state",
  running: "running",
  mode: "mode",
  goodCounter: "counter",
  rejectCounter: "counter",
  order: "text",
  lot: "text",
  stopReason: "text",
  stopReasonText: "text",
};

/** The monitored items of one machine mapping (`machine`: its index on the endpoint). */
export function signalsOf(machine: number, mapping: EndpointConfig["machines"][number]): MonitoredSignal[] {
  const out: MonitoredSignal[] = [];
  const machineName = mapping.machine;
  for (const [signal, node] of Object.entries(mapping.signals)) {
    if (!node) continue;
    out.push({
      machine,
      machineName,
      signal: signal as MonitoredSignal["signal"],
      role: ROLES[signal] ?? "text",
      nodeId: node.nodeId,
      expectedDataType: node.dataType,
      ...("values" in node && node.values ? { runningValues: true } : {}),
      samplingIntervalMs: node.samplingIntervalMs ?? 0,
      queueSize: node.queueSize ?? 100,
    });
  }
  for (const t of mapping.telemetry)
    out.push({
      machine,
      machineName,
      signal: "telemetry",
      role: "telemetry",
      tag: t.tag,
      nodeId: t.nodeId,
      expectedDataType: t.dataType,
      samplingIntervalMs: t.samplingIntervalMs,
      queueSize: t.queueSize,
      ...(t.deadband ? { deadband: t.deadband } : {}),
    });
  if (mapping.alarms)
    out.push({
      machine,
      machineName,
      signal: "alarm",
      role: "notifier",
      nodeId: mapping.alarms.notifier,
      samplingIntervalMs: 0,
      queueSize: 1000,
      ...(mapping.alarms.sources ? { alarmSources: mapping.alarms.sources } : {}),
    });
  return out;
}
