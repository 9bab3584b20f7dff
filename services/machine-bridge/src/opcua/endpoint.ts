/**
 * One OPC UA endpoint: a client, one session, one subscription whose monitored items carry every
 * mapped signal of the endpoint's machines. Subscriptions, not polling: the server reports changes
 * (state and counters: every change; telemetry: at its sampling interval, through its deadband).
 *
 * Connection loss is node-opcua's reconnection job: it retries with our backoff, reactivates the
 * session on the new channel when the server still has it (no orphaned sessions piling up towards
 * BadTooManySessions) and, when the server restarted, creates a new session and recreates the
 * subscription and its monitored items. The heartbeat — a read of the server's clock — is what
 * decides ONLINE/OFFLINE, so a half-open TCP connection cannot pass for a live machine.
 */
import {
  AttributeIds,
  type ClientSession,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  type DataValue,
  DeadbandType,
  MessageSecurityMode,
  type MonitoringParametersOptions,
  type OPCUACertificateManager,
  OPCUAClient,
  type ReadValueIdOptions,
  SecurityPolicy,
  type StatusCode,
  TimestampsToReturn,
  UserTokenType,
  VariableIds,
} from "node-opcua";
import type { SampleQuality } from "../../../../contracts/src/events.generated.js";
import type { Logger } from "../../../../streams/src/logger.js";
import type { EndpointConfig } from "../config.js";
import type { Reading, SignalName } from "../machine.js";

export type EndpointStatus = "UNKNOWN" | "ONLINE" | "OFFLINE";

/** One monitored node: which machine and signal it feeds. */
export interface MonitoredSignal {
  readonly machine: number;
  readonly signal: SignalName;
  readonly tag?: string;
  readonly nodeId: string;
  readonly samplingIntervalMs: number;
  readonly queueSize: number;
  readonly deadband?: { type: "absolute" | "percent"; value: number };
}

export interface EndpointOptions {
  readonly endpoint: EndpointConfig;
  readonly signals: readonly MonitoredSignal[];
  readonly certificateManager: OPCUACertificateManager;
  readonly password?: string;
  readonly heartbeatMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly logger: Logger;
  /** The readings of one notification, per machine index. */
  readonly onReadings: (machine: number, readings: Reading[]) => void;
  readonly onStatus: (status: EndpointStatus, reason: string | null, lastHeartbeatAt: Date | null) => void;
}

/** A monitoring parameter set shared by several items (one CreateMonitoredItems call each). */
function groupKey(s: MonitoredSignal): string {
  return `${s.samplingIntervalMs}/${s.queueSize}/${s.deadband?.type ?? "-"}/${s.deadband?.value ?? "-"}`;
}

function quality(status: StatusCode): SampleQuality {
  if (status.isGood()) return "GOOD";
  if (status.isBad()) return "BAD";
  return "UNCERTAIN";
}

export class EndpointConnection {
  readonly id: string;
  #client: OPCUAClient | undefined;
  #session: ClientSession | undefined;
  #subscription: ClientSubscription | undefined;
  #status: EndpointStatus = "UNKNOWN";
  #lastHeartbeatAt: Date | null = null;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  /** Readings collected during one notification, flushed once it is processed. */
  #pending = new Map<number, Reading[]>();
  #flushScheduled = false;
  /** Sessions created over the connection's life (a reconnect that reactivates does not create one). */
  sessionsCreated = 0;

  constructor(private readonly options: EndpointOptions) {
    this.id = options.endpoint.id;
  }

  get status(): EndpointStatus {
    return this.#status;
  }

  get lastHeartbeatAt(): Date | null {
    return this.#lastHeartbeatAt;
  }

