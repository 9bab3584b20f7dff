/**
 * One OPC UA endpoint: a client, one session, one subscription whose monitored items carry every
 * mapped signal of the endpoint's machines. Subscriptions, not polling: the server reports changes
 * (state and counters: every change; telemetry: at its sampling interval, through its deadband).
 *
 * Connection loss is node-opcua's reconnection job: it retries with our backoff, reactivates the
 * session on the new channel when the server still has it (no orphaned sessions piling up towards
 * BadTooManySessions) and, when the server restarted, creates a new session and recreates the
 * subscription and its monitored items. The heartbeat — a read of the server's clock — is what
 * decides whether the endpoint answers, so a half-open TCP connection cannot pass for a live machine.
 *
 * Every configured node is checked (exists, readable, a data type its role can use: src/opcua/
 * nodes.ts) at set-up and after every reconnection; only good nodes are monitored. A node found bad
 * — at a check, by its monitored item's creation status, or by a bad status on one of its values
 * (BadNodeIdUnknown after the node went away …) — makes the endpoint DEGRADED, never ONLINE, with
 * the nodes at fault named; bad nodes are checked again every `recheckNodesMs`, and one that is
 * good again gets a new monitored item.
 *
 * Alarms: an event monitored item on each machine's notifier, with a select clause for the
 * condition fields (OPC 10000-9 §5.5) and a ConditionRefresh (§5.5.7) after every (re)creation, so
 * the conditions active meanwhile are re-sent.
 */
import {
  AttributeIds,
  type ClientMonitoredItemBase,
  type ClientSession,
  ClientSubscription,
  callConditionRefresh,
  constructEventFilter,
  DataChangeFilter,
  DataChangeTrigger,
  type DataValue,
  DeadbandType,
  type MonitoringParametersOptions,
  ObjectTypeIds,
  type OPCUACertificateManager,
  type OPCUAClient,
  type ReadValueIdOptions,
  resolveNodeId,
  type StatusCode,
  TimestampsToReturn,
  VariableIds,
  type Variant,
} from "node-opcua";
import type { SampleQuality } from "../../../../contracts/src/index.js";
import { backoffDelay, type Logger, sleep } from "../../../../streams/src/index.js";
import type { EndpointConfig } from "../config.js";
import type { AlarmNotification, Reading, SignalName } from "../machine.js";
import { createClient, identityOf, reasonOf } from "./client.js";
import { checkNodes, type DataTypeInfo, GOOD, type NodeRole, nameOf, TypeResolver } from "./nodes.js";
import { fromVariant } from "./values.js";

export type EndpointStatus = "UNKNOWN" | "ONLINE" | "DEGRADED" | "OFFLINE";

/** One configured node and how it is doing. */
export interface NodeReport {
  /** The machine token. */
  readonly machine: string;
  /** `state`, `goodCounter` …, `telemetry.<tag>`, `alarms`. */
  readonly signal: string;
  readonly nodeId: string;
  /** `Good`, `Unchecked` (not yet connected), or what is wrong (an OPC UA status name). */
  readonly status: string;
  readonly detail: string | null;
  /** The DataType's browse name, and the built-in type it is (null when unknown). */
  readonly dataType: string | null;
  readonly builtInType: string | null;
  readonly valueRank: number | null;
}

export interface StatusChange {
  readonly status: EndpointStatus;
  readonly previous: EndpointStatus;
  /** Why, for OFFLINE (the OPC UA status name or what failed) and DEGRADED (the nodes at fault). */
  readonly reason: string | null;
  readonly lastHeartbeatAt: Date | null;
  /** Every configured node with its status. */
  readonly nodes: readonly NodeReport[];
}

