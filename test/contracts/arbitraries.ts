/**
 * fast-check arbitraries for Avro types built with Threadline's conventions (contracts/src/avro.ts):
 * `arbitraryFor(type)` yields values that `type.isValid` accepts, and `normalizeValue(type, value)` turns a
 * value (as written, or as decoded) into a plain comparable form, so a round trip can be checked with
 * `assert.deepStrictEqual(normalizeValue(t, decoded), normalizeValue(t, written))`.
 *
 * Values produced:
 * - `decimal`: exact strings within precision/scale, sometimes with fewer fraction digits than the scale
 *   ("12.5" for scale 6) or extra trailing zeros ("12.50000000"): both are valid inputs;
 * - `timestamp-millis`: `Date`s from integer millis, from MIN_TIMESTAMP_MILLIS to the end of the `Date` range;
 * - `long` (the bigint long type): `bigint`s over the full signed 64-bit range, beyond 2^53 included;
 * - `string`: any Unicode code points (astral planes included, no lone surrogates);
 * - unions: every branch, `null` included; records: plain objects with every field.
 */
import type avro from "avsc";
import fc from "fast-check";
import { formatDecimal, parseDecimal } from "../../contracts/src/avro.js";

const MIN_LONG = -(2n ** 63n);
const MAX_LONG = 2n ** 63n - 1n;
/**
 * The time range the codec accepts: `timestamp-millis` sits on avsc's number `long`, whose zigzag
 * writer corrupts millis below -2^52, so contracts/src/avro.ts refuses anything beyond ±2^52 ms
 * (about year ±142 000) as invalid instead.
 */
export const MIN_TIMESTAMP_MILLIS = -(2 ** 52);
const MAX_DATE_MILLIS = 2 ** 52;
/** Records nested deeper than this only take non-recursive union branches and empty arrays and maps. */
const MAX_RECORD_DEPTH = 6;

interface DecimalLike {
  readonly precision: number;
  readonly scale: number;
}

function decimalOf(type: avro.Type): DecimalLike | undefined {
  if (type.typeName !== "logical:decimal") return undefined;
  const { precision, scale } = type as unknown as Partial<DecimalLike>;
  if (typeof precision !== "number") return undefined;
  return { precision, scale: scale ?? 0 };
}

function underlying(type: avro.Type): avro.Type {
  return (type as avro.types.LogicalType).underlyingType;
}

/** Digits an unscaled decimal may have: the precision, capped by a `fixed` underlying type's size. */
function maxDigits(type: avro.Type, precision: number): number {
  const u = underlying(type);
  if (u.typeName !== "fixed") return precision;
  const size = (u as avro.types.FixedType).size;
  return Math.min(precision, Math.floor((8 * size - 1) * Math.log10(2)));
}

function decimalArbitrary(type: avro.Type, { precision, scale }: DecimalLike): fc.Arbitrary<string> {
  const limit = 10n ** BigInt(maxDigits(type, precision)) - 1n;
  const small = 10n ** BigInt(scale) * 1000n;
  const unscaled = fc.oneof(
    fc.bigInt({ min: -limit, max: limit }),
    fc.bigInt({ min: small > limit ? -limit : -small, max: small > limit ? limit : small }),
    fc.constantFrom(0n, 1n, -1n, limit, -limit),
  );
  return fc.tuple(unscaled, fc.nat({ max: scale }), fc.nat({ max: 2 })).map(([n, trim, extra]) => {
    let text = formatDecimal(n, scale);
    if (scale > 0) {
      // Drop up to `trim` trailing fraction zeros ("12.500000" -> "12.5" or "12.50"); "12." becomes "12".
      const zeros = /0*$/.exec(text)?.[0].length ?? 0;
      text = text.slice(0, text.length - Math.min(trim, zeros)).replace(/\.$/, "");
    }
    if (extra > 0 && trim === 0) text = `${text}${text.includes(".") ? "" : "."}${"0".repeat(extra)}`;
    return text;
  });
}

const longArbitrary: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: MIN_LONG, max: MAX_LONG }),
  fc.bigInt({ min: -(2n ** 64n) / 2n ** 8n, max: 2n ** 64n / 2n ** 8n }),
  fc.constantFrom(
    MIN_LONG,
    MAX_LONG,
    0n,
    -1n,
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 53n) - 1n,
    BigInt(Number.MAX_SAFE_INTEGER),
    BigInt(Number.MIN_SAFE_INTEGER),
  ),
);

const dateArbitrary: fc.Arbitrary<Date> = fc
  .oneof(
    fc.integer({ min: MIN_TIMESTAMP_MILLIS, max: MAX_DATE_MILLIS }),
    // Plausible event times (1990..2100) next to the extremes.
    fc.integer({ min: 631_152_000_000, max: 4_102_444_800_000 }),
  )
  .map((millis) => new Date(millis));

const stringArbitrary: fc.Arbitrary<string> = fc.string({ unit: "binary", maxLength: 24 });

/** An arbitrary of valid values of an avsc type built by `typeForSchema` (or by plain avsc). */
export function arbitraryFor(type: avro.Type): fc.Arbitrary<unknown> {
  return build(type, 0);
}

