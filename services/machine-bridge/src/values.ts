/**
 * What a machine's node holds, independent of OPC UA's encoding: a {@link Value} is made from an
 * OPC UA Variant at the edge (src/opcua/values.ts) and read here — as a telemetry sample with the
 * right Avro field, a counter, a PackML state, a running flag or a text. Pure: no node-opcua.
 *
 * The type table (also in the README):
 *
 * | OPC UA                                   | Value          | TelemetrySample                                   |
 * |------------------------------------------|----------------|---------------------------------------------------|
 * | Boolean                                  | boolean        | booleanValue, value 0/1                           |
 * | SByte, Byte, Int16, UInt16, Int32, UInt32, Int64 | integer (bigint) | integerValue (long), value                 |
 * | UInt64                                   | integer (bigint) | unsignedValue (decimal(20,0)), value ≈         |
 * | Float, Double                            | float          | value (a Float widened exactly)                   |
 * | String, XmlElement, Guid, NodeId, ExpandedNodeId, QualifiedName | text | textValue, value NaN               |
 * | LocalizedText                            | text + locale  | textValue, locale, value NaN                      |
 * | DateTime                                 | time           | valueTime (ms) + valueNanos, value NaN            |
 * | enumeration (Int32 of an Enumeration type) | enumeration  | integerValue, textValue (its name), value         |
 * | StatusCode                               | statusCode     | integerValue (the code), textValue (its name)     |
 * | one-dimensional array of the above       | array          | one sample per element, with its index            |
 * | ByteString, structures (ExtensionObject), matrices, DataValue, Variant, DiagnosticInfo | unsupported | refused |
 */
import {
  PACK_ML_MODE_SYMBOLS,
  PACK_ML_STATE_SYMBOLS,
  type PackMlMode,
  type PackMlState,
  type SampleDataType,
} from "../../../contracts/src/index.js";

export type IntegerType = "SBYTE" | "BYTE" | "INT16" | "UINT16" | "INT32" | "UINT32" | "INT64" | "UINT64";
export type TextType =
  | "STRING"
  | "XML_ELEMENT"
  | "GUID"
  | "NODE_ID"
  | "EXPANDED_NODE_ID"
  | "QUALIFIED_NAME"
  | "LOCALIZED_TEXT";

/** A node's value, decoded. */
export type Value =
  | { readonly kind: "null" }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "integer"; readonly type: IntegerType; readonly value: bigint }
  | { readonly kind: "float"; readonly type: "FLOAT" | "DOUBLE"; readonly value: number }
  | {
      readonly kind: "text";
      readonly type: TextType;
      readonly value: string;
      readonly locale?: string | null;
    }
  | { readonly kind: "time"; readonly value: Date; readonly nanos: number }
  | { readonly kind: "enumeration"; readonly value: number; readonly name: string | null }
  | { readonly kind: "statusCode"; readonly value: number; readonly name: string }
  | { readonly kind: "array"; readonly elements: readonly Value[] }
  /** A value the bridge cannot carry: `type` names the OPC UA type (ByteString, ExtensionObject, Matrix …). */
  | { readonly kind: "unsupported"; readonly type: string };

/** Elements of an array-valued tag turned into samples at most; the rest is dropped (and counted). */
export const MAX_ARRAY_ELEMENTS = 1_000;

/** The typed part of a TelemetrySample (everything but tag, quality and source time). */
export interface SampleFields {
  value: number;
  dataType: SampleDataType;
  integerValue: bigint | null;
  unsignedValue: string | null;
  booleanValue: boolean | null;
  textValue: string | null;
  locale: string | null;
  valueTime: Date | null;
  valueNanos: number | null;
  index: number | null;
}

/** The typed value fields of a sample, all empty: a numeric sample sets none of them. */
export const EMPTY_SAMPLE_FIELDS: Omit<SampleFields, "value" | "dataType"> = {
  integerValue: null,
  unsignedValue: null,
  booleanValue: null,
  textValue: null,
  locale: null,
  valueTime: null,
  valueNanos: null,
  index: null,
};

/** Why a value could not become samples; the label of the drop metric. */
export type SampleRefusal = "unsupported_type" | "nested_array" | "array_too_long";

/**
 * The sample fields of a value: one for a scalar, one per element for an array (at most
 * {@link MAX_ARRAY_ELEMENTS}). `refused` says what could not be carried (and how many elements).
 */
export function sampleFieldsOf(v: Value): {
  samples: SampleFields[];
  refused?: { reason: SampleRefusal; type: string; count: number };
} {
  if (v.kind === "unsupported")
    return { samples: [], refused: { reason: "unsupported_type", type: v.type, count: 1 } };
  if (v.kind !== "array") return { samples: [scalarFields(v)] };
  const samples: SampleFields[] = [];
  let refused: { reason: SampleRefusal; type: string; count: number } | undefined;
  const refuse = (reason: SampleRefusal, type: string) => {
    refused ??= { reason, type, count: 0 };
    refused.count++;
  };
  v.elements.forEach((e, index) => {
    if (index >= MAX_ARRAY_ELEMENTS) refuse("array_too_long", "Array");
    else if (e.kind === "array") refuse("nested_array", "Array");
    else if (e.kind === "unsupported") refuse("unsupported_type", e.type);
    else samples.push({ ...scalarFields(e), index });
  });
  return refused ? { samples, refused } : { samples };
}