/** One monitored node: which machine and signal it feeds. */
export interface MonitoredSignal {
  readonly machine: number;
  /** The machine token, for reports. */
  readonly machineName: string;
  readonly signal: SignalName;
  readonly tag?: string;
  readonly nodeId: string;
  readonly role: NodeRole;
  readonly expectedDataType?: string | undefined;
  readonly runningValues?: boolean;
  readonly samplingIntervalMs: number;
  readonly queueSize: number;
  readonly deadband?: { type: "absolute" | "percent"; value: number };
  /** An alarm notifier: only events whose SourceNode is one of these (node id strings). */
  readonly alarmSources?: readonly string[];
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
  /** Bad nodes are checked again this often. */
  readonly recheckNodesMs: number;
  readonly logger: Logger;
  /** The readings of one notification, per machine index. */
  readonly onReadings: (machine: number, readings: Reading[]) => void;
  /** A status change (`previous` differs, or DEGRADED with other nodes) or a heartbeat (same status). */
  readonly onStatus: (change: StatusChange) => void;
}

/** Statuses meaning the server no longer serves the node to this item: it needs a new one when good again. */
const ITEM_LOST = new Set([
  "BadNodeIdUnknown",
  "BadNodeIdInvalid",
  "BadNotReadable",
  "BadUserAccessDenied",
  "BadAttributeIdInvalid",
  "BadSecurityModeInsufficient",
  "BadMonitoredItemIdInvalid",
]);

/** The condition fields selected from alarm events, in this order (OPC 10000-9 §5.5.2, §5.7). */
const EVENT_FIELDS = [
  "EventType",
  "SourceNode",
  "SourceName",
  "Time",
  "Message",
  "Severity",
  "ConditionName",
  "BranchId",
  "ActiveState.Id",
  "AckedState.Id",
  "ActiveState.TransitionTime",
  "AckedState.TransitionTime",
  "Comment",
  "ConditionId",
] as const;

/** A monitoring parameter set shared by several items (one CreateMonitoredItems call each). */
function groupKey(s: MonitoredSignal): string {
  return `${s.samplingIntervalMs}/${s.queueSize}/${s.deadband?.type ?? "-"}/${s.deadband?.value ?? "-"}`;
}

function quality(status: StatusCode): SampleQuality {
  if (status.isGood()) return "GOOD";
  if (status.isBad()) return "BAD";
  return "UNCERTAIN";
}

interface NodeState {
  readonly index: number;
  readonly signal: MonitoredSignal;
  status: string;
  detail: string | null;
  dataType: DataTypeInfo | null;
  valueRank: number | null;
  item: ClientMonitoredItemBase | undefined;
  /** The item no longer delivers (created bad, or told the node went away): make a new one. */
  lost: boolean;
}

export class EndpointConnection {
  readonly id: string;
  #client: OPCUAClient | undefined;
  #session: ClientSession | undefined;
  #subscription: ClientSubscription | undefined;
  #resolver: TypeResolver | undefined;
  #status: EndpointStatus = "UNKNOWN";
  /** The reason of the last status reported (a DEGRADED whose nodes change is reported again). */
  #reason: string | null = null;
  #answering = false;
  #lastHeartbeatAt: Date | null = null;
  #heartbeat: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  #rebuilding = false;
  #offlineSince: number | undefined;
  #lastFailure: string | undefined;
  /** Node checks and item (re)creation run one at a time. */
  #checking: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();
  readonly #nodes: NodeState[];
  /** Readings collected during one notification, flushed once it is processed. */
  #pending = new Map<number, Reading[]>();
  #flushScheduled = false;

