/**
 * Avro types with Threadline's value conventions, on top of avsc:
 * - `long` is a JavaScript `bigint` (exact beyond 2^53; avsc's default silently loses precision);
 * - `decimal` (bytes or fixed) is a string such as "12.500" (exact; never a float);
 * - `timestamp-millis` is a `Date`.
 */
import avro from "avsc";
import { SchemaInvalidError } from "./errors.js";

export type AvroType = avro.Type;
/** An Avro schema as parsed JSON. */
export type AvroSchemaJson = string | AvroSchemaJson[] | { readonly [key: string]: unknown };

const MIN_LONG = -(2n ** 63n);
const MAX_LONG = 2n ** 63n - 1n;

/** `long` as `bigint`. Writes also accept safe-integer numbers, so a plain JSON number round-trips. */
export const bigintLong: avro.types.LongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n), 0);
    return buf;
  },
  fromJSON: (json: unknown) => BigInt(json as string | number),
  toJSON: (n: bigint) =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : String(n),
  isValid: (n: unknown) =>
    (typeof n === "bigint" && n >= MIN_LONG && n <= MAX_LONG) ||
    (typeof n === "number" && Number.isSafeInteger(n)),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

const DECIMAL_TEXT = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Parses a decimal string into its unscaled integer at `scale`; undefined when it does not fit. */
export function parseDecimal(text: string, scale: number, precision: number): bigint | undefined {
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return undefined;
  const [, sign, whole = "", frac = ""] = m;
  // Extra fractional digits are only acceptable when they are zeros: never round silently.
  if (frac.length > scale && !/^0*$/.test(frac.slice(scale))) return undefined;
  const digits = (whole + frac.slice(0, scale).padEnd(scale, "0")).replace(/^0+(?=\d)/, "");
  if (digits.length > precision && digits !== "0") return undefined;
  const unscaled = BigInt(digits);
  return sign ? -unscaled : unscaled;
}

/** Renders an unscaled integer at `scale` as a decimal string with exactly `scale` fraction digits. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Up to 6 bytes, two's complement fits a JavaScript number exactly (Buffer's `readIntBE`/`writeIntBE`). */
const MAX_NUMBER_BYTES = 6;
const MIN_SMALL = -(2n ** 47n);
const MAX_SMALL = 2n ** 47n;

function bigintToTwosComplement(n: bigint, size?: number): Buffer {
  // Quantities are small: done with numbers, not a bigint per byte (the publisher's hot path).
  if (n >= MIN_SMALL && n < MAX_SMALL) {
    const x = Number(n);
    let len = size ?? 1;
    if (size === undefined) while (x < -(2 ** (8 * len - 1)) || x >= 2 ** (8 * len - 1)) len++;
    const buf = Buffer.alloc(len, x < 0 ? 0xff : 0); // sign extension of a wide fixed
    const width = Math.min(len, MAX_NUMBER_BYTES);
    buf.writeIntBE(x, len - width, width);
    return buf;
  }
  let len = size ?? 1;
  if (size === undefined) {
    while (n < -(1n << BigInt(8 * len - 1)) || n >= 1n << BigInt(8 * len - 1)) len++;
  }
  const buf = Buffer.alloc(len);
  let v = BigInt.asUintN(8 * len, n);
  for (let i = len - 1; i >= 0; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return buf;
}

function twosComplementToBigint(buf: Buffer): bigint {
  if (buf.length === 0) return 0n;
  if (buf.length <= MAX_NUMBER_BYTES) return BigInt(buf.readIntBE(0, buf.length));
  let v = 0n;
  for (const byte of buf) v = (v << 8n) | BigInt(byte);
  return BigInt.asIntN(8 * buf.length, v);
}

interface DecimalSchema {
  precision?: number;
  scale?: number;
}

/** Avro `decimal` on bytes or fixed, exposed as an exact string. */
class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const s = schema as DecimalSchema;
    if (!Number.isInteger(s.precision) || (s.precision ?? 0) < 1) {
      throw new Error("decimal needs an integer precision >= 1");
    }
    const scale = s.scale ?? 0;
    if (!Number.isInteger(scale) || scale < 0 || scale > (s.precision ?? 0)) {
      throw new Error("decimal scale must be an integer between 0 and precision");
    }
    this.precision = s.precision as number;
    this.scale = scale;
  }

  private get fixedSize(): number | undefined {
    const u = this.underlyingType;
    return u.typeName === "fixed" ? (u as avro.types.FixedType).size : undefined;
  }

  protected override _fromValue(buf: Buffer): string {
    return formatDecimal(twosComplementToBigint(buf), this.scale);
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    if (typeof value !== "string") return undefined; // avsc reports the value as invalid
    const unscaled = parseDecimal(value, this.scale, this.precision);
    if (unscaled === undefined) return undefined;
    return bigintToTwosComplement(unscaled, this.fixedSize);
  }

  protected override _resolve(writer: avro.Type): ((v: unknown) => unknown) | undefined {
    if (writer instanceof DecimalType && writer.scale === this.scale) {
      return (v) => v;
    }
    return undefined;
  }

  protected override _export(attrs: avro.Schema): void {
    const out = attrs as unknown as Record<string, unknown>;
    out["precision"] = this.precision;
    out["scale"] = this.scale;
  }
}

/** Avro `timestamp-millis` on long, exposed as a `Date`. */
class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(millis: bigint | number): Date {
    return new Date(Number(millis));
  }

  protected override _toValue(value: unknown): bigint | number | undefined {
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) return undefined;
    // avsc's number long is exact only within ±2^52 (about year ±142 000): refuse rather than corrupt.
    if (Math.abs(value.getTime()) > 2 ** 52) return undefined;
    // Millisecond times fit a safe integer; the underlying long may be avsc's (number) or ours (bigint).
    return this.underlyingType.typeName === "abstract:long" ? BigInt(value.getTime()) : value.getTime();
  }

  protected override _resolve(writer: avro.Type): ((v: unknown) => unknown) | undefined {
    if (writer instanceof TimestampMillisType) return (v) => v;
    if (writer.typeName === "long" || writer.typeName === "abstract:long" || writer.typeName === "int") {
      return (v) => new Date(Number(v as bigint));
    }
    return undefined;
  }
}

/** The avsc options every Threadline type is built with. */
function typeOptions(): Partial<avro.ForSchemaOptions> {
  return {
    registry: { long: bigintLong } as unknown as avro.ForSchemaOptions["registry"],
    logicalTypes: {
      decimal: DecimalType,
      "timestamp-millis": TimestampMillisType,
    } as unknown as avro.ForSchemaOptions["logicalTypes"],
    // Unknown logical types fall back to their underlying type, as the Avro spec requires.
    assertLogicalTypes: false,
    wrapUnions: false,
    omitRecordMethods: true,
  };
}

/** Builds an avsc type from schema JSON with Threadline's conventions. `source` names it in errors. */
export function typeForSchema(schema: AvroSchemaJson, source = "schema"): AvroType {
  try {
    return avro.Type.forSchema(schema as avro.Schema, typeOptions());
  } catch (cause) {
    throw new SchemaInvalidError(source, (cause as Error).message, { cause });
  }
}

/** Parses schema text (a `.avsc` file's content) into JSON, naming the source on failure. */
export function parseSchemaText(text: string, source = "schema"): AvroSchemaJson {
  try {
    return JSON.parse(text) as AvroSchemaJson;
  } catch (cause) {
    throw new SchemaInvalidError(source, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}
