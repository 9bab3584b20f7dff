/**
 * Checking the configured nodes against a live server: does each exist, can we read it, is its data
 * type one the bridge can use for what the mapping says it carries (and the one the mapping
 * expects)? The bridge runs it at start-up and after every reconnection; `threadline bridge
 * --check --live` prints it; `threadline bridge discover` uses the type resolution.
 *
 * Servers model the same thing differently — a counter as UInt32, Int64, Counter (a UInt32
 * subtype) or Double; a state as Int32, a vendor enumeration or a LocalizedText — so a data type
 * is resolved to its built-in type by walking HasSubtype up (OPC 10000-3 §5.8.3, OPC 10000-5 §12),
 * and every role accepts every type it can read exactly. Abstract types (BaseDataType, Number,
 * Integer, UInteger) are decided per value.
 */
import {
  AccessLevelFlag,
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  DataType,
  type DataValue,
  NodeClass,
  type NodeId,
  ReferenceTypeIds,
  resolveNodeId,
  type StatusCode,
} from "node-opcua";

/** What a node carries, as far as its type is concerned. */
export type NodeRole = "state" | "mode" | "running" | "counter" | "text" | "telemetry" | "notifier";

export interface NodeCheckRequest {
  readonly nodeId: string;
  readonly role: NodeRole;
  /** The DataType's browse name the mapping expects (`dataType:`). */
  readonly expectedDataType?: string | undefined;
  /** A running signal with `values` may be a text (a vendor status by name). */
  readonly runningValues?: boolean;
}

/** A data type, resolved. */
export interface DataTypeInfo {
  readonly nodeId: string;
  /** The DataType node's browse name: `Int64`, `Duration`, `PressStatus` … */
  readonly name: string;
  /**
   * The built-in type it is encoded as (OPC 10000-6 §5.1.2 names: `Int64`, `Double`,
   * `LocalizedText` …), or `Enumeration`, `Structure`, or an abstract `BaseDataType`, `Number`,
   * `Integer`, `UInteger`.
   */
  readonly builtIn: string;
  /** An enumeration's members, by value, when the server names them (EnumStrings or EnumValues). */
  readonly enumeration?: ReadonlyMap<number, string>;
}

export interface NodeCheck {
  readonly nodeId: string;
  /** `Good`, or what is wrong: an OPC UA status name, `BadTypeMismatch` for a type the role cannot use. */
  readonly status: string;
  readonly detail: string | null;
  readonly dataType: DataTypeInfo | null;
  /** -1 scalar, 1 array, ≥ 2 matrix, -2/-3/0 any of several (OPC 10000-3 §5.6.2). */
  readonly valueRank: number | null;
}

export const GOOD = "Good";

/** Built-in type names by DataType node id (ns=0), plus the abstract and structural roots. */
const ROOT_TYPES: Readonly<Record<number, string>> = {
  ...Object.fromEntries(
    Array.from({ length: 25 }, (_, i) => [i + 1, DataType[i + 1] as string]).filter(([, n]) => n),
  ),
  22: "Structure",
  24: "BaseDataType",
  26: "Number",
  27: "Integer",
  28: "UInteger",
  29: "Enumeration",
};

const INTEGERS = new Set(["SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"]);
const FLOATS = new Set(["Float", "Double"]);
const ABSTRACT = new Set(["BaseDataType", "Number", "Integer", "UInteger"]);
const TEXTS = new Set(["String", "LocalizedText"]);
/** Types no role can carry. */
const NEVER = new Set(["ByteString", "Structure", "ExtensionObject", "DataValue", "DiagnosticInfo"]);
const SCALARISH = new Set([-1, -2, -3]);

/** Resolves data types, once each per session (servers share a few dozen types among thousands of nodes). */
export class TypeResolver {
  readonly #cache = new Map<string, Promise<DataTypeInfo>>();

  constructor(private readonly session: ClientSession) {}

  resolve(dataTypeId: NodeId): Promise<DataTypeInfo> {
    const key = dataTypeId.toString();
    let found = this.#cache.get(key);
    if (!found) {
      found = this.#resolve(dataTypeId);
      this.#cache.set(key, found);
    }
    return found;
  }