  /** Starts connecting in the background; never throws for an unreachable server (it reports OFFLINE). */
  start(): void {
    this.#running ??= this.#run().catch((err) => {
      this.options.logger.error({ err, endpoint: this.id }, "endpoint stopped on an unexpected error");
      this.#setStatus("OFFLINE", `bridge error: ${(err as Error).message}`);
    });
  }

  async #run(): Promise<void> {
    const { endpoint, certificateManager, logger } = this.options;
    const client = OPCUAClient.create({
      applicationName: "threadline-machine-bridge",
      clientName: `threadline-${endpoint.id}`,
      endpointMustExist: false,
      securityMode: MessageSecurityMode[endpoint.security.mode],
      securityPolicy: SecurityPolicy[endpoint.security.policy],
      clientCertificateManager: certificateManager,
      requestedSessionTimeout: endpoint.sessionTimeoutMs,
      connectionStrategy: {
        maxRetry: 1_000_000_000,
        initialDelay: endpoint.reconnect.initialDelayMs,
        maxDelay: endpoint.reconnect.maxDelayMs,
        randomisationFactor: 0.2,
      },
      keepSessionAlive: false,
    });
    this.#client = client;
    client.on("backoff", (count: number, delay: number) => {
      logger.debug({ endpoint: this.id, attempt: count, delayMs: delay }, "OPC UA connect retry");
      this.#setStatus("OFFLINE", "unreachable");
    });
    client.on("start_reconnection", () => {
      logger.warn({ endpoint: this.id }, "OPC UA connection lost: reconnecting");
      this.#setStatus("OFFLINE", "connection lost");
    });
    client.on("after_reconnection", () => {
      logger.info({ endpoint: this.id }, "OPC UA connection re-established");
      void this.#beat();
    });
    await client.connect(endpoint.url);
    if (this.#stopped) return;
    const session = await client.createSession(this.#identity());
    this.sessionsCreated++;
    this.#session = session;
    session.on("session_restored", () => logger.info({ endpoint: this.id }, "OPC UA session restored"));
    if (this.#stopped) return;
    await this.#subscribe(session);
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.options.heartbeatMs);
  }

  #identity() {
    const { user } = this.options.endpoint;
    if (!user) return { type: UserTokenType.Anonymous } as const;
    return {
      type: UserTokenType.UserName,
      userName: user.username,
      password: this.options.password ?? "",
    } as const;
  }

  async #subscribe(session: ClientSession): Promise<void> {
    const { endpoint, signals } = this.options;
    const subscription = ClientSubscription.create(session, {
      requestedPublishingInterval: endpoint.publishingIntervalMs,
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.#subscription = subscription;
    const groups = new Map<string, MonitoredSignal[]>();
    for (const s of signals) {
      const list = groups.get(groupKey(s)) ?? [];
      list.push(s);
      groups.set(groupKey(s), list);
    }
    for (const list of groups.values()) {
      const first = list[0] as MonitoredSignal;
      const parameters: MonitoringParametersOptions = {
        samplingInterval: first.samplingIntervalMs,
        queueSize: first.queueSize,
        discardOldest: true,
      };
      if (first.deadband)
        parameters.filter = new DataChangeFilter({
          trigger: DataChangeTrigger.StatusValue,
          deadbandType: first.deadband.type === "absolute" ? DeadbandType.Absolute : DeadbandType.Percent,
          deadbandValue: first.deadband.value,
        });
      const items: ReadValueIdOptions[] = list.map((s) => ({
        nodeId: s.nodeId,
        attributeId: AttributeIds.Value,
      }));
      const group = await subscription.monitorItems(items, parameters, TimestampsToReturn.Both);
      group.on("changed", (_item: unknown, value: DataValue, index: number) => {
        const s = list[index];
        if (s) this.#collect(s, value);
      });
    }
  }

  #collect(s: MonitoredSignal, dv: DataValue): void {
    const reading: Reading = {
      signal: s.signal,
      ...(s.tag !== undefined ? { tag: s.tag } : {}),
      value: dv.value?.value,
      sourceTime: dv.sourceTimestamp ?? dv.serverTimestamp ?? new Date(),
      quality: quality(dv.statusCode),
    };
    const list = this.#pending.get(s.machine) ?? [];
    list.push(reading);
    this.#pending.set(s.machine, list);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // node-opcua emits a notification's changes synchronously: flushing on the next turn hands the
    // tracker the whole notification at once (a stop reason set with the state arrives with it).
    setImmediate(() => {
      this.#flushScheduled = false;
      const pending = this.#pending;
      this.#pending = new Map();
      for (const [machine, readings] of pending) this.options.onReadings(machine, readings);
    });
  }

  async #beat(): Promise<void> {
    const session = this.#session;
    if (this.#stopped || !session) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const dv = await Promise.race([
        session.read({
          nodeId: `i=${VariableIds.Server_ServerStatus_CurrentTime}`,
          attributeId: AttributeIds.Value,
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("heartbeat timeout")), this.options.heartbeatTimeoutMs);
        }),
      ]);
      if (!dv.statusCode.isGood()) throw new Error(dv.statusCode.name);
      this.#lastHeartbeatAt = new Date();
      this.#setStatus("ONLINE", null);
    } catch (err) {
      if (!this.#stopped) this.#setStatus("OFFLINE", (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  #setStatus(status: EndpointStatus, reason: string | null): void {
    if (status === this.#status) {
      if (status === "ONLINE") this.options.onStatus(status, null, this.#lastHeartbeatAt);
      return;
    }
    this.#status = status;
    this.options.onStatus(status, reason, this.#lastHeartbeatAt);
  }

  /** Deletes the subscription, closes the session (freeing it on the server) and disconnects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    const withTimeout = (p: Promise<unknown> | undefined) =>
      Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await withTimeout(this.#subscription?.terminate());
    await withTimeout(this.#session?.close(true));
    await withTimeout(this.#client?.disconnect());
    await withTimeout(this.#running);
  }
}
