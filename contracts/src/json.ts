/**
 * The JSON form of event payloads, for people and scripts (the CLI, tapping streams to NDJSON):
 * decimals as strings ("12.500"), timestamps as ISO-8601, longs as numbers when they are safe
 * integers and strings beyond 2^53, bytes as base64, unions unwrapped.
 */
import type avro from "avsc";
import type { AvroType } from "./avro.js";
import type { FieldProblem } from "./errors.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function logicalName(t: AvroType): string | undefined {
  return (t as { _logicalTypeName?: string })._logicalTypeName;
}

/** Converts a decoded value to its JSON form. */
export function toJson(type: AvroType, value: unknown): Json {
  const logical = logicalName(type);
  if (logical === "timestamp-millis") return (value as Date).toISOString();
  if (logical === "decimal") return value as string;
  if (logical) return toJson((type as avro.types.LogicalType).underlyingType, value);
  switch (type.typeName) {
    case "null":
      return null;
    case "abstract:long":
    case "long": {
      const n = BigInt(value as bigint);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(n)
        : n.toString();
    }
    case "bytes":
    case "fixed":
      return (value as Buffer).toString("base64");
    case "record":
    case "error": {
      const out: { [key: string]: Json } = {};
      for (const f of (type as avro.types.RecordType).fields) {
        out[f.name] = toJson(f.type, (value as Record<string, unknown>)[f.name]);
      }
      return out;
    }
    case "array":
      return (value as unknown[]).map((v) => toJson((type as avro.types.ArrayType).itemsType, v));
    case "map": {
      const out: { [key: string]: Json } = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        out[k] = toJson((type as avro.types.MapType).valuesType, v);
      }
      return out;
    }
    case "union:unwrapped":
    case "union:wrapped": {
      const branch = (type as avro.types.UnwrappedUnionType).types.find((t) => t.isValid(value));
      return branch ? toJson(branch, value) : null;
    }
    default:
      return value as Json;
  }
}

/** Thrown inside conversion; collected into FieldProblems. */
class JsonMismatch {
  constructor(readonly problem: FieldProblem) {}
}

function mismatch(path: string, expected: string, actual: unknown): never {
  const text = actual === undefined ? "nothing (missing)" : JSON.stringify(actual);
  throw new JsonMismatch({
    path: path || "$",
    expected,
    actual: text.length > 60 ? `${text.slice(0, 57)}...` : text,
  });
}

function join(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function convert(type: AvroType, json: unknown, path: string): unknown {
  const logical = logicalName(type);
  if (logical === "timestamp-millis") {
    if (typeof json === "string" && /^\d{4}-\d{2}-\d{2}T/.test(json)) {
      const d = new Date(json);
      if (!Number.isNaN(d.getTime())) return d;
    }
    if (typeof json === "number" && Number.isSafeInteger(json)) return new Date(json);
    return mismatch(path, "timestamp (ISO-8601 string)", json);
  }
  if (logical === "decimal") {
    if (typeof json === "string" && type.isValid(json)) return json;
    return mismatch(path, `decimal string (scale ${(type as unknown as { scale: number }).scale})`, json);
  }
  if (logical) return convert((type as avro.types.LogicalType).underlyingType, json, path);
  switch (type.typeName) {
    case "null":
      return json === null ? null : mismatch(path, "null", json);
    case "boolean":
      return typeof json === "boolean" ? json : mismatch(path, "boolean", json);
    case "int":
      return typeof json === "number" && type.isValid(json) ? json : mismatch(path, "int", json);
    case "float":
    case "double":
      return typeof json === "number" ? json : mismatch(path, type.typeName, json);
    case "string":
      return typeof json === "string" ? json : mismatch(path, "string", json);
    case "abstract:long":
    case "long":
      if (
        (typeof json === "number" && Number.isSafeInteger(json)) ||
        (typeof json === "string" && /^-?\d+$/.test(json))
      ) {
        const n = BigInt(json);
        if (type.isValid(n)) return n;
      }
      return mismatch(path, "long (integer, or a string of digits beyond 2^53)", json);
    case "bytes":
    case "fixed":
      return typeof json === "string" ? Buffer.from(json, "base64") : mismatch(path, "base64 string", json);
    case "enum":
      return typeof json === "string" && (type as avro.types.EnumType).symbols.includes(json)
        ? json
        : mismatch(path, `one of ${(type as avro.types.EnumType).symbols.join("|")}`, json);
    case "record":
    case "error": {
      if (typeof json !== "object" || json === null || Array.isArray(json))
        return mismatch(path, `object ${type.name}`, json);
      const record = json as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const known = new Set<string>();
      for (const f of (type as avro.types.RecordType).fields) {
        known.add(f.name);
        const present = Object.hasOwn(record, f.name);
        // A missing field takes its schema default, exactly as Avro readers do.
        const def = (f as unknown as { defaultValue(): unknown }).defaultValue();
        out[f.name] = present
          ? convert(f.type, record[f.name], join(path, f.name))
          : def !== undefined
            ? def
            : mismatch(join(path, f.name), "a value (no default)", undefined);
      }
      for (const key of Object.keys(record)) {
        if (!known.has(key)) mismatch(join(path, key), "no such field", record[key]);
      }
      return out;
    }
    case "array":
      if (!Array.isArray(json)) return mismatch(path, "array", json);
      return json.map((v, i) => convert((type as avro.types.ArrayType).itemsType, v, join(path, i)));
    case "map": {
      if (typeof json !== "object" || json === null || Array.isArray(json))
        return mismatch(path, "object (map)", json);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(json))
        out[k] = convert((type as avro.types.MapType).valuesType, v, join(path, k));
      return out;
    }
    case "union:unwrapped":
    case "union:wrapped": {
      const branches = (type as avro.types.UnwrappedUnionType).types;
      for (const branch of branches) {
        try {
          return convert(branch, json, path);
        } catch (e) {
          if (!(e instanceof JsonMismatch)) throw e;
        }
      }
      return mismatch(path, branches.map((b) => logicalName(b) ?? b.name ?? b.typeName).join(" | "), json);
    }
    default:
      return mismatch(path, type.typeName, json);
  }
}

/** Converts JSON to a value of `type`; returns the problems instead when it does not fit. */
export function fromJson(type: AvroType, json: unknown): { value: unknown; problems: FieldProblem[] } {
  try {
    return { value: convert(type, json, ""), problems: [] };
  } catch (e) {
    if (e instanceof JsonMismatch) return { value: undefined, problems: [e.problem] };
    throw e;
  }
}