  async #resolve(id: NodeId): Promise<DataTypeInfo> {
    const key = id.toString();
    const name = await this.#browseName(id);
    const builtIn = await this.#builtIn(id);
    if (builtIn !== "Enumeration") return { nodeId: key, name, builtIn };
    const enumeration = await this.#enumeration(id);
    return enumeration ? { nodeId: key, name, builtIn, enumeration } : { nodeId: key, name, builtIn };
  }

  async #builtIn(id: NodeId): Promise<string> {
    let current = id;
    for (let depth = 0; depth < 32; depth++) {
      if (current.namespace === 0 && typeof current.value === "number") {
        const root = ROOT_TYPES[current.value];
        if (root) return root;
      }
      const result = await this.session.browse({
        nodeId: current,
        browseDirection: BrowseDirection.Inverse,
        referenceTypeId: resolveNodeId(ReferenceTypeIds.HasSubtype),
        includeSubtypes: false,
        resultMask: 0x3f,
      });
      const parent = result.references?.[0]?.nodeId;
      if (!parent) return "BaseDataType";
      current = parent;
    }
    return "BaseDataType";
  }

  async #browseName(id: NodeId): Promise<string> {
    const dv = await this.session.read({ nodeId: id, attributeId: AttributeIds.BrowseName });
    const qn = dv.value?.value as { name?: string } | undefined;
    return qn?.name ?? id.toString();
  }

  /** EnumStrings (value = index) or EnumValues (value → display name) of an enumeration type. */
  async #enumeration(id: NodeId): Promise<ReadonlyMap<number, string> | undefined> {
    const result = await this.session.browse({
      nodeId: id,
      browseDirection: BrowseDirection.Forward,
      referenceTypeId: resolveNodeId(ReferenceTypeIds.HasProperty),
      includeSubtypes: true,
      resultMask: 0x3f,
    });
    for (const ref of result.references ?? []) {
      const property = ref.browseName.name;
      if (property !== "EnumStrings" && property !== "EnumValues") continue;
      const dv = await this.session.read({ nodeId: ref.nodeId, attributeId: AttributeIds.Value });
      const items = (dv.value?.value ?? []) as unknown[];
      const out = new Map<number, string>();
      if (property === "EnumStrings")
        items.forEach((t, i) => {
          const text = (t as { text?: string | null }).text;
          if (text) out.set(i, text);
        });
      else
        for (const item of items) {
          const e = item as { value?: unknown; displayName?: { text?: string | null }; name?: string };
          const n = Array.isArray(e.value) ? Number(e.value[1]) : Number(e.value);
          const text = e.displayName?.text ?? e.name;
          if (text && Number.isFinite(n)) out.set(n, text);
        }
      if (out.size > 0) return out;
    }
    return undefined;
  }
}

/** The attributes read per node; one Read call per chunk of nodes. */
const ATTRIBUTES = [
  AttributeIds.NodeClass,
  AttributeIds.DataType,
  AttributeIds.ValueRank,
  AttributeIds.AccessLevel,
  AttributeIds.UserAccessLevel,
  AttributeIds.Value,
  AttributeIds.EventNotifier,
] as const;
const CHUNK = 100;

/** Checks nodes: one NodeCheck per request, in order. Never throws for a node's own problem. */
export async function checkNodes(
  session: ClientSession,
  requests: readonly NodeCheckRequest[],
  resolver: TypeResolver = new TypeResolver(session),
): Promise<NodeCheck[]> {
  const out: NodeCheck[] = [];
  for (let i = 0; i < requests.length; i += CHUNK) {
    const chunk = requests.slice(i, i + CHUNK);
    const values = await session.read(
      chunk.flatMap((r) => ATTRIBUTES.map((attributeId) => ({ nodeId: r.nodeId, attributeId }))),
    );
    for (const [j, request] of chunk.entries())
      out.push(
        await judge(request, values.slice(j * ATTRIBUTES.length, (j + 1) * ATTRIBUTES.length), resolver),
      );
  }
  return out;
}

