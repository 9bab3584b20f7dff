/**
 * The plant simulator's OPC UA server: a real node-opcua server that exposes a {@link PlantModel}
 * live, with the address space of ./addressing.ts (the contract the machine bridge subscribes to).
 *
 * - Every model change (`onChange`) becomes `setValueFromSource(value, Good, startEpochMs + at)`,
 *   and the variables are exception-based (MinimumSamplingInterval 0, server MinSupportedSampleRate
 *   0): a monitored item with samplingInterval 0 gets every change, with the virtual time it
 *   happened at as its source timestamp.
 * - A real-time driver advances the model every `tickMs` by the wall time elapsed × `speed`;
 *   with `autoRun: false` the caller advances `simulator.model` itself.
 * - `restartServer()` drops the OPC UA server (sessions, subscriptions, connections) while the model
 *   keeps running, then serves the same address space and current values on the same port: a PLC
 *   whose OPC UA stack restarts while the machine keeps counting.
 *
 * node-opcua writes a PKI store (a private key, a self-signed certificate, trusted/rejected
 * folders) under `pkiFolder`, never under $HOME; the certificate is reused when the store has one.
 * node-opcua's own warnings and errors go to the `logger` of the running simulators.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer as createNetServer } from "node:net";
import { hostname as osHostname, tmpdir } from "node:os";
import { join } from "node:path";
import { format } from "node:util";
import {
  type CallMethodResultOptions,
  DataType,
  DataValue,
  type ISessionContext,
  MessageSecurityMode,
  type Namespace,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  setErrorLogger,
  setWarningLogger,
  sharedMemoryNodesetImageStore,
  type UAObject,
  type UAVariable,
  Variant,
  VariantArrayType,
} from "node-opcua";
import { type CatalogedErrorCode, ThreadlineError } from "../../../contracts/src/index.js";
import { ConfigError } from "../../../streams/src/index.js";
import {
  GROUND_TRUTH_NODE_ID,
  type MachineNodeIds,
  machineNodeIds,
  PLANT_NAMESPACE_INDEX,
  PLANT_NAMESPACE_URI,
  PLANT_NODE_ID,
  stateValue,
  VIRTUAL_TIME_NODE_ID,
} from "./addressing.js";
import type { MachineConfig, PlantConfig, PlantConfigInput } from "./config.js";
import {
  DEVICE_NAMESPACE_INDEX,
  DEVICE_NAMESPACE_URI,
  DEVICES_FOLDER_NODE_ID,
  GenericDevice,
} from "./device.js";
import { type ChangeEvent, IllegalTransitionError, PlantModel, UnknownMachineError } from "./model.js";
import { PACKML_COMMAND_NAMES, type PackMlCommand } from "./packml.js";

export type SecurityPolicyName = "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep";

export interface PlantSimulatorOptions {
  /** The plant (validated: a {@link ConfigError} names the offending key). */
  config: PlantConfigInput | PlantConfig;
  /** Overrides the config's seed. */
  seed?: number;
  /** Interface to listen on; also the host of the endpoint URL. @default "127.0.0.1" */
  host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** node-opcua's PKI store (own key and certificate, trusted/rejected clients). @default `<os.tmpdir()>/threadline-plant-sim-pki` */
  pkiFolder?: string;
  /** Accepted UserName identities. @default none */
  users?: { username: string; password: string }[];
  /** Whether anonymous sessions are accepted. @default true */
  allowAnonymous?: boolean;
  /** Endpoints: None with mode None, the others with Sign and SignAndEncrypt. @default all three */
  securityPolicies?: SecurityPolicyName[];
  /** Concurrent sessions (and connections) allowed. @default 50 */
  maxSessions?: number;
  /** Virtual ms per wall-clock ms. @default 1 */
  speed?: number;
  /** Driver period, wall-clock ms. @default 20 */
  tickMs?: number;
  /** Run the real-time driver; false: the caller advances `model` itself. @default true */
  autoRun?: boolean;
  /** Receives the simulator's log lines and node-opcua's warnings and errors. @default discard */
  logger?: (line: string) => void;
}

