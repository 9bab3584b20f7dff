/**
 * `threadline tap --format parquet`: one event type's events as a Parquet file with typed columns
 * (hyparquet-writer), the same columns as the CSV (tools/tap/rows.ts: the envelope, then each payload
 * field flattened from the type's reader schema):
 *
 * - exact decimals (the contracts' bytes/decimal, precision 18, scale 6) as DECIMAL(p, s) on INT64 —
 *   the unscaled value, never a float;
 * - timestamps (timestamp-millis, and the envelope's times) as INT64 TIMESTAMP_MILLIS (UTC);
 * - int → INT32, long → INT64, float, double, boolean as themselves; strings and enums as UTF-8
 *   strings; arrays, maps and unions of several types as JSON text;
 * - a nullable field (a union with null) is OPTIONAL, every other REQUIRED.
 *
 * Rows are buffered and written as row groups of `rowGroupSize` events; the file is complete once
 * `finish()` wrote its footer (a Parquet file cannot be appended to, so a tap cannot follow into one).
 */
import type avro from "avsc";
import { fileWriter, ParquetWriter } from "hyparquet-writer";
import { type AvroType, parseDecimal, toJson } from "../../contracts/src/index.js";
import type { StoredEvent } from "../../streams/src/index.js";
import { type ENVELOPE_COLUMNS, payloadColumns, tapRecord } from "./rows.js";

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]["schema"][number];
type Json = ReturnType<typeof toJson>;

/** How one column is written: its Parquet schema element and the value it takes from an event. */
export interface Column {
  readonly element: SchemaElement;
  readonly value: (e: StoredEvent) => unknown;
}

/** Rows per row group. */
const ROW_GROUP = 10_000;

export class ParquetTap {
  private readonly columns: readonly Column[];
  private readonly writer: ParquetWriter;
  private buffered: unknown[][];
  private rows = 0;

  /** Creates (or truncates) `file`; `type` is the reader schema of the one event type tapped. */
  constructor(file: string, type: AvroType) {
    this.columns = parquetColumns(type);
    this.buffered = this.columns.map(() => []);
    this.writer = new ParquetWriter({
      writer: fileWriter(file),
      schema: [{ name: "root", num_children: this.columns.length }, ...this.columns.map((c) => c.element)],
      createdBy: "threadline tap",
    });
  }

  add(e: StoredEvent): void {
    this.columns.forEach((c, i) => {
      (this.buffered[i] as unknown[]).push(c.value(e));
    });
    if (++this.rows % ROW_GROUP === 0) this.flush();
  }

  /** Writes what is buffered and the footer: the file is complete. */
  finish(): void {
    this.flush();
    this.writer.finish();
  }

  private flush(): void {
    if ((this.buffered[0] as unknown[]).length === 0) return;
    this.writer.write({
      columnData: this.columns.map((c, i) => ({
        name: c.element.name,
        data: this.buffered[i] as never,
        nullable: c.element.repetition_type !== "REQUIRED",
      })),
      rowGroupSize: ROW_GROUP,
    });
    this.buffered = this.columns.map(() => []);
  }
}

/** The columns of a tapped event type: the envelope's, then each payload field's (as the CSV's). */
export function parquetColumns(type: AvroType): Column[] {
  return [...envelopeColumns(), ...payloadColumns(type).map((path) => payloadColumn(type, path))];
}

function envelopeColumns(): Column[] {
  const string = (name: (typeof ENVELOPE_COLUMNS)[number], required = true): Column => ({
    element: {
      name,
      type: "BYTE_ARRAY",
      converted_type: "UTF8",
      repetition_type: required ? "REQUIRED" : "OPTIONAL",
    },
    value: (e) => tapRecord(e)[name],
  });
  return [
    {
      element: { name: "seq", type: "INT64", repetition_type: "REQUIRED" },
      value: (e) => BigInt(e.streamSequence),
    },
    {
      element: {
        name: "storedAt",
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        repetition_type: "REQUIRED",
      },
      value: (e) => e.storedAt,
    },
    string("id"),
    string("type"),
    string("subject"),
    {
      element: {
        name: "time",
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        repetition_type: "REQUIRED",
      },
      value: (e) => e.envelope.time,
    },
    string("source"),
    string("routingSubject"),
    {
      element: { name: "schemaVersion", type: "INT32", repetition_type: "OPTIONAL" },
      value: (e) => e.writer.version ?? null,
    },
  ];
}

/** The Avro type at a column's path, and whether a null union is on the way to it. */
function leafAt(type: AvroType, path: readonly string[]): { type: AvroType; nullable: boolean } {
  let t = type;
  let nullable = false;
  for (const name of path) {
    const unwrapped = nonNull(t);
    nullable ||= unwrapped.nullable;
    const field = (unwrapped.type as avro.types.RecordType).fields.find((f) => f.name === name);
    if (!field) throw new Error(`tap: no field ${path.join(".")} in ${type.name ?? "the schema"}`);
    t = field.type;
  }
  const leaf = nonNull(t);
  return { type: leaf.type, nullable: nullable || leaf.nullable };
}

/** A union of null and one type, as that type and nullable. */
function nonNull(t: AvroType): { type: AvroType; nullable: boolean } {
  if (!t.typeName.startsWith("union")) return { type: t, nullable: false };
  const branches = (t as avro.types.UnwrappedUnionType).types;
  const others = branches.filter((b) => b.typeName !== "null");
  return others.length === 1 ? { type: others[0] as AvroType, nullable: true } : { type: t, nullable: false };
}

function payloadColumn(root: AvroType, path: readonly string[]): Column {
  const name = `data.${path.join(".")}`;
  const { type, nullable } = leafAt(root, path);
  const repetition_type = nullable ? "OPTIONAL" : "REQUIRED";
  const raw = (e: StoredEvent): unknown => {
    let v: unknown = e.value;
    for (const key of path) v = v === null || v === undefined ? v : (v as Record<string, unknown>)[key];
    return v ?? null;
  };
  const logical = (type as { _logicalTypeName?: string })._logicalTypeName;
  if (logical === "decimal") {
    // The contracts' DecimalType (contracts/src/avro.ts) carries them.
    const { precision, scale } = type as unknown as { precision: number; scale: number };
    return {
      element: { name, type: "INT64", converted_type: "DECIMAL", precision, scale, repetition_type },
      value: (e) => {
        const v = raw(e);
        return v === null ? null : parseDecimal(String(v), scale, precision);
      },
    };
  }
  if (logical === "timestamp-millis")
    return {
      element: { name, type: "INT64", converted_type: "TIMESTAMP_MILLIS", repetition_type },
      value: raw,
    };
  switch (type.typeName) {
    case "int":
      return { element: { name, type: "INT32", repetition_type }, value: raw };
    case "long":
      return {
        element: { name, type: "INT64", repetition_type },
        value: (e) => {
          const v = raw(e);
          return v === null ? null : BigInt(v as number | bigint);
        },
      };
    case "float":
      return { element: { name, type: "FLOAT", repetition_type }, value: raw };
    case "double":
      return { element: { name, type: "DOUBLE", repetition_type }, value: raw };
    case "boolean":
      return { element: { name, type: "BOOLEAN", repetition_type }, value: raw };
    case "string":
    case "enum":
      return { element: { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type }, value: raw };
    default:
      // Arrays, maps, bytes, unions of several types: their JSON text, as in the CSV.
      return {
        element: { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type },
        value: (e) => {
          const v = raw(e);
          return v === null ? null : JSON.stringify(toJson(type, v) as Json);
        },
      };
  }
}
