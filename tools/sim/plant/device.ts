/**
 * Generic OPC UA devices for the plant simulator: what a bridge meets on servers nobody on this
 * project wrote. Each device lives in its own namespace (`urn:threadline:generic-devices`, index 2)
 * with NUMERIC node ids, under `Objects/Devices/<id>`, and has variables of every OPC UA built-in
 * type (64-bit integers, texts, times, LocalizedText, a vendor enumeration, a structure, arrays, a
 * Duration, a BaseDataType …), some in folders, some AnalogItems with EngineeringUnits and EURange,
 * one maybe not readable — and no PackML. Its alarms are AlarmConditionType conditions whose source
 * and event notifier is the device object (OPC 10000-9), raised, acknowledged and cleared by the test.
 *
 * The values live here (tests set them with exact source times); every server (re)start rebuilds
 * the nodes from them, so a node removed with {@link GenericDevice.remove} stays away across
 * restarts until {@link GenericDevice.restore}: a PLC program without the tag.
 *
 * Node ids: device k (from 0) is `ns=2;i=<100000·(k+1)>`, its variable j `…+1+j`, its folders from
 * `…+500`, its alarms from `…+800`, its enumeration types from `…+900`; `Objects/Devices` is
 * `ns=2;i=90000` (node-opcua numbers the nodes it adds itself — condition fields, properties —
 * from 1000 up, below these).
 */
import {
  coerceLocalizedText,
  coerceQualifiedName,
  DataType,
  type Namespace,
  NodeId,
  Range,
  resolveNodeId,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
  VariantArrayType,
} from "node-opcua";
import type { DeviceConfig, DeviceDataType, DeviceVariableConfig } from "./config.js";

export const DEVICE_NAMESPACE_URI = "urn:threadline:generic-devices";
/** Index of {@link DEVICE_NAMESPACE_URI}: registered after the plant's namespace. */
export const DEVICE_NAMESPACE_INDEX = 2;

const nodeIdOf = (n: number) => `ns=${DEVICE_NAMESPACE_INDEX};i=${n}`;
const DEVICE_ID_STRIDE = 100_000;
/** The `Objects/Devices` folder. */
export const DEVICES_FOLDER_NODE_ID = nodeIdOf(90_000);

/** The built-in type a variable's values are encoded as, and its DataType node. */
const ENCODING: Readonly<
  Record<Exclude<DeviceDataType, "BaseDataType" | "Enumeration">, [DataType, string]>
> = {
  Boolean: [DataType.Boolean, "Boolean"],
  SByte: [DataType.SByte, "SByte"],
  Byte: [DataType.Byte, "Byte"],
  Int16: [DataType.Int16, "Int16"],
  UInt16: [DataType.UInt16, "UInt16"],
  Int32: [DataType.Int32, "Int32"],
  UInt32: [DataType.UInt32, "UInt32"],
  Int64: [DataType.Int64, "Int64"],
  UInt64: [DataType.UInt64, "UInt64"],
  Float: [DataType.Float, "Float"],
  Double: [DataType.Double, "Double"],
  String: [DataType.String, "String"],
  DateTime: [DataType.DateTime, "DateTime"],
  LocalizedText: [DataType.LocalizedText, "LocalizedText"],
  Guid: [DataType.Guid, "Guid"],
  ByteString: [DataType.ByteString, "ByteString"],
  XmlElement: [DataType.XmlElement, "XmlElement"],
  NodeId: [DataType.NodeId, "NodeId"],
  QualifiedName: [DataType.QualifiedName, "QualifiedName"],
  StatusCode: [DataType.StatusCode, "StatusCode"],
  Duration: [DataType.Double, "Duration"],
  UtcTime: [DataType.DateTime, "UtcTime"],
  Counter: [DataType.UInt32, "Counter"],
  Structure: [DataType.ExtensionObject, "Range"],
};

