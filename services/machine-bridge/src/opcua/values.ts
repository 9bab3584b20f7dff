/**
 * An OPC UA Variant as a {@link Value}: the one place that knows how node-opcua hands values over
 * (64-bit integers as `[high, low]` 32-bit words, DateTime as a Date carrying its sub-millisecond
 * part in `picoseconds`, typed arrays for numeric arrays, …). The encoding follows OPC 10000-6 §5.1
 * (built-in types) and node-opcua's decoders (node-opcua-basic-types `decodeUInt64`/`decodeInt64`,
 * node-opcua-date-time `decodeDateTime`).
 */
import { DataType, type Variant, VariantArrayType } from "node-opcua";
import type { IntegerType, Value } from "../values.js";

/** What the node check learnt about a node's type, to read its values right. */
export interface ValueContext {
  /** The node's data type is an enumeration: its Int32 values are members, named here when the server names them. */
  readonly enumeration?: ReadonlyMap<number, string> | undefined;
}

const INTEGER_TYPES: Partial<Record<DataType, IntegerType>> = {
  [DataType.SByte]: "SBYTE",
  [DataType.Byte]: "BYTE",
  [DataType.Int16]: "INT16",
  [DataType.UInt16]: "UINT16",
  [DataType.Int32]: "INT32",
  [DataType.UInt32]: "UINT32",
  [DataType.Int64]: "INT64",
  [DataType.UInt64]: "UINT64",
};

/** A Variant's value; `null`/`undefined` (no value, e.g. with a bad status) is the null value. */
export function fromVariant(variant: Variant | null | undefined, context: ValueContext = {}): Value {
  if (!variant || variant.dataType === DataType.Null) return { kind: "null" };
  if (variant.arrayType === VariantArrayType.Matrix) return { kind: "unsupported", type: "Matrix" };
  if (variant.arrayType === VariantArrayType.Array) {
    const raw = variant.value as ArrayLike<unknown> | null;
    if (raw === null || raw === undefined) return { kind: "array", elements: [] };
    return {
      kind: "array",
      elements: Array.from(raw, (e) => scalarOf(variant.dataType, e, context)),
    };
  }
  return scalarOf(variant.dataType, variant.value, context);
}

function scalarOf(dataType: DataType, raw: unknown, context: ValueContext): Value {
  if (raw === null || raw === undefined) return { kind: "null" };
  const integer = INTEGER_TYPES[dataType];
  if (integer) {
    const value = integerOf(integer, raw);
    if (value === null) return { kind: "unsupported", type: `${DataType[dataType]} (undecodable)` };
    if (integer === "INT32" && context.enumeration)
      return {
        kind: "enumeration",
        value: Number(value),
        name: context.enumeration.get(Number(value)) ?? null,
      };
    return { kind: "integer", type: integer, value };
  }
  switch (dataType) {
    case DataType.Boolean:
      return { kind: "boolean", value: raw === true };
    case DataType.Float:
      return { kind: "float", type: "FLOAT", value: Number(raw) };
    case DataType.Double:
      return { kind: "float", type: "DOUBLE", value: Number(raw) };
    case DataType.String:
      return { kind: "text", type: "STRING", value: String(raw) };
    case DataType.XmlElement:
      return { kind: "text", type: "XML_ELEMENT", value: String(raw) };
    case DataType.Guid:
      return { kind: "text", type: "GUID", value: String(raw) };
    case DataType.NodeId:
      return { kind: "text", type: "NODE_ID", value: String(raw) };
    case DataType.ExpandedNodeId:
      return { kind: "text", type: "EXPANDED_NODE_ID", value: String(raw) };
    case DataType.QualifiedName:
      return { kind: "text", type: "QUALIFIED_NAME", value: String(raw) };
    case DataType.LocalizedText: {
      const lt = raw as { text?: string | null; locale?: string | null };
      return { kind: "text", type: "LOCALIZED_TEXT", value: lt.text ?? "", locale: lt.locale || null };
    }
    case DataType.DateTime: {
      const d = raw as Date & { picoseconds?: number };
      if (!(d instanceof Date) || Number.isNaN(d.getTime()))
        return { kind: "unsupported", type: "DateTime (invalid)" };
      // node-opcua keeps what a Date cannot hold (100 ns steps within the millisecond) in picoseconds.
      return { kind: "time", value: new Date(d.getTime()), nanos: Math.floor((d.picoseconds ?? 0) / 1000) };
    }
    case DataType.StatusCode: {
      const sc = raw as { value?: number; name?: string };
      return { kind: "statusCode", value: sc.value ?? 0, name: sc.name ?? String(sc.value) };
    }
    case DataType.ExtensionObject: {
      const name = (raw as { schema?: { name?: string } }).schema?.name ?? (raw as object).constructor?.name;
      return { kind: "unsupported", type: name ? `ExtensionObject (${name})` : "ExtensionObject" };
    }
    default:
      return { kind: "unsupported", type: DataType[dataType] ?? `DataType ${dataType}` };
  }
}

/**
 * An integer of `type`, exact. node-opcua decodes Int64 and UInt64 as `[high, low]` unsigned 32-bit
 * words (the Int64's sign is the high word's top bit); narrower integers as numbers.
 */
function integerOf(type: IntegerType, raw: unknown): bigint | null {
  let u: bigint;
  if (Array.isArray(raw) && raw.length === 2 && typeof raw[0] === "number" && typeof raw[1] === "number")
    u = (BigInt(raw[0] >>> 0) << 32n) | BigInt(raw[1] >>> 0);
  else if (typeof raw === "bigint") u = raw;
  else if (typeof raw === "number" && Number.isInteger(raw)) return BigInt(raw);
  else return null;
  if (type === "INT64") return BigInt.asIntN(64, u);
  if (type === "UINT64") return BigInt.asUintN(64, u);
  return u;
}
