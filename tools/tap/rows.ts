/**
 * What `threadline tap` writes for one stored event, independent of where it goes: the NDJSON record
 * (the envelope, then the payload as JSON) and the CSV row (one column per flattened field, the
 * columns fixed by the event type's reader schema so every row has the same ones).
 *
 * Values as `toJson` renders them (contracts/src/json.ts): decimals as exact strings ("12.500000"),
 * timestamps as ISO-8601, enums as their symbol, longs as numbers while they are safe integers and as
 * strings beyond 2^53, bytes as base64. CSV follows RFC 4180: a field with a comma, a double quote, CR
 * or LF is quoted, its double quotes doubled; lines end with CRLF; null is an empty field; an array or
 * a map is one field holding its JSON text.
 */
import type avro from "avsc";
import { type AvroType, toJson } from "../../contracts/src/index.js";
import type { StoredEvent } from "../../streams/src/index.js";

type Json = ReturnType<typeof toJson>;

/** One event as an NDJSON line holds it. */
export interface TapRecord {
  /** The stream sequence. */
  readonly seq: number;
  /** When the stream stored it (ISO-8601). */
  readonly storedAt: string;
  /** `ce-id`. */
  readonly id: string;
  /** `ce-type`. */
  readonly type: string;
  /** `ce-subject`: the business key. */
  readonly subject: string;
  /** `ce-time` (ISO-8601). */
  readonly time: string;
  /** `ce-source`. */
  readonly source: string;
  /** The NATS subject it was published on. */
  readonly routingSubject: string;
  /** The registry version of the writer's schema; null when the registry did not know it. */
  readonly schemaVersion: number | null;
  /** The payload, resolved to this program's schema of the type, as JSON. */
  readonly data: Json;
}

/** The envelope columns, first in every CSV and in this order in every NDJSON record. */
export const ENVELOPE_COLUMNS = [
  "seq",
  "storedAt",
  "id",
  "type",
  "subject",
  "time",
  "source",
  "routingSubject",
  "schemaVersion",
] as const;

export function tapRecord(e: StoredEvent): TapRecord {
  return {
    seq: e.streamSequence,
    storedAt: e.storedAt.toISOString(),
    id: e.id,
    type: e.type,
    subject: e.envelope.subject,
    time: e.envelope.time.toISOString(),
    source: e.envelope.source,
    routingSubject: e.routingSubject,
    schemaVersion: e.writer.version ?? null,
    data: toJson(e.schema, e.value),
  };
}

/** One NDJSON line (with its `\n`). */
export function ndjsonLine(e: StoredEvent): string {
  return `${JSON.stringify(tapRecord(e))}\n`;
}

/**
 * The payload's columns for a reader schema, as paths: a record's fields in schema order, nested
 * records (nullable ones too) flattened with dots (`quantity.value`, `equipment.line`); anything else
 * — a scalar, an enum, a decimal, a timestamp, an array, a map, a union of several types — is one column.
 */
export function payloadColumns(type: AvroType, prefix: readonly string[] = []): string[][] {
  const logical = (type as { _logicalTypeName?: string })._logicalTypeName;
  if (!logical && type.typeName === "record")
    return (type as avro.types.RecordType).fields.flatMap((f) => payloadColumns(f.type, [...prefix, f.name]));
  if (type.typeName.startsWith("union")) {
    const branches = (type as avro.types.UnwrappedUnionType).types.filter((t) => t.typeName !== "null");
    const [only] = branches;
    if (branches.length === 1 && only && only.typeName === "record") return payloadColumns(only, prefix);
  }
  return prefix.length === 0 ? [["value"]] : [[...prefix]];
}

/** The CSV header of an event type: the envelope columns, then `data.<path>` per payload column. */
export function csvHeader(columns: readonly (readonly string[])[]): string {
  return csvLine([...ENVELOPE_COLUMNS, ...columns.map((c) => `data.${c.join(".")}`)]);
}

/** One CSV row of an event, its payload in `columns` (see `payloadColumns`). */
export function csvRow(e: StoredEvent, columns: readonly (readonly string[])[]): string {
  const r = tapRecord(e);
  const envelope = ENVELOPE_COLUMNS.map((k) => cell(r[k]));
  return csvLine([...envelope, ...columns.map((path) => cell(at(r.data, path)))]);
}

function at(data: Json, path: readonly string[]): Json | undefined {
  let v: Json | undefined = data;
  for (const key of path) {
    if (v === null || v === undefined || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = v[key];
  }
  return v;
}

function cell(v: Json | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** RFC 4180: quoted when it holds a comma, a double quote, CR or LF; double quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}