function build(type: avro.Type, depth: number): fc.Arbitrary<unknown> {
  const decimal = decimalOf(type);
  if (decimal) return decimalArbitrary(type, decimal);
  switch (type.typeName) {
    case "logical:timestamp-millis":
      return dateArbitrary;
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "int":
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case "abstract:long": // Threadline's bigint long
      return longArbitrary;
    case "long": // plain avsc long: JavaScript numbers, exact only up to 2^53
      return fc.maxSafeInteger();
    case "float":
      return fc.float();
    case "double":
      return fc.double();
    case "string":
      return stringArbitrary;
    case "bytes":
      return fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
    case "fixed": {
      const size = (type as avro.types.FixedType).size;
      return fc.uint8Array({ minLength: size, maxLength: size }).map((a) => Buffer.from(a));
    }
    case "enum":
      return fc.constantFrom(...(type as avro.types.EnumType).symbols);
    case "array": {
      if (depth > MAX_RECORD_DEPTH) return fc.constant([]);
      return fc.array(build((type as avro.types.ArrayType).itemsType, depth), { maxLength: 4 });
    }
    case "map": {
      if (depth > MAX_RECORD_DEPTH) return fc.constant({});
      // avsc decodes maps into plain objects: a "__proto__" key could not round-trip.
      const key = stringArbitrary.filter((k) => k !== "__proto__");
      return fc.dictionary(key, build((type as avro.types.MapType).valuesType as avro.Type, depth), {
        maxKeys: 4,
        noNullPrototype: true,
      });
    }
    case "record":
    case "error": {
      const fields = (type as avro.types.RecordType).fields;
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const field of fields) shape[field.name] = build(field.type, depth + 1);
      return fc.record(shape, { noNullPrototype: true });
    }
    case "union:unwrapped":
    case "union:wrapped": {
      const wrapped = type.typeName === "union:wrapped";
      let branches = (type as avro.types.UnwrappedUnionType).types;
      if (depth > MAX_RECORD_DEPTH) {
        const shallow = branches.filter((b) => b.typeName !== "record" && b.typeName !== "error");
        if (shallow.length > 0) branches = shallow;
      }
      return fc.oneof(
        ...branches.map((branch) => {
          const arb = build(branch, depth);
          if (!wrapped || branch.typeName === "null") return arb;
          return arb.map((v) => ({ [branch.branchName as string]: v }));
        }),
      );
    }
    default:
      if (type.typeName.startsWith("logical:")) return build(underlying(type), depth); // unknown logical type
      throw new Error(`arbitraryFor: unsupported Avro type ${type.typeName}`);
  }
}

/**
 * A plain, comparable form of a value of `type`: records become plain objects with every field,
 * decimals are rendered at the schema's scale ("12.5" -> "12.500000"), longs become bigints, bytes
 * become Buffers. Works on values as written and as decoded.
 */
export function normalizeValue(type: avro.Type, value: unknown): unknown {
  const decimal = decimalOf(type);
  if (decimal) {
    const unscaled = parseDecimal(String(value), decimal.scale, decimal.precision);
    if (unscaled === undefined)
      throw new Error(`not a decimal(${decimal.precision},${decimal.scale}): ${String(value)}`);
    return formatDecimal(unscaled, decimal.scale);
  }
  switch (type.typeName) {
    case "logical:timestamp-millis":
      return new Date((value as Date).getTime());
    case "abstract:long":
      return BigInt(value as bigint | number);
    case "bytes":
    case "fixed":
      return Buffer.from(value as Uint8Array);
    case "array":
      return (value as unknown[]).map((item) =>
        normalizeValue((type as avro.types.ArrayType).itemsType, item),
      );
    case "map": {
      const valuesType = (type as avro.types.MapType).valuesType as avro.Type;
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, normalizeValue(valuesType, v)]),
      );
    }
    case "record":
    case "error": {
      const out: Record<string, unknown> = {};
      const record = value as Record<string, unknown>;
      for (const field of (type as avro.types.RecordType).fields) {
        const v = record[field.name] === undefined ? field.defaultValue() : record[field.name];
        out[field.name] = normalizeValue(field.type, v);
      }
      return out;
    }
    case "union:unwrapped": {
      if (value === null) return null;
      const branch = (type as avro.types.UnwrappedUnionType).types.find(
        (b) => b.typeName !== "null" && b.isValid(value),
      );
      if (!branch) throw new Error(`value fits no branch of ${type.toString()}: ${String(value)}`);
      return normalizeValue(branch, value);
    }
    case "union:wrapped": {
      if (value === null) return null;
      const [[name, inner]] = Object.entries(value as Record<string, unknown>) as [[string, unknown]];
      const branch = (type as avro.types.WrappedUnionType).types.find((b) => b.branchName === name);
      if (!branch) throw new Error(`no branch ${name} in ${type.toString()}`);
      return { [name]: normalizeValue(branch, inner) };
    }
    default:
      if (type.typeName.startsWith("logical:") && type.typeName !== "logical:timestamp-millis") {
        return normalizeValue(underlying(type), value);
      }
      return value;
  }
}