export interface PlantSimulator {
  readonly model: PlantModel;
  /** e.g. `opc.tcp://127.0.0.1:48123`; the same across `restartServer()`. */
  readonly endpointUrl: string;
  readonly port: number;
  /** Wall-clock time of virtual time 0: a change at virtual `at` has source timestamp `startEpochMs + at`. */
  readonly startEpochMs: number;
  /** The node ids of a machine; throws for an unknown machine. */
  nodeIds(machineId: string): MachineNodeIds;
  /** A generic device of the config's `devices`, to set values, remove nodes and drive alarms. */
  device(id: string): GenericDevice;
  /** Sessions open on the current server (0 while restarting or stopped). */
  currentSessionCount(): number;
  /** Makes a machine's SetOrder method refuse or ignore the calls from now on; null: works again. */
  setOrderFault(machineId: string, fault: SetOrderFault | null): void;
  /**
   * Shuts the OPC UA server down (clients lose their connection, sessions and subscriptions) while
   * the model keeps running, waits `downMs` (default 0), then serves the same address space with
   * the current values on the same port.
   */
  restartServer(opts?: { downMs?: number }): Promise<void>;
  /** Stops the driver and the server. Idempotent. */
  stop(): Promise<void>;
}

/** The one source of the defaults. */
export const PLANT_SIMULATOR_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  pkiFolder: join(tmpdir(), "threadline-plant-sim-pki"),
  allowAnonymous: true,
  securityPolicies: ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep"] as readonly SecurityPolicyName[],
  maxSessions: 50,
  speed: 1,
  tickMs: 20,
  autoRun: true,
} as const;

/** Stable error codes of the simulator server. */
export const PlantSimulatorErrorCode = {
  Stopped: "SIM_STOPPED",
  Listen: "SIM_LISTEN_FAILED",
} as const satisfies Record<string, CatalogedErrorCode>;

/** The simulator cannot do what was asked: stopped already, or the port cannot be bound. */
export class PlantSimulatorError extends ThreadlineError {}

const SECURITY_POLICIES: Record<SecurityPolicyName, SecurityPolicy> = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
};

interface Settings {
  host: string;
  port: number;
  pkiFolder: string;
  users: { username: string; password: string }[];
  allowAnonymous: boolean;
  securityPolicies: SecurityPolicyName[];
  maxSessions: number;
  speed: number;
  tickMs: number;
  autoRun: boolean;
  log: (line: string) => void;
}

/** Applies the defaults and rejects a bad option by name. */
function settingsOf(opts: PlantSimulatorOptions): Settings {
  const d = PLANT_SIMULATOR_DEFAULTS;
  const s: Settings = {
    host: opts.host ?? d.host,
    port: opts.port ?? d.port,
    pkiFolder: opts.pkiFolder ?? d.pkiFolder,
    users: opts.users ?? [],
    allowAnonymous: opts.allowAnonymous ?? d.allowAnonymous,
    securityPolicies: [...(opts.securityPolicies ?? d.securityPolicies)],
    maxSessions: opts.maxSessions ?? d.maxSessions,
    speed: opts.speed ?? d.speed,
    tickMs: opts.tickMs ?? d.tickMs,
    autoRun: opts.autoRun ?? d.autoRun,
    log: opts.logger ?? (() => {}),
  };
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65_535)
    throw new ConfigError("port", `must be an integer from 0 to 65535, got ${s.port}`);
  if (!(s.speed > 0 && Number.isFinite(s.speed)))
    throw new ConfigError("speed", `must be a positive number, got ${s.speed}`);
  if (!(s.tickMs > 0 && Number.isFinite(s.tickMs)))
    throw new ConfigError("tickMs", `must be a positive number of ms, got ${s.tickMs}`);
  if (!Number.isInteger(s.maxSessions) || s.maxSessions < 1)
    throw new ConfigError("maxSessions", `must be a positive integer, got ${s.maxSessions}`);
  if (s.securityPolicies.length === 0)
    throw new ConfigError("securityPolicies", "must name at least one policy");
  for (const p of s.securityPolicies)
    if (!Object.hasOwn(SECURITY_POLICIES, p))
      throw new ConfigError(
        "securityPolicies",
        `has unknown policy ${p} (${Object.keys(SECURITY_POLICIES).join(", ")})`,
      );
  s.users.forEach((u, i) => {
    if (!u.username) throw new ConfigError(`users.${i}.username`, "must not be empty");
  });
  if (!s.allowAnonymous && s.users.length === 0)
    throw new ConfigError(
      "allowAnonymous",
      "is false and no users are given: no client could open a session",
    );
  return s;
}

