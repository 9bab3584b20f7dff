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
import { backoffDelay, sleep } from "../../../../streams/src/backoff.js";
import type { Logger } from "../../../../streams/src/logger.js";
import type { EndpointConfig } from "../config.js";
import type { Reading, SignalName } from "../machine.js";

export type EndpointStatus = "UNKNOWN" | "ONLINE" | "OFFLINE";

export interface StatusChange {
  readonly status: EndpointStatus;
  readonly previous: EndpointStatus;
  /** Why, for OFFLINE: the OPC UA status name or what failed. */
  readonly reason: string | null;
  readonly lastHeartbeatAt: Date | null;
}

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
  /** Heartbeats failing this long make the endpoint start over from a new client. */
  readonly rebuildAfterMs: number;
  readonly logger: Logger;
  /** The readings of one notification, per machine index. */
  readonly onReadings: (machine: number, readings: Reading[]) => void;
  /** A status change (`previous` differs) or, while ONLINE, a heartbeat (`previous` the same). */
  readonly onStatus: (change: StatusChange) => void;
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
  #rebuilding = false;
  #offlineSince: number | undefined;
  #lastFailure: string | undefined;
  readonly #abort = new AbortController();
  /** Readings collected during one notification, flushed once it is processed. */
  #pending = new Map<number, Reading[]>();
  #flushScheduled = false;

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
    this.#running ??= this.#run();
  }

  /**
   * Connects, creates the session and the subscription; on any failure (unreachable, refused
   * credentials, BadTooManySessions, a server going down mid-setup) tears everything down, reports
   * OFFLINE with the reason, and tries again after a backoff. Returns once set up, or when stopped.
   */
  async #run(): Promise<void> {
    const { endpoint, logger } = this.options;
    const policy = {
      initialDelayMs: endpoint.reconnect.initialDelayMs,
      maxDelayMs: endpoint.reconnect.maxDelayMs,
      multiplier: 2,
      jitter: 0.2,
    };
    for (let failure = 1; !this.#stopped; failure++) {
      try {
        await this.#setUp();
        return;
      } catch (err) {
        if (this.#stopped) return;
        const reason = reasonOf(err);
        logger[failure === 1 ? "error" : "warn"](
          { reason, failure },
          "OPC UA endpoint set-up failed; retrying",
        );
        this.#setStatus("OFFLINE", reason);
        await this.#tearDown();
        await sleep(backoffDelay(policy, failure), this.#abort.signal);
      }
    }
  }

  async #setUp(): Promise<void> {
    const { endpoint, certificateManager, logger } = this.options;
    const client = OPCUAClient.create({
      applicationName: "threadline-machine-bridge",
      clientName: `threadline-${endpoint.id}`,
      endpointMustExist: false,
      securityMode: MessageSecurityMode[endpoint.security.mode],
      securityPolicy: SecurityPolicy[endpoint.security.policy],
      clientCertificateManager: certificateManager,
      requestedSessionTimeout: endpoint.sessionTimeoutMs,
      // One attempt: the first connection is ours to retry (with the session and subscription).
      connectionStrategy: {
        maxRetry: 0,
        initialDelay: endpoint.reconnect.initialDelayMs,
        maxDelay: endpoint.reconnect.maxDelayMs,
        randomisationFactor: 0.2,
      },
      keepSessionAlive: false,
    });
    this.#client = client;
    client.on("start_reconnection", () => {
      logger.warn("OPC UA connection lost: reconnecting");
      this.#setStatus("OFFLINE", "connection lost");
    });
    client.on("after_reconnection", () => {
      logger.info("OPC UA connection re-established");
      void this.#beat();
    });
    await client.connect(endpoint.url);
    // From now on a connection break is node-opcua's to repair: it retries forever with the same
    // backoff, reactivates the session on the new channel (or, after a server restart, creates a
    // new one and recreates the subscription and its monitored items).
    client.connectionStrategy.maxRetry = -1;
    if (this.#stopped) return;
    const session = await client.createSession(this.#identity());
    this.#session = session;
    session.on("session_restored", () => logger.info("OPC UA session restored"));
    if (this.#stopped) return;
    await this.#subscribe(session);
    await this.#beat();
    if (this.#status !== "ONLINE") throw new Error(this.#lastFailure ?? "no heartbeat");
    this.#heartbeat = setInterval(() => void this.#beat(), this.options.heartbeatMs);
  }

  /** Closes what exists of the subscription, session and client (best effort, bounded in time). */
  async #tearDown(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await bounded(this.#subscription?.terminate());
    await bounded(this.#session?.close(true));
    await bounded(this.#client?.disconnect());
    this.#subscription = undefined;
    this.#session = undefined;
    this.#client = undefined;
  }

  /**
   * The safety net behind node-opcua's own reconnection: an endpoint that has failed its
   * heartbeat for `rebuildAfterMs` is torn down and set up from scratch.
   */
  #rebuild(): void {
    if (this.#stopped || this.#rebuilding) return;
    this.#rebuilding = true;
    this.options.logger.warn("OPC UA endpoint unresponsive: rebuilding client, session and subscription");
    this.#running = (async () => {
      await this.#tearDown();
      this.#offlineSince = undefined;
      this.#rebuilding = false;
      await this.#run();
    })();
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
      tag: s.tag,
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
      this.#offlineSince = undefined;
      this.#setStatus("ONLINE", null);
    } catch (err) {
      if (this.#stopped) return;
      this.#lastFailure = reasonOf(err);
      this.#setStatus("OFFLINE", this.#lastFailure);
      this.#offlineSince ??= Date.now();
      if (this.#heartbeat && Date.now() - this.#offlineSince >= this.options.rebuildAfterMs) this.#rebuild();
    } finally {
      clearTimeout(timer);
    }
  }

  #setStatus(status: EndpointStatus, reason: string | null): void {
    const previous = this.#status;
    // An unchanged OFFLINE says nothing new; an unchanged ONLINE is a heartbeat worth recording.
    if (status === previous && status !== "ONLINE") return;
    this.#status = status;
    this.options.onStatus({ status, previous, reason, lastHeartbeatAt: this.#lastHeartbeatAt });
  }

  /** Deletes the subscription, closes the session (freeing it on the server) and disconnects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    await this.#tearDown();
    await Promise.race([this.#running, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}

/** A short, log- and event-friendly reason: the OPC UA status name when there is one. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const status = /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1];
  const text = status ?? message.split("\n")[0] ?? "error";
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