  constructor(private readonly options: EndpointOptions) {
    this.id = options.endpoint.id;
    this.#nodes = options.signals.map((signal, index) => ({
      index,
      signal,
      status: "Unchecked",
      detail: null,
      dataType: null,
      valueRank: null,
      item: undefined,
      lost: false,
    }));
  }

  get status(): EndpointStatus {
    return this.#status;
  }

  get lastHeartbeatAt(): Date | null {
    return this.#lastHeartbeatAt;
  }

  /**
   * The session while the endpoint answers its heartbeat (ONLINE or DEGRADED), else undefined: a
   * command is written over the session that reads the machine, never over one that is not known
   * to answer.
   */
  get answeringSession(): ClientSession | undefined {
    return this.#answering && !this.#stopped ? this.#session : undefined;
  }

  /** Every configured node with its status and type. */
  nodes(): NodeReport[] {
    return this.#nodes.map((n) => ({
      machine: n.signal.machineName,
      signal: labelOf(n.signal),
      nodeId: n.signal.nodeId,
      status: n.status,
      detail: n.detail,
      dataType: n.dataType?.name ?? null,
      builtInType: n.dataType?.builtIn ?? null,
      valueRank: n.valueRank,
    }));
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
        this.#answering = false;
        this.#report("OFFLINE", reason);
        await this.#tearDown();
        await sleep(backoffDelay(policy, failure), this.#abort.signal);
      }
    }
  }

  async #setUp(): Promise<void> {
    const { endpoint, certificateManager, logger } = this.options;
    const client = createClient(endpoint, certificateManager);
    this.#client = client;
    client.on("start_reconnection", () => {
      logger.warn("OPC UA connection lost: reconnecting");
      this.#answering = false;
      this.#report("OFFLINE", "connection lost");
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
    const session = await client.createSession(identityOf(endpoint, this.options.password));
    this.#session = session;
    this.#resolver = new TypeResolver(session);
    session.on("session_restored", () => {
      logger.info("OPC UA session restored: checking the nodes again");
      // The server may have changed meanwhile (a PLC program download, a restart without a node).
      this.#resolver = new TypeResolver(session);
      void this.#serialised(() => this.#verify(session, this.#nodes, true));
    });
    if (this.#stopped) return;
    this.#subscription = ClientSubscription.create(session, {
      requestedPublishingInterval: endpoint.publishingIntervalMs,
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    await this.#serialised(() => this.#verify(session, this.#nodes, false));
    await this.#beat();
    if (!this.#answering) throw new Error(this.#lastFailure ?? "no heartbeat");
    this.#heartbeat = setInterval(() => void this.#beat(), this.options.heartbeatMs);
    this.#recheck = setInterval(() => {
      const bad = this.#nodes.filter((n) => n.status !== GOOD);
      if (bad.length > 0 && this.#answering && this.#session)
        void this.#serialised(() => this.#verify(this.#session as ClientSession, bad, true));
    }, this.options.recheckNodesMs);
  }

  #serialised(work: () => Promise<void>): Promise<void> {
    const next = this.#checking.then(work).catch((err) => {
      if (!this.#stopped) this.options.logger.warn({ reason: reasonOf(err) }, "OPC UA node check failed");
    });
    this.#checking = next;
    return next;
  }

  /**
   * Checks `nodes` and (re)creates the monitored items of those that are good and have none that
   * delivers. `afterReconnection`: items node-opcua recreated are judged by their new status.
   */
  async #verify(
    session: ClientSession,
    nodes: readonly NodeState[],
    afterReconnection: boolean,
  ): Promise<void> {
    if (this.#stopped || nodes.length === 0) return;
    const checks = await checkNodes(
      session,
      nodes.map((n) => ({
        nodeId: n.signal.nodeId,
        role: n.signal.role,
        expectedDataType: n.signal.expectedDataType,
        ...(n.signal.runningValues ? { runningValues: true } : {}),
      })),
      this.#resolver,
    );
    const toMonitor: NodeState[] = [];
    for (const [i, node] of nodes.entries()) {
      const check = checks[i];
      if (!check) continue;
      node.dataType = check.dataType;
      node.valueRank = check.valueRank;
      if (afterReconnection && node.item && !node.lost && !node.item.statusCode.isGood()) node.lost = true;
      if (check.status !== GOOD) {
        this.#mark(node, check.status, check.detail);
        if (ITEM_LOST.has(check.status)) node.lost = true;
        // A node whose type no longer fits (a PLC program changed it) is not read any more.
        if (check.status === "BadTypeMismatch" && node.item) {
          const item = node.item;
          node.item = undefined;
          await item.terminate().catch(() => undefined);
        }
        continue;
      }
      if (!node.item || node.lost) toMonitor.push(node);
      else this.#mark(node, GOOD, null);
    }
    await this.#monitor(toMonitor);
    // After a reconnection the conditions may have changed unseen (a server restarted): re-sent.
    if (
      afterReconnection &&
      !toMonitor.some((n) => n.signal.role === "notifier") &&
      this.#nodes.some((n) => n.signal.role === "notifier" && n.item)
    )
      await this.#refreshConditions();
    this.#report();
  }

  /** Creates monitored items (data items grouped by parameters; one event item per notifier). */
  async #monitor(nodes: readonly NodeState[]): Promise<void> {
    const subscription = this.#subscription;
    const session = this.#session;
    if (!subscription || !session || nodes.length === 0) return;
    for (const n of nodes) {
      const old = n.item;
      n.item = undefined;
      n.lost = false;
      if (old) await old.terminate().catch(() => undefined);
    }
    const groups = new Map<string, NodeState[]>();
    const notifiers: NodeState[] = [];
    for (const n of nodes) {
      if (n.signal.role === "notifier") {
        notifiers.push(n);
        continue;
      }
      const list = groups.get(groupKey(n.signal)) ?? [];
      list.push(n);
      groups.set(groupKey(n.signal), list);
    }
    for (const list of groups.values()) {
      const first = (list[0] as NodeState).signal;
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
      const items: ReadValueIdOptions[] = list.map((n) => ({
        nodeId: n.signal.nodeId,
        attributeId: AttributeIds.Value,
      }));
      const group = await subscription.monitorItems(items, parameters, TimestampsToReturn.Both);
      group.on("changed", (_item: unknown, value: DataValue, index: number) => {
        const n = list[index];
        if (n) this.#onValue(n, value);
      });
      group.monitoredItems.forEach((item, i) => {
        const n = list[i];
        if (n) this.#created(n, item);
      });
    }
    let refresh = false;
    for (const n of notifiers) {
      const item = await subscription.monitor(
        { nodeId: n.signal.nodeId, attributeId: AttributeIds.EventNotifier },
        {
          samplingInterval: 0,
          queueSize: 1000,
          discardOldest: false,
          filter: constructEventFilter([...EVENT_FIELDS]),
        },
        TimestampsToReturn.Both,
      );
      const sources = n.signal.alarmSources
        ? new Set(n.signal.alarmSources.map((s) => resolveNodeId(s).toString()))
        : null;
      item.on("changed", (fields: unknown) => this.#onEvent(n, fields as Variant[], sources));
      this.#created(n, item);
      refresh ||= item.statusCode.isGood();
    }
    // The conditions already active are re-sent between a RefreshStart and a RefreshEnd event.
    if (refresh) await this.#refreshConditions();
  }

  async #refreshConditions(): Promise<void> {
    const session = this.#session;
    const subscription = this.#subscription;
    if (!session || !subscription) return;
    try {
      const status = await callConditionRefresh(session, subscription.subscriptionId);
      if (status.isBad() && status.name !== "BadNothingToDo")
        this.options.logger.warn(
          { status: status.name },
          "ConditionRefresh refused: active alarms are reported as they change",
        );
    } catch (err) {
      this.options.logger.warn(
        { reason: reasonOf(err) },
        "ConditionRefresh failed: active alarms are reported as they change",
      );
    }
  }

  #created(n: NodeState, item: ClientMonitoredItemBase): void {
    if (item.statusCode.isGood()) {
      n.item = item;
      this.#mark(n, GOOD, null);
    } else {
      // node-opcua terminates an item the server refused: a new one is made once the node is good.
      n.lost = true;
      this.#mark(n, nameOf(item.statusCode), "the server refused to monitor it");
    }
  }

  /** Records a node's status (logged when it changes); whether it changed. */
  #mark(n: NodeState, status: string, detail: string | null): boolean {
    if (n.status === status && n.detail === detail) return false;
    const was = n.status;
    n.status = status;
    n.detail = detail;
    const where = { machine: n.signal.machineName, signal: labelOf(n.signal), nodeId: n.signal.nodeId };
    if (status === GOOD) {
      if (was !== "Unchecked") this.options.logger.info({ ...where, was }, "OPC UA node good again");
    } else
      this.options.logger.error(
        { ...where, status, detail, dataType: n.dataType?.name ?? null },
        `OPC UA node ${n.signal.nodeId} (${where.machine} ${where.signal}): ${status}${detail ? `: ${detail}` : ""}`,
      );
    return true;
  }

  #onValue(n: NodeState, dv: DataValue): void {
    // A bad status on the item is the node's status (a value with it still goes to the tracker).
    const status = dv.statusCode;
    if (status.isBad()) {
      if (ITEM_LOST.has(nameOf(status))) n.lost = true;
      if (this.#mark(n, nameOf(status), "the server reports it on the monitored item")) this.#report();
    } else if (n.status !== GOOD && this.#mark(n, GOOD, null)) this.#report();
    this.#collect(n.signal.machine, {
      signal: n.signal.signal,
      tag: n.signal.tag,
      value: fromVariant(dv.value, n.dataType?.enumeration ? { enumeration: n.dataType.enumeration } : {}),
      sourceTime: dv.sourceTimestamp ?? dv.serverTimestamp ?? new Date(),
      quality: quality(status),
    });
  }

  #onEvent(n: NodeState, fields: Variant[], sources: ReadonlySet<string> | null): void {
    const get = (name: (typeof EVENT_FIELDS)[number]) => fields[EVENT_FIELDS.indexOf(name)]?.value;
    const eventType = String(get("EventType") ?? "");
    const standard = standardTypeId(eventType);
    const time = (get("Time") as Date | null) ?? new Date();
    let alarm: AlarmNotification | undefined;
    if (standard === ObjectTypeIds.RefreshStartEventType) alarm = { kind: "refreshStart" };
    else if (standard === ObjectTypeIds.RefreshEndEventType) alarm = { kind: "refreshEnd", time };
    else if (standard === ObjectTypeIds.RefreshRequiredEventType) {
      void this.#refreshConditions();
      return;
    } else {
      const conditionId = get("ConditionId");
      if (!conditionId) return; // not a condition: plain events are not carried
      if (sources && !sources.has(String(get("SourceNode") ?? ""))) return;
      const text = (v: unknown) => (v as { text?: string | null } | null)?.text || null;
      const bool = (v: unknown) => (typeof v === "boolean" ? v : null);
      const date = (v: unknown) => (v instanceof Date && v.getTime() > 0 ? v : null);
      const branch = get("BranchId");
      alarm = {
        kind: "condition",
        conditionId: String(conditionId),
        conditionName: (get("ConditionName") as string | null) || null,
        sourceName: (get("SourceName") as string | null) || null,
        alarmType: typeName(eventType),
        severity: Number(get("Severity") ?? 0),
        message: text(get("Message")),
        time,
        active: bool(get("ActiveState.Id")),
        acked: bool(get("AckedState.Id")),
        activeAt: date(get("ActiveState.TransitionTime")),
        ackedAt: date(get("AckedState.TransitionTime")),
        comment: text(get("Comment")),
        branch: branch !== null && branch !== undefined && !String(branch).match(/^(ns=0;)?i=0$/),
      };
    }
    this.#collect(n.signal.machine, {
      signal: "alarm",
      value: { kind: "null" },
      sourceTime: time,
      quality: "GOOD",
      alarm,
    });
  }

  #collect(machine: number, reading: Reading): void {
    const list = this.#pending.get(machine) ?? [];
    list.push(reading);
    this.#pending.set(machine, list);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // node-opcua emits a notification's changes synchronously: flushing on the next turn hands the
    // tracker the whole notification at once (a stop reason set with the state arrives with it).
    setImmediate(() => {
      this.#flushScheduled = false;
      const pending = this.#pending;
      this.#pending = new Map();
      for (const [m, readings] of pending) this.options.onReadings(m, readings);
    });
  }

  /** Closes what exists of the subscription, session and client (best effort, bounded in time). */
  async #tearDown(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearInterval(this.#recheck);
    this.#heartbeat = undefined;
    this.#recheck = undefined;
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await bounded(this.#subscription?.terminate());
    await bounded(this.#session?.close(true));
    await bounded(this.#client?.disconnect());
    this.#subscription = undefined;
    this.#session = undefined;
    this.#client = undefined;
    for (const n of this.#nodes) {
      n.item = undefined;
      n.lost = false;
    }
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
      this.#answering = true;
      this.#report();
    } catch (err) {
      if (this.#stopped) return;
      this.#lastFailure = reasonOf(err);
      this.#answering = false;
      this.#report("OFFLINE", this.#lastFailure);
      this.#offlineSince ??= Date.now();
      if (this.#heartbeat && Date.now() - this.#offlineSince >= this.options.rebuildAfterMs) this.#rebuild();
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reports the status: OFFLINE (with `reason`) when not answering, else DEGRADED while a node is
   * not good, else ONLINE. A repeated ONLINE/DEGRADED is a heartbeat (recorded in KV); a DEGRADED
   * whose nodes changed is a change.
   */
  #report(offline?: "OFFLINE", offlineReason?: string): void {
    let status: EndpointStatus;
    let reason: string | null;
    if (offline || !this.#answering) {
      if (this.#status === "UNKNOWN" && !offline) return; // not yet connected
      status = "OFFLINE";
      reason = offlineReason ?? this.#reason;
    } else {
      const bad = this.#nodes.filter((n) => n.status !== GOOD && n.status !== "Unchecked");
      status = bad.length > 0 ? "DEGRADED" : "ONLINE";
      reason = bad.length > 0 ? problemSummary(bad) : null;
    }
    const previous = this.#status;
    // An unchanged OFFLINE says nothing new; an unchanged ONLINE/DEGRADED is a heartbeat worth recording.
    if (status === previous && status === "OFFLINE") return;
    const changed = status !== previous || reason !== this.#reason;
    this.#status = status;
    this.#reason = reason;
    this.options.onStatus({
      status,
      previous: changed ? previous : status,
      reason,
      lastHeartbeatAt: this.#lastHeartbeatAt,
      nodes: this.nodes(),
    });
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

/** `state`, `telemetry.temperature`, `alarms`: what a node is for, in reports. */
export function labelOf(s: Pick<MonitoredSignal, "signal" | "tag">): string {
  if (s.signal === "telemetry") return `telemetry.${s.tag ?? "?"}`;
  if (s.signal === "alarm") return "alarms";
  return s.signal;
}

/** "2 nodes: press state ns=2;i=5 BadNodeIdUnknown; …" (bounded). */
function problemSummary(bad: readonly NodeState[]): string {
  const parts = bad
    .slice(0, 5)
    .map((n) => `${n.signal.machineName} ${labelOf(n.signal)} ${n.signal.nodeId}: ${n.status}`);
  const text = `${bad.length} node${bad.length === 1 ? "" : "s"} not good: ${parts.join("; ")}${bad.length > 5 ? "; …" : ""}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/** The numeric id of a type of namespace 0 (`i=2787`, `ns=0;i=2787`); undefined for others. */
function standardTypeId(nodeId: string): number | undefined {
  const m = /^(?:ns=0;)?i=(\d+)$/.exec(nodeId);
  return m ? Number(m[1]) : undefined;
}

/** An event type's name: the standard ones by their ObjectTypeIds name, others by node id. */
function typeName(eventType: string): string {
  const id = standardTypeId(eventType);
  const name = id === undefined ? undefined : (ObjectTypeIds as unknown as Record<number, string>)[id];
  return name ?? eventType;
}