/** The defaults a variable starts with when its config gives none. */
const DEFAULTS: Readonly<Record<DeviceDataType, unknown>> = {
  Boolean: false,
  SByte: 0,
  Byte: 0,
  Int16: 0,
  UInt16: 0,
  Int32: 0,
  UInt32: 0,
  Int64: "0",
  UInt64: "0",
  Float: 0,
  Double: 0,
  String: "",
  DateTime: "2026-01-01T00:00:00.000Z",
  LocalizedText: { text: "", locale: "en" },
  Guid: "00000000-0000-0000-0000-000000000000",
  ByteString: "",
  XmlElement: "<x/>",
  NodeId: "ns=0;i=0",
  QualifiedName: "Name",
  StatusCode: "Good",
  Duration: 0,
  UtcTime: "2026-01-01T00:00:00.000Z",
  Counter: 0,
  BaseDataType: 0,
  Enumeration: 0,
  Structure: { low: 0, high: 1 },
};

/** A JS value (as configs and tests give it) as a Variant of the variable's type. */
export function deviceVariant(
  v: Pick<DeviceVariableConfig, "dataType" | "valueType" | "arrayLength">,
  value: unknown,
): Variant {
  const type: DeviceDataType = v.dataType === "BaseDataType" ? (v.valueType ?? "Double") : v.dataType;
  const dataType = type === "Enumeration" ? DataType.Int32 : ENCODING[type as keyof typeof ENCODING][0];
  if (v.arrayLength !== undefined) {
    const items = (Array.isArray(value) ? value : []).map((e) => scalar(type, e));
    return new Variant({ dataType, arrayType: VariantArrayType.Array, value: items });
  }
  return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: scalar(type, value) });
}

function scalar(type: DeviceDataType, value: unknown): unknown {
  switch (type) {
    case "Boolean":
      return value === true;
    case "Int64":
    case "UInt64": {
      // node-opcua encodes 64-bit integers from [high, low] unsigned 32-bit words.
      const u = BigInt.asUintN(64, BigInt(value as string | number | bigint));
      return [Number(u >> 32n), Number(u & 0xffff_ffffn)];
    }
    case "String":
    case "XmlElement":
    case "Guid":
      return String(value);
    case "DateTime":
    case "UtcTime": {
      // { at, nanos }: a time with its 100 ns part (node-opcua keeps it as picoseconds on the Date).
      const o = value as { at?: string; nanos?: number };
      const d = new Date(typeof value === "object" && value && "at" in o ? String(o.at) : String(value));
      if (typeof o === "object" && o && o.nanos)
        (d as Date & { picoseconds?: number }).picoseconds = o.nanos * 1000;
      return d;
    }
    case "LocalizedText":
      return coerceLocalizedText(value as string | { text: string; locale?: string });
    case "ByteString":
      return Buffer.from(String(value), "utf8");
    case "NodeId":
      return resolveNodeId(String(value));
    case "QualifiedName":
      return coerceQualifiedName(String(value));
    case "StatusCode":
      return (StatusCodes as unknown as Record<string, unknown>)[String(value)] ?? StatusCodes.Good;
    case "Structure": {
      const r = value as { low?: number; high?: number };
      return new Range({ low: r.low ?? 0, high: r.high ?? 0 });
    }
    default:
      return Number(value);
  }
}

interface AlarmState {
  active: boolean;
  acked: boolean;
  severity: number;
  message: string;
}

/** One generic device: its values, removed nodes and alarms, across server restarts. */
export class GenericDevice {
  readonly #values = new Map<string, { variant: Variant; at: Date }>();
  readonly #removed = new Set<string>();
  readonly #alarms = new Map<string, AlarmState>();
  /** Nodes of the running server (empty while none runs). */
  #namespace: Namespace | undefined;
  readonly #live = new Map<string, UAVariable>();
  readonly #liveAlarms = new Map<string, AlarmNode>();