// ---------------------------------------------------------------------------------------------
// node-opcua's console chatter → the running simulators' loggers

const logSinks = new Set<(line: string) => void>();

function routeOpcuaLog(level: "warning" | "error") {
  return (context: unknown, ...args: unknown[]) => {
    const where = (context as { filename?: string } | undefined)?.filename ?? "node-opcua";
    const line = `node-opcua ${level} (${where}): ${format(...args)}`;
    // Node 20's fix of CVE-2023-46809 breaks RSA PKCS#1 v1.5 *decryption*, which only Basic128Rsa15
    // uses and the simulator never offers: node-opcua's import-time warning about it is noise here.
    if (/NODE-OPCUA-W27|CVE-2023-46809/.test(line)) return;
    if (logSinks.size === 0) {
      if (level === "error") process.stderr.write(`${line}\n`);
      return;
    }
    for (const sink of logSinks) sink(line);
  };
}
// Process-wide (node-opcua has one logger): installed on import, before node-opcua's own
// import-time check (a 4096-bit RSA key generated to probe PKCS#1 v1.5) reports on Node 20.
setWarningLogger(routeOpcuaLog("warning"));
setErrorLogger(routeOpcuaLog("error"));

// ---------------------------------------------------------------------------------------------
// The mirror: the model's current values as OPC UA data values, kept across server restarts

interface MirroredValue {
  dataType: DataType;
  value: unknown;
  /** Virtual time of the change. */
  at: number;
}

interface MachineInfo {
  site: string;
  line: string;
  config: MachineConfig;
  ids: MachineNodeIds;
  counterType: DataType.UInt32 | DataType.UInt64;
  /** A fault of the SetOrder method (see {@link PlantSimulator.setOrderFault}); read at each call. */
  orderFault?: SetOrderFault | undefined;
}

/**
 * How a machine's SetOrder misbehaves: `refuse` answers BadInvalidState and changes nothing (an HMI
 * in local mode, a recipe locked while running); `ignore` answers Good and changes nothing (a PLC
 * that acknowledges before it applies, and then drops the value).
 */
export type SetOrderFault = "refuse" | "ignore";

class Mirror {
  readonly values = new Map<string, MirroredValue>();
  /** Variables of the live address space, by node id; empty while no server runs. */
  readonly live = new Map<string, UAVariable>();

  /** Wall-clock ms of virtual time 0; set when the clock starts (see {@link restamp}). */
  startEpochMs = Date.now();

  constructor(private readonly log: (line: string) => void) {}

  set(nodeId: string, dataType: DataType, value: unknown, at: number): void {
    this.values.set(nodeId, { dataType, value, at });
    const variable = this.live.get(nodeId);
    if (!variable) return;
    try {
      variable.setValueFromSource(variantOf(dataType, value), StatusCodes.Good, this.timestamp(at));
    } catch (err) {
      this.log(`cannot update ${nodeId}: ${(err as Error).message}`);
    }
  }

  timestamp(at: number): Date {
    return new Date(this.startEpochMs + at);
  }

  /** Moves virtual time 0 to `startEpochMs` and re-stamps the live values with it. */
  restamp(startEpochMs: number): void {
    this.startEpochMs = startEpochMs;
    for (const [nodeId, v] of this.values) this.set(nodeId, v.dataType, v.value, v.at);
  }
}

function variantOf(dataType: DataType, value: unknown): Variant {
  if (dataType === DataType.UInt64) {
    const n = value as number;
    // A UInt64 is [high, low] uint32 words; node-opcua cannot tell that from an array by itself.
    return new Variant({
      dataType,
      arrayType: VariantArrayType.Scalar,
      value: [Math.floor(n / 0x1_0000_0000), n >>> 0],
    });
  }
  return new Variant({ dataType, value });
}