function scalarFields(v: Exclude<Value, { kind: "array" | "unsupported" }>): SampleFields {
  switch (v.kind) {
    case "null":
      return { ...EMPTY_SAMPLE_FIELDS, value: Number.NaN, dataType: "NULL" };
    case "boolean":
      return { ...EMPTY_SAMPLE_FIELDS, value: v.value ? 1 : 0, dataType: "BOOLEAN", booleanValue: v.value };
    case "integer":
      return v.type === "UINT64"
        ? {
            ...EMPTY_SAMPLE_FIELDS,
            value: Number(v.value),
            dataType: "UINT64",
            unsignedValue: v.value.toString(),
          }
        : { ...EMPTY_SAMPLE_FIELDS, value: Number(v.value), dataType: v.type, integerValue: v.value };
    case "float":
      return { ...EMPTY_SAMPLE_FIELDS, value: v.value, dataType: v.type };
    case "text":
      return {
        ...EMPTY_SAMPLE_FIELDS,
        value: Number.NaN,
        dataType: v.type,
        textValue: v.value,
        locale: v.type === "LOCALIZED_TEXT" ? (v.locale ?? null) : null,
      };
    case "time":
      return {
        ...EMPTY_SAMPLE_FIELDS,
        value: Number.NaN,
        dataType: "DATE_TIME",
        valueTime: v.value,
        valueNanos: v.nanos,
      };
    case "enumeration":
      return {
        ...EMPTY_SAMPLE_FIELDS,
        value: v.value,
        dataType: "ENUMERATION",
        integerValue: BigInt(v.value),
        textValue: v.name,
      };
    case "statusCode":
      return {
        ...EMPTY_SAMPLE_FIELDS,
        value: v.value,
        dataType: "STATUS_CODE",
        integerValue: BigInt(v.value),
        textValue: v.name,
      };
  }
}

/**
 * A counter reading: a non-negative integer, exact. Integers of any width; a Float or Double only
 * when it holds a whole number (some PLCs keep counts in REAL). Anything else is not a count.
 */
export function countOf(v: Value): bigint | null {
  if (v.kind === "integer") return v.value >= 0n ? v.value : null;
  if (v.kind === "enumeration") return v.value >= 0 ? BigInt(v.value) : null;
  if (v.kind === "float") return Number.isSafeInteger(v.value) && v.value >= 0 ? BigInt(v.value) : null;
  return null;
}

/** A number (state, mode), exact when it fits; null for what is not a number. */
export function numberOf(v: Value): number | null {
  switch (v.kind) {
    case "integer":
      return v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v.value)
        : null;
    case "enumeration":
      return v.value;
    case "float":
      return Number.isInteger(v.value) ? v.value : null;
    case "boolean":
      return v.value ? 1 : 0;
    default:
      return null;
  }
}

/** A text (order, lot, stop reason): blank is none; numbers and names as their text. */
export function textOf(v: Value): string | null {
  let s: string | null;
  switch (v.kind) {
    case "text":
      s = v.value;
      break;
    case "integer":
      s = v.value.toString();
      break;
    case "float":
      s = String(v.value);
      break;
    case "boolean":
      s = String(v.value);
      break;
    case "enumeration":
      s = v.name ?? String(v.value);
      break;
    case "statusCode":
      s = v.name;
      break;
    case "time":
      s = v.value.toISOString();
      break;
    default:
      s = null;
  }
  if (s === null) return null;
  const trimmed = s.trim();
  return trimmed === "" ? null : trimmed;
}

/** "Execute", "EXECUTE", "execute" → EXECUTE: a state given by name (a String or LocalizedText node). */
export function namedState(v: Value): PackMlState | null {
  const name = v.kind === "text" ? v.value : v.kind === "enumeration" ? v.name : null;
  if (!name) return null;
  const upper = name.trim().toUpperCase();
  return (PACK_ML_STATE_SYMBOLS as readonly string[]).includes(upper) ? (upper as PackMlState) : null;
}

/** A PackML mode given by name. */
export function namedMode(v: Value): PackMlMode | null {
  const name = v.kind === "text" ? v.value : v.kind === "enumeration" ? v.name : null;
  if (!name) return null;
  const upper = name.trim().toUpperCase();
  return (PACK_ML_MODE_SYMBOLS as readonly string[]).includes(upper) ? (upper as PackMlMode) : null;
}

/**
 * Whether a running signal says "running". Without `values`: a Boolean, or a number other than 0.
 * With `values` (a vendor's status): the value — its number, its text or its enumeration name — is
 * one of them. null when the value cannot say (null, a type that is neither).
 */
export function runningOf(v: Value, values?: readonly (string | number | boolean)[]): boolean | null {
  if (v.kind === "null" || v.kind === "unsupported" || v.kind === "array") return null;
  if (values && values.length > 0) {
    const n = numberOf(v);
    const t = textOf(v);
    return values.some((w) =>
      typeof w === "number"
        ? n === w
        : typeof w === "boolean"
          ? v.kind === "boolean" && v.value === w
          : t !== null && t.toLowerCase() === w.toLowerCase(),
    );
  }
  if (v.kind === "boolean") return v.value;
  const n = numberOf(v);
  return n === null ? null : n !== 0;
}

/** What a vendor status value is called, as a stop reason code: its enumeration name, text or number. */
export function statusCodeText(v: Value): string | null {
  if (v.kind === "boolean") return null;
  return textOf(v);
}