async function judge(
  request: NodeCheckRequest,
  dvs: DataValue[],
  resolver: TypeResolver,
): Promise<NodeCheck> {
  const [nodeClass, dataType, valueRank, access, userAccess, value, eventNotifier] = dvs as [
    DataValue,
    DataValue,
    DataValue,
    DataValue,
    DataValue,
    DataValue,
    DataValue,
  ];
  const base = { nodeId: request.nodeId, dataType: null, valueRank: null };
  if (!nodeClass.statusCode.isGood()) return { ...base, status: nameOf(nodeClass.statusCode), detail: null };
  const cls = nodeClass.value.value as NodeClass;
  if (request.role === "notifier") {
    const flags = Number(eventNotifier.value?.value ?? 0);
    if ((cls !== NodeClass.Object && cls !== NodeClass.View) || (flags & 1) === 0)
      return {
        ...base,
        status: "BadNotSupported",
        detail: `${NodeClass[cls] ?? cls} without the SubscribeToEvents notifier flag: no events to subscribe to`,
      };
    return { ...base, status: GOOD, detail: null };
  }
  if (cls !== NodeClass.Variable)
    return { ...base, status: "BadNodeClassInvalid", detail: `a ${NodeClass[cls] ?? cls}, not a Variable` };
  const rank = valueRank.statusCode.isGood() ? Number(valueRank.value.value) : null;
  let info: DataTypeInfo | null = null;
  if (dataType.statusCode.isGood() && dataType.value.value)
    info = await resolver.resolve(dataType.value.value as NodeId).catch(() => null);
  const checked = { ...base, dataType: info, valueRank: rank };
  const accessFlags = Number(access.value?.value ?? 0);
  if (access.statusCode.isGood() && (accessFlags & AccessLevelFlag.CurrentRead) === 0)
    return { ...checked, status: "BadNotReadable", detail: "its AccessLevel does not allow reading" };
  const userFlags = Number(userAccess.value?.value ?? 0);
  if (userAccess.statusCode.isGood() && (userFlags & AccessLevelFlag.CurrentRead) === 0)
    return { ...checked, status: "BadUserAccessDenied", detail: "this user may not read it" };
  if (value.statusCode.isBad())
    return { ...checked, status: nameOf(value.statusCode), detail: "reading its value fails" };
  const mismatch = typeProblem(request, info, rank);
  if (mismatch) return { ...checked, status: "BadTypeMismatch", detail: mismatch };
  return { ...checked, status: GOOD, detail: null };
}

/** Why a node's type cannot carry its role (null: it can). */
export function typeProblem(
  request: Pick<NodeCheckRequest, "role" | "expectedDataType" | "runningValues">,
  info: DataTypeInfo | null,
  valueRank: number | null,
): string | null {
  if (!info) return null; // no DataType attribute: decided per value
  if (
    request.expectedDataType &&
    request.expectedDataType !== info.name &&
    request.expectedDataType !== info.builtIn
  )
    return `is ${describeType(info)}, the mapping expects ${request.expectedDataType}`;
  const t = info.builtIn;
  const type = describeType(info);
  if (NEVER.has(t))
    return t === "Structure" || t === "ExtensionObject"
      ? `is a structure (${type}): map its fields, when the server exposes them as variables, as separate tags`
      : `is ${type}, which the bridge does not carry`;
  const rank = valueRank ?? -1;
  if (request.role === "telemetry") {
    if (rank >= 2)
      return `is a ${rank}-dimensional array of ${type}: only scalars and one-dimensional arrays are carried`;
    return null;
  }
  if (!SCALARISH.has(rank)) return `is an array of ${type}: a ${request.role} must be a scalar`;
  if (ABSTRACT.has(t)) return null;
  const numeric = INTEGERS.has(t) || FLOATS.has(t);
  switch (request.role) {
    case "counter":
      return numeric ? null : `is ${type}: a counter must be a number`;
    case "state":
    case "mode":
      return numeric || t === "Enumeration" || TEXTS.has(t)
        ? null
        : `is ${type}: a ${request.role} must be a number, an enumeration or its name`;
    case "running":
      if (t === "Boolean" || numeric || t === "Enumeration") return null;
      if (TEXTS.has(t))
        return request.runningValues
          ? null
          : `is ${type}: a text running signal needs the values that mean running`;
      return `is ${type}: a running signal must be a Boolean, a number or a status with values`;
    default:
      return null;
  }
}

function describeType(info: DataTypeInfo): string {
  return info.name === info.builtIn ? info.name : `${info.name} (${info.builtIn})`;
}

export function nameOf(status: StatusCode): string {
  return status.name || status.toString();
}