  constructor(
    readonly config: DeviceConfig,
    /** Position among the plant's devices (node ids). */
    readonly position: number,
  ) {
    const now = new Date();
    for (const v of config.variables)
      this.#values.set(v.name, { variant: deviceVariant(v, v.value ?? DEFAULTS[v.dataType]), at: now });
    for (const a of config.alarms)
      this.#alarms.set(a.name, {
        active: false,
        acked: true,
        severity: a.severity,
        message: a.message ?? a.name,
      });
  }

  get objectNodeId(): string {
    return nodeIdOf(DEVICE_ID_STRIDE * (this.position + 1));
  }

  /** The node id of a variable (throws for an unknown name). */
  nodeId(name: string): string {
    const j = this.config.variables.findIndex((v) => v.name === name);
    if (j < 0) throw new Error(`device ${this.config.id} has no variable ${name}`);
    return nodeIdOf(DEVICE_ID_STRIDE * (this.position + 1) + 1 + j);
  }

  /**
   * Sets a variable's value with its source time (default now). `as`: the type of the value, for
   * a BaseDataType variable (a server may put any type there).
   */
  set(name: string, value: unknown, at: Date = new Date(), as?: DeviceDataType): void {
    const v = this.#variable(name);
    const variant = deviceVariant(as ? { ...v, valueType: as } : v, value);
    this.#values.set(name, { variant, at });
    this.#live.get(name)?.setValueFromSource(variant, StatusCodes.Good, at);
  }

  /** The variable goes away from the address space (and stays away across restarts). */
  remove(name: string): void {
    this.#variable(name);
    this.#removed.add(name);
    const node = this.#live.get(name);
    this.#live.delete(name);
    if (node && this.#namespace) this.#namespace.deleteNode(node);
  }

  /** A removed variable comes back (at once when a server runs). */
  restore(name: string): void {
    this.#removed.delete(name);
    if (this.#namespace && !this.#live.has(name)) {
      const device = this.#namespace.addressSpace.findNode(this.objectNodeId) as UAObject | null;
      if (device) this.#addVariable(this.#namespace, device, this.#variable(name));
    }
  }

  /** The alarm becomes active (unacknowledged), with a severity and message of its own if given. */
  raiseAlarm(name: string, options: { severity?: number; message?: string } = {}): void {
    const a = this.#alarm(name);
    a.active = true;
    a.acked = false;
    if (options.severity !== undefined) a.severity = options.severity;
    if (options.message !== undefined) a.message = options.message;
    const node = this.#liveAlarms.get(name);
    if (!node) return;
    node.activateAlarm();
    node.raiseNewCondition({ message: a.message, severity: a.severity, retain: true });
  }

  /** An operator acknowledges the alarm. */
  acknowledgeAlarm(name: string, comment: string): void {
    const a = this.#alarm(name);
    a.acked = true;
    const node = this.#liveAlarms.get(name);
    if (node) node.acknowledgeAndAutoConfirmBranch(node.currentBranch(), comment);
  }

  /** The alarm's condition is gone (it stays retained until acknowledged). */
  clearAlarm(name: string): void {
    const a = this.#alarm(name);
    a.active = false;
    const node = this.#liveAlarms.get(name);
    if (!node) return;
    node.deactivateAlarm(!a.acked);
    node.raiseNewCondition({ message: `${a.message} (cleared)`, severity: a.severity, retain: !a.acked });
  }

  #variable(name: string): DeviceVariableConfig {
    const v = this.config.variables.find((x) => x.name === name);
    if (!v) throw new Error(`device ${this.config.id} has no variable ${name}`);
    return v;
  }

  #alarm(name: string): AlarmState {
    const a = this.#alarms.get(name);
    if (!a) throw new Error(`device ${this.config.id} has no alarm ${name}`);
    return a;
  }

  /** Builds the device in a new server's address space (under `devices`), from the current values. */
  build(namespace: Namespace, devices: UAObject): void {
    this.#namespace = namespace;
    this.#live.clear();
    this.#liveAlarms.clear();
    const server = namespace.addressSpace.rootFolder.objects.server;
    const base = DEVICE_ID_STRIDE * (this.position + 1);
    // The device is an event notifier, and an event source of the Server object (its events reach
    // both): the usual shape of a machine with alarms (OPC 10000-9 §4.8, HasEventSource hierarchy).
    const device = namespace.addObject({
      browseName: this.config.id,
      nodeId: nodeIdOf(base),
      organizedBy: devices,
      eventNotifier: 1,
      eventSourceOf: server,
    });
    const folders = new Map<string, UAObject>();
    let nextFolder = base + 500;
    for (const v of this.config.variables)
      if (v.folder && !folders.has(v.folder))
        folders.set(
          v.folder,
          namespace.addObject({
            browseName: v.folder,
            nodeId: nodeIdOf(nextFolder++),
            typeDefinition: "FolderType",
            organizedBy: device,
          }),
        );
    for (const v of this.config.variables)
      if (!this.#removed.has(v.name)) this.#addVariable(namespace, device, v, folders);
    this.config.alarms.forEach((a, i) => {
      const node = namespace.instantiateAlarmCondition("AlarmConditionType", {
        browseName: a.name,
        nodeId: nodeIdOf(base + 800 + i),
        conditionName: a.name,
        componentOf: device,
        conditionSource: device,
        inputNode: NodeId.nullNodeId,
      }) as unknown as AlarmNode;
      this.#liveAlarms.set(a.name, node);
      const state = this.#alarm(a.name);
      if (state.active) {
        node.activateAlarm();
        node.raiseNewCondition({ message: state.message, severity: state.severity, retain: true });
      }
    });
  }

  /** The server stopped: nothing live any more. */
  detach(): void {
    this.#namespace = undefined;
    this.#live.clear();
    this.#liveAlarms.clear();
  }

  #addVariable(
    namespace: Namespace,
    device: UAObject,
    v: DeviceVariableConfig,
    folders: ReadonlyMap<string, UAObject> = new Map(),
  ): void {
    const j = this.config.variables.indexOf(v);
    const nodeId = nodeIdOf(DEVICE_ID_STRIDE * (this.position + 1) + 1 + j);
    const parent = v.folder
      ? (folders.get(v.folder) ?? (namespace.addressSpace.findNode(device.nodeId) as UAObject))
      : device;
    const placement = v.folder && folders.has(v.folder) ? { organizedBy: parent } : { componentOf: device };
    const access = v.readable
      ? { accessLevel: "CurrentRead", userAccessLevel: "CurrentRead" }
      : { accessLevel: "CurrentWrite", userAccessLevel: "CurrentWrite" };
    const dataType = this.#dataTypeOf(namespace, v);
    const rank = v.arrayLength !== undefined ? { valueRank: 1, arrayDimensions: [v.arrayLength] } : {};
    const common = {
      browseName: v.name,
      nodeId,
      dataType,
      ...placement,
      ...access,
      ...rank,
      minimumSamplingInterval: 0,
    } as const;
    const node =
      v.unit !== undefined || v.range !== undefined
        ? (namespace.addAnalogDataItem({
            ...common,
            engineeringUnitsRange: { low: v.range?.[0] ?? 0, high: v.range?.[1] ?? 0 },
            engineeringUnits: {
              namespaceUri: "http://www.opcfoundation.org/UA/units/un/cefact",
              unitId: -1,
              displayName: { text: v.unit ?? "" },
              description: { text: v.unit ?? "" },
            },
          } as Parameters<Namespace["addAnalogDataItem"]>[0]) as unknown as UAVariable)
        : namespace.addVariable(common as Parameters<Namespace["addVariable"]>[0]);
    const current = this.#values.get(v.name);
    if (current) node.setValueFromSource(current.variant, StatusCodes.Good, current.at);
    this.#live.set(v.name, node);
  }

  /** The DataType node of a variable: a standard one, or the device's own enumeration type. */
  #dataTypeOf(namespace: Namespace, v: DeviceVariableConfig): NodeId | string {
    if (v.dataType === "BaseDataType") return resolveNodeId("BaseDataType");
    if (v.dataType !== "Enumeration") return (ENCODING[v.dataType] as [DataType, string])[1];
    const name = v.enumerationName ?? `${v.name}Enum`;
    const existing = namespace.addressSpace.findDataType(name, namespace.index);
    if (existing) return existing.nodeId;
    const members = v.enumeration ?? [];
    const enumeration = members.map((m) =>
      typeof m === "string"
        ? m
        : { value: m.value, displayName: { text: m.name }, description: { text: m.name } },
    );
    const k = this.config.variables.filter((x) => x.dataType === "Enumeration").indexOf(v);
    return namespace.addEnumerationType({
      browseName: name,
      nodeId: nodeIdOf(DEVICE_ID_STRIDE * (this.position + 1) + 900 + k),
      enumeration: enumeration as string[],
    }).nodeId;
  }
}

/** The part of node-opcua's UAAlarmConditionEx the simulator drives. */
interface AlarmNode {
  activateAlarm(): void;
  deactivateAlarm(retain?: boolean): void;
  raiseNewCondition(info: { message: string; severity: number; retain: boolean }): void;
  acknowledgeAndAutoConfirmBranch(branch: unknown, comment: string): void;
  currentBranch(): unknown;
}
