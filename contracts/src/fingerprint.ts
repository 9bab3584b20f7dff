/**
 * Avro's Parsing Canonical Form and CRC-64-AVRO fingerprint, as the Avro specification defines them
 * ("Parsing Canonical Form for Schemas" and "Schema Fingerprints"). avsc offers neither.
 */

import type { AvroSchemaJson } from "./avro.js";
import { SchemaInvalidError } from "./errors.js";

const PRIMITIVES = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);
/** [ORDER]: the only attributes kept, in this order. */
const KEPT = ["name", "type", "fields", "symbols", "items", "values", "size"] as const;

function fullName(name: string, namespace: string | undefined): string {
  if (name.includes(".") || !namespace) return name;
  return `${namespace}.${name}`;
}

function namespaceOf(fullname: string): string | undefined {
  const i = fullname.lastIndexOf(".");
  return i < 0 ? undefined : fullname.slice(0, i);
}

/** Parsing Canonical Form of a schema (JSON text or parsed JSON). */
export function canonicalForm(schema: AvroSchemaJson | string, source = "schema"): string {
  const json: AvroSchemaJson =
    typeof schema === "string" && !PRIMITIVES.has(schema) ? parseLoose(schema, source) : schema;
  return JSON.stringify(transform(json, undefined, new Set(), source));
}

function parseLoose(text: string, source: string): AvroSchemaJson {
  try {
    return JSON.parse(text) as AvroSchemaJson;
  } catch {
    // A bare reference such as `foo` (not JSON) is a named type reference.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(text)) return text;
    throw new SchemaInvalidError(source, "schema text is not valid JSON");
  }
}

type Canonical = string | Canonical[] | { [key: string]: Canonical | number };

function transform(
  schema: AvroSchemaJson,
  namespace: string | undefined,
  seen: Set<string>,
  source: string,
): Canonical {
  if (typeof schema === "string") {
    return PRIMITIVES.has(schema) ? schema : fullName(schema, namespace);
  }
  if (Array.isArray(schema)) {
    return schema.map((branch) => transform(branch, namespace, seen, source));
  }
  const type = schema["type"];
  if (typeof type !== "string" && typeof type !== "object") {
    throw new SchemaInvalidError(source, `a schema object needs a "type": ${JSON.stringify(schema)}`);
  }
  if (typeof type !== "string" || (PRIMITIVES.has(type) && !("name" in schema))) {
    if (typeof type === "string") return type; // [PRIMITIVES] and logical types on primitives
    return transform(type as AvroSchemaJson, namespace, seen, source);
  }
  const out: { [key: string]: Canonical | number } = {};
  let innerNamespace = namespace;
  if (type === "record" || type === "error" || type === "enum" || type === "fixed") {
    const name = schema["name"];
    if (typeof name !== "string") throw new SchemaInvalidError(source, `a ${type} needs a "name"`);
    const ns = typeof schema["namespace"] === "string" ? (schema["namespace"] as string) : namespace;
    const full = fullName(name, ns || undefined);
    if (seen.has(full)) return full;
    seen.add(full);
    innerNamespace = namespaceOf(full);
    out["name"] = full;
  }
  for (const key of KEPT) {
    if (key === "name" || !(key in schema)) continue;
    const value = schema[key];
    switch (key) {
      case "type":
        out["type"] = type === "error" ? "record" : type;
        break;
      case "fields":
        out["fields"] = (value as Array<Record<string, AvroSchemaJson>>).map((f) => ({
          name: f["name"] as string,
          type: transform(f["type"] as AvroSchemaJson, innerNamespace, seen, source),
        }));
        break;
      case "symbols":
        out["symbols"] = value as string[];
        break;
      case "items":
      case "values":
        out[key] = transform(value as AvroSchemaJson, innerNamespace, seen, source);
        break;
      case "size":
        out["size"] = Number(value);
        break;
    }
  }
  return out;
}

const EMPTY = 0xc15d213aa4d7a795n;
const POLY_TABLE: readonly bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    table.push(fp);
  }
  return table;
})();

/** CRC-64-AVRO (Rabin) of bytes, as an unsigned 64-bit bigint. */
export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = EMPTY;
  for (const b of bytes) fp = (fp >> 8n) ^ (POLY_TABLE[Number((fp ^ BigInt(b)) & 0xffn)] as bigint);
  return fp;
}

/** The 8-byte little-endian fingerprint of a schema's canonical form, as it appears on the wire. */
export function fingerprintBytes(schema: AvroSchemaJson | string): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(crc64Avro(Buffer.from(canonicalForm(schema), "utf8")), 0);
  return buf;
}

/** The fingerprint as 16 lower-case hex digits of the wire bytes (little-endian), the registry's key. */
export function fingerprintHex(schema: AvroSchemaJson | string): string {
  return fingerprintBytes(schema).toString("hex");
}