function mirrorEvent(mirror: Mirror, m: MachineInfo, e: ChangeEvent): void {
  const ids = m.ids;
  switch (e.type) {
    case "state":
      mirror.set(ids.state, DataType.Int32, stateValue(e.state, m.config.stateNumbering), e.at);
      mirror.set(ids.stateName, DataType.String, e.state, e.at);
      mirror.set(ids.stopReason, DataType.String, e.stopReason?.code ?? "", e.at);
      mirror.set(ids.stopReasonText, DataType.String, e.stopReason?.text ?? "", e.at);
      break;
    case "counter":
      mirror.set(e.counter === "good" ? ids.goodCount : ids.rejectCount, m.counterType, e.value, e.at);
      break;
    case "telemetry": {
      const nodeId = ids.telemetry[e.tag];
      if (nodeId) mirror.set(nodeId, DataType.Double, e.value, e.at);
      break;
    }
    case "order":
      mirror.set(ids.order, DataType.String, e.order ?? "", e.at);
      mirror.set(ids.lot, DataType.String, e.lot ?? "", e.at);
      break;
    case "commandRejected":
      break;
  }
}

function seedMirror(mirror: Mirror, model: PlantModel, m: MachineInfo): void {
  const s = model.snapshot(m.config.id);
  const ids = m.ids;
  mirror.set(ids.state, DataType.Int32, stateValue(s.state, m.config.stateNumbering), 0);
  mirror.set(ids.stateName, DataType.String, s.state, 0);
  mirror.set(ids.goodCount, m.counterType, s.goodCounter, 0);
  mirror.set(ids.rejectCount, m.counterType, s.rejectCounter, 0);
  mirror.set(ids.cycleTimeMs, DataType.Double, s.cycleTimeMs, 0);
  mirror.set(ids.order, DataType.String, s.order ?? "", 0);
  mirror.set(ids.lot, DataType.String, s.lot ?? "", 0);
  mirror.set(ids.stopReason, DataType.String, s.stopReason?.code ?? "", 0);
  mirror.set(ids.stopReasonText, DataType.String, s.stopReason?.text ?? "", 0);
  for (const tag of m.config.telemetry) {
    const nodeId = ids.telemetry[tag.name];
    if (nodeId) mirror.set(nodeId, DataType.Double, s.telemetry[tag.name] ?? tag.mean, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// The address space

const READ_ONLY = { accessLevel: "CurrentRead", userAccessLevel: "CurrentRead" } as const;

function buildAddressSpace(
  namespace: Namespace,
  objectsFolder: UAObject,
  model: PlantModel,
  machines: Map<string, MachineInfo>,
  mirror: Mirror,
  log: (line: string) => void,
): void {
  const plant = namespace.addObject({
    browseName: "Plant",
    nodeId: PLANT_NODE_ID,
    organizedBy: objectsFolder,
  });
  const now = () => mirror.timestamp(model.now);
  namespace.addVariable({
    browseName: "VirtualTimeMs",
    nodeId: VIRTUAL_TIME_NODE_ID,
    componentOf: plant,
    dataType: "Double",
    ...READ_ONLY,
    minimumSamplingInterval: 100,
    value: {
      timestamped_get: () =>
        new DataValue({
          value: new Variant({ dataType: DataType.Double, value: model.now }),
          statusCode: StatusCodes.Good,
          sourceTimestamp: now(),
          serverTimestamp: new Date(),
        }),
    },
  });
  namespace.addVariable({
    browseName: "GroundTruth",
    nodeId: GROUND_TRUTH_NODE_ID,
    componentOf: plant,
    dataType: "String",
    description: "JSON.stringify(model.groundTruth()), computed when read",
    ...READ_ONLY,
    minimumSamplingInterval: 1000,
    value: {
      timestamped_get: () =>
        new DataValue({
          value: new Variant({ dataType: DataType.String, value: JSON.stringify(model.groundTruth()) }),
          statusCode: StatusCodes.Good,
          sourceTimestamp: now(),
          serverTimestamp: new Date(),
        }),
    },
  });

  const folders = new Map<string, UAObject>();
  const folder = (id: string, name: string, parent: UAObject) => {
    let f = folders.get(id);
    if (!f) {
      f = namespace.addObject({
        browseName: name,
        nodeId: `ns=${PLANT_NAMESPACE_INDEX};s=${id}`,
        typeDefinition: "FolderType",
        organizedBy: parent,
      });
      folders.set(id, f);
    }
    return f;
  };

  for (const m of machines.values()) {
    const site = folder(m.site, m.site, plant);
    const line = folder(`${m.site}.${m.line}`, m.line, site);
    const obj = namespace.addObject({ browseName: m.config.id, nodeId: m.ids.machine, organizedBy: line });
    // A variable starts with the mirrored value and its original time, then follows the model.
    const register = (v: UAVariable, nodeId: string) => {
      const current = mirror.values.get(nodeId);
      if (current)
        v.setValueFromSource(
          variantOf(current.dataType, current.value),
          StatusCodes.Good,
          mirror.timestamp(current.at),
        );
      mirror.live.set(nodeId, v);
    };
    // MinimumSamplingInterval 0: exception-based, every setValueFromSource reaches the subscribers.
    const variable = (browseName: string, nodeId: string, dataType: string) =>
      register(
        namespace.addVariable({
          browseName,
          nodeId,
          componentOf: obj,
          dataType,
          ...READ_ONLY,
          minimumSamplingInterval: 0,
        }),
        nodeId,
      );
    const ids = m.ids;
    const counter = m.counterType === DataType.UInt64 ? "UInt64" : "UInt32";
    variable("State", ids.state, "Int32");
    variable("StateName", ids.stateName, "String");
    variable("GoodCount", ids.goodCount, counter);
    variable("RejectCount", ids.rejectCount, counter);
    variable("CycleTimeMs", ids.cycleTimeMs, "Double");
    variable("Order", ids.order, "String");
    variable("Lot", ids.lot, "String");
    variable("StopReason", ids.stopReason, "String");
    variable("StopReasonText", ids.stopReasonText, "String");
    if (m.config.telemetry.length > 0) {
      const telemetry = namespace.addObject({
        browseName: "Telemetry",
        nodeId: `${ids.machine}.Telemetry`,
        typeDefinition: "FolderType",
        componentOf: obj,
      });
      for (const tag of m.config.telemetry) {
        const nodeId = ids.telemetry[tag.name] as string;
        const half = tag.sd > 0 ? 10 * tag.sd : Math.max(Math.abs(tag.mean) * 0.1, 1);
        const item = namespace.addAnalogDataItem({
          browseName: tag.name,
          nodeId,
          componentOf: telemetry,
          dataType: "Double",
          ...READ_ONLY,
          minimumSamplingInterval: 0,
          engineeringUnitsRange: { low: tag.mean - half, high: tag.mean + half },
          // UCUM-style unit strings (Cel, bar, 1/min) have no UNECE code here: unitId -1 = unknown.
          engineeringUnits: {
            namespaceUri: "http://www.opcfoundation.org/UA/units/un/cefact",
            unitId: -1,
            displayName: { text: tag.unit },
            description: { text: tag.unit },
          },
        });
        register(item as unknown as UAVariable, nodeId);
      }
    }
    addMethods(namespace, obj, model, m, log);
  }
}

function addMethods(
  namespace: Namespace,
  obj: UAObject,
  model: PlantModel,
  m: MachineInfo,
  log: (line: string) => void,
): void {
  const id = m.config.id;
  const ok = { statusCode: StatusCodes.Good, outputArguments: [] };
  const invalidState = { statusCode: StatusCodes.BadInvalidState, outputArguments: [] };
  const guard = (name: string, fn: () => CallMethodResultOptions): CallMethodResultOptions => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof IllegalTransitionError) return invalidState;
      log(`method ${name} on ${id} failed: ${(err as Error).message}`);
      return { statusCode: StatusCodes.BadInternalError, outputArguments: [] };
    }
  };
  const method = (
    name: keyof MachineNodeIds["methods"],
    description: string,
    inputArguments: { name: string; dataType: DataType; description: string }[],
    fn: (args: unknown[]) => CallMethodResultOptions,
  ) => {
    const node = namespace.addMethod(obj, {
      browseName: name,
      nodeId: m.ids.methods[name],
      description,
      inputArguments: inputArguments.map((a) => ({ ...a, valueRank: -1 })),
      outputArguments: [],
      executable: true,
      userExecutable: true,
    });
    // node-opcua tells a promise method from a callback one by its arity: keep both parameters.
    node.bindMethod(async (args: Variant[], _context: ISessionContext) =>
      guard(name, () => fn(args.map((a) => a.value))),
    );
  };

  for (const cmd of PACKML_COMMAND_NAMES)
    method(
      cmd,
      `PackML command ${cmd}; BadInvalidState when the current state does not accept it`,
      [],
      () => {
        model.command(id, cmd as PackMlCommand);
        return ok;
      },
    );
  method(
    "ForceStop",
    "Stops the executing machine with a stop reason (hold or stop, as configured for the code); BadInvalidState when not in EXECUTE",
    [
      { name: "code", dataType: DataType.String, description: "stop reason code" },
      {
        name: "durationMs",
        dataType: DataType.UInt32,
        description: "recover after this long down; 0 = stay down",
      },
    ],
    ([code, durationMs]) => {
      const ms = Number(durationMs ?? 0);
      // "Stay down" is a recovery that never comes: the next command (Unhold, Reset) cancels it.
      const done = model.forceStop(id, String(code ?? ""), {
        durationMs: ms > 0 ? ms : Number.POSITIVE_INFINITY,
      });
      return done ? ok : invalidState;
    },
  );
  method("ResetCounters", "PLC counter reset: GoodCount and RejectCount go to 0", [], () => {
    model.resetCounters(id);
    return ok;
  });
  method(
    "SetOrder",
    "Sets the current order and lot; an empty string clears one; BadInvalidState while the order is locked (a fault switch of the simulator)",
    [
      { name: "order", dataType: DataType.String, description: 'order, "" = none' },
      { name: "lot", dataType: DataType.String, description: 'lot, "" = none' },
    ],
    ([order, lot]) => {
      if (m.orderFault === "refuse") return invalidState;
      if (m.orderFault === "ignore") return ok;
      model.setOrder(id, order ? String(order) : null, lot ? String(lot) : null);
      return ok;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The server

/** A free TCP port on `host` (listen on 0, read it, close). */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function isAddressInUse(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === "EADDRINUSE" || /EADDRINUSE/.test(e?.message ?? "");
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

class PlantSimulatorImpl implements PlantSimulator {
  readonly model: PlantModel;
  port = 0;
  private server: OPCUAServer | null = null;
  private readonly mirror: Mirror;
  private readonly machines = new Map<string, MachineInfo>();
  private readonly devices = new Map<string, GenericDevice>();
  private readonly unsubscribe: () => void;
  private driver: NodeJS.Timeout | null = null;
  private state: "running" | "restarting" | "stopping" | "stopped" = "running";
  /** Restart and stop run one at a time, in call order. */
  private lifecycle: Promise<void> = Promise.resolve();
  private readonly sink: (line: string) => void;

  constructor(
    opts: PlantSimulatorOptions,
    private readonly s: Settings,
  ) {
    this.model = new PlantModel(opts.config, opts.seed === undefined ? {} : { seed: opts.seed });
    this.mirror = new Mirror(s.log);
    for (const site of this.model.config.sites)
      for (const line of site.lines)
        for (const config of line.machines) {
          const ids = machineNodeIds(
            site.id,
            line.id,
            config.id,
            config.telemetry.map((t) => t.name),
          );
          const counterType = config.counters.max > 0xffff_ffff ? DataType.UInt64 : DataType.UInt32;
          const info: MachineInfo = { site: site.id, line: line.id, config, ids, counterType };
          this.machines.set(config.id, info);
          seedMirror(this.mirror, this.model, info);
        }
    this.model.config.devices.forEach((d, i) => {
      this.devices.set(d.id, new GenericDevice(d, i));
    });
    this.unsubscribe = this.model.onChange((e) => {
      const m = this.machines.get(e.machine);
      if (m) mirrorEvent(this.mirror, m, e);
    });
    this.sink = s.log;
    logSinks.add(this.sink);
    // Everything due at t=0 (the first telemetry samples) is in place before the first client reads.
    this.model.advance(0);
  }

  /** The host clients connect to: the listening host, or this machine's name for a wildcard. */
  private get advertisedHost(): string {
    const h = this.s.host;
    return h === "0.0.0.0" || h === "::" || h === "" ? osHostname() : h;
  }

  get startEpochMs(): number {
    return this.mirror.startEpochMs;
  }

  get endpointUrl(): string {
    const h = this.advertisedHost;
    return `opc.tcp://${h.includes(":") ? `[${h}]` : h}:${this.port}`;
  }

  nodeIds(machineId: string): MachineNodeIds {
    const m = this.machines.get(machineId);
    if (!m) throw new UnknownMachineError(machineId);
    return structuredClone(m.ids);
  }

  device(id: string): GenericDevice {
    const d = this.devices.get(id);
    if (!d) throw new UnknownMachineError(id);
    return d;
  }

  currentSessionCount(): number {
    return this.server?.currentSessionCount ?? 0;
  }

  setOrderFault(machineId: string, fault: SetOrderFault | null): void {
    const m = this.machines.get(machineId);
    if (!m) throw new UnknownMachineError(machineId);
    m.orderFault = fault ?? undefined;
  }

  /**
   * Binds the port. With port 0, a free one: node-opcua needs a number, so one is found with `net`
   * and another is tried when someone takes it first (EADDRINUSE). A given port is tried once.
   */
  async listen(): Promise<void> {
    const pick = this.s.port === 0;
    for (let attempt = 1; ; attempt++) {
      this.port = pick ? await freePort(this.s.host) : this.s.port;
      try {
        this.server = await this.startServer(this.port);
        this.s.log(`OPC UA server listening on ${this.endpointUrl}`);
        return;
      } catch (err) {
        if (!pick || !isAddressInUse(err) || attempt >= 5) {
          throw new PlantSimulatorError(
            PlantSimulatorErrorCode.Listen,
            `cannot serve OPC UA on ${this.s.host}:${this.port}: ${(err as Error).message}` +
              (isAddressInUse(err) ? " (the port is in use: choose another, or 0 for a free one)" : ""),
            { cause: err },
          );
        }
        this.s.log(`port ${this.port} was taken meanwhile, trying another (${attempt})`);
      }
    }
  }

  /**
   * Starts the clock once the server listens: virtual time 0 is now (the initial values are
   * re-stamped), and unless `autoRun` is false the driver starts advancing the model.
   */
  startClock(): void {
    this.mirror.restamp(Date.now() - this.model.now);
    if (!this.s.autoRun) return;
    const t0 = performance.now();
    const base = this.model.now;
    this.driver = setInterval(() => {
      const target = base + Math.floor((performance.now() - t0) * this.s.speed);
      const due = target - this.model.now;
      if (due <= 0) return;
      try {
        this.model.advance(due);
      } catch (err) {
        this.s.log(`model advance failed: ${(err as Error).message}`);
      }
    }, this.s.tickMs);
  }

  restartServer(opts: { downMs?: number } = {}): Promise<void> {
    const run = this.lifecycle.then(async () => {
      if (this.state !== "running")
        throw new PlantSimulatorError(
          PlantSimulatorErrorCode.Stopped,
          "restartServer(): the simulator is stopped",
        );
      this.state = "restarting";
      this.s.log("OPC UA server restarting: clients lose their sessions, the plant keeps running");
      try {
        await this.stopServer();
        if (opts.downMs && opts.downMs > 0) await sleep(opts.downMs);
        const port = this.port;
        for (let attempt = 1; ; attempt++) {
          try {
            this.server = await this.startServer(port);
            break;
          } catch (err) {
            if (!isAddressInUse(err) || attempt >= 10)
              throw new PlantSimulatorError(
                PlantSimulatorErrorCode.Listen,
                `restartServer(): cannot serve OPC UA on port ${port} again: ${(err as Error).message}`,
                { cause: err },
              );
            await sleep(100 * attempt);
          }
        }
        this.s.log(`OPC UA server back on ${this.endpointUrl}`);
      } finally {
        this.state = "running"; // after a failed restart, no server runs; another restart may try again
      }
    });
    this.lifecycle = run.catch(() => {});
    return run;
  }

  stop(): Promise<void> {
    const run = this.lifecycle.then(async () => {
      if (this.state === "stopped") return;
      this.state = "stopping";
      if (this.driver) clearInterval(this.driver);
      this.driver = null;
      try {
        await this.stopServer();
      } finally {
        this.unsubscribe();
        logSinks.delete(this.sink);
        this.state = "stopped";
      }
    });
    this.lifecycle = run.catch(() => {});
    return run;
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.mirror.live.clear();
    for (const d of this.devices.values()) d.detach();
    if (server) await server.shutdown(0);
  }

  private async startServer(port: number): Promise<OPCUAServer> {
    const s = this.s;
    const manager = (sub: string) =>
      new OPCUACertificateManager({
        rootFolder: join(s.pkiFolder, sub),
        automaticallyAcceptUnknownCertificate: true,
        disableFileWatchers: true,
      });
    const policies = s.securityPolicies.map((p) => SECURITY_POLICIES[p]);
    const modes: MessageSecurityMode[] = [];
    if (s.securityPolicies.includes("None")) modes.push(MessageSecurityMode.None);
    if (s.securityPolicies.some((p) => p !== "None"))
      modes.push(MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt);
    const users = s.users;
    const server = new OPCUAServer({
      port,
      host: s.host,
      hostname: this.advertisedHost,
      serverCertificateManager: manager("server"),
      userCertificateManager: manager("user"),
      // Our namespace must be index 1: no server-own namespace before it.
      skipOwnNamespace: true,
      // One parsed image of the standard nodeset per process: restarts and further servers load fast.
      nodesetLoaderOptions: { imageStore: sharedMemoryNodesetImageStore() },
      securityPolicies: policies,
      securityModes: modes,
      allowAnonymous: s.allowAnonymous,
      userManager: {
        isValidUser: (username: string, password: string) =>
          users.some((u) => sameSecret(u.username, username) && sameSecret(u.password, password)),
      },
      maxConnectionsPerEndpoint: s.maxSessions,
      serverCapabilities: {
        maxSessions: s.maxSessions,
        // 0: exception-based items are answered with samplingInterval 0 and get every change.
        minSupportedSampleRate: 0,
      },
      serverInfo: { applicationName: { text: "Threadline plant simulator" } },
      buildInfo: { productName: "Threadline plant simulator", manufacturerName: "Threadline" },
      isAuditing: false,
    });
    try {
      await server.initialize();
      const addressSpace = server.engine.addressSpace;
      if (!addressSpace) throw new Error("node-opcua initialised no address space");
      const namespace = addressSpace.registerNamespace(PLANT_NAMESPACE_URI);
      if (namespace.index !== PLANT_NAMESPACE_INDEX)
        throw new Error(
          `namespace ${PLANT_NAMESPACE_URI} got index ${namespace.index}, not ${PLANT_NAMESPACE_INDEX}`,
        );
      buildAddressSpace(
        namespace,
        addressSpace.rootFolder.objects,
        this.model,
        this.machines,
        this.mirror,
        s.log,
      );
      if (this.devices.size > 0) {
        const devices = addressSpace.registerNamespace(DEVICE_NAMESPACE_URI);
        if (devices.index !== DEVICE_NAMESPACE_INDEX)
          throw new Error(
            `namespace ${DEVICE_NAMESPACE_URI} got index ${devices.index}, not ${DEVICE_NAMESPACE_INDEX}`,
          );
        // ConditionRefresh, Acknowledge and Confirm methods of the A&C model (OPC 10000-9).
        addressSpace.installAlarmsAndConditionsService();
        const folder = devices.addObject({
          browseName: "Devices",
          nodeId: DEVICES_FOLDER_NODE_ID,
          typeDefinition: "FolderType",
          organizedBy: addressSpace.rootFolder.objects,
        });
        for (const d of this.devices.values()) d.build(devices, folder);
      }
      await server.start();
      return server;
    } catch (err) {
      this.mirror.live.clear();
      for (const d of this.devices.values()) d.detach();
      await server.shutdown(0).catch(() => {});
      throw err;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the model, its OPC UA server and (unless `autoRun: false`) the real-time driver. */
export async function startPlantSimulator(opts: PlantSimulatorOptions): Promise<PlantSimulator> {
  const settings = settingsOf(opts);
  const sim = new PlantSimulatorImpl(opts, settings);
  try {
    await sim.listen();
  } catch (err) {
    await sim.stop();
    throw err;
  }
  sim.startClock();
  return sim;
}
