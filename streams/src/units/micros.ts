/**
 * Quantities as exact sums: integers of micro-units, the contracts' decimal scale (event
 * quantities are Avro decimals of scale 6, read as strings such as "12.500000"; see
 * contracts/src/avro.ts, whose parser and printer this module uses). Every sum, difference and
 * BoM ratio of quantities in reconciliation is bigint arithmetic here; Odoo's floats are rounded to
 * micro-units once, where they are read. Ten reports of 0.1 kg add up to 1 kg, not 0.9999999999999999.
 */
import { formatDecimal, parseDecimal } from "../../../contracts/src/index.js";

export type Micros = bigint;

/** The contracts' quantity scale: 6 decimal places. */
const SCALE = 6;
/** Digits a parsed quantity may have: the contracts' precision (18) with room for sums of them. */
const PRECISION = 30;
/** One unit. */
export const ONE_MICROS: Micros = 1_000_000n;

/** An event decimal ("12.500000", "-3", "0.5") exactly; a RangeError for more than 6 decimal places. */
export function microsOf(decimal: string): Micros {
  const micros = parseDecimal(decimal.trim(), SCALE, PRECISION);
  if (micros === undefined)
    throw new RangeError(`not a decimal quantity of at most ${SCALE} places: ${decimal}`);
  return micros;
}

/** An Odoo float, rounded to micro-units (Odoo's own precision is coarser); not a number: 0. */
export function microsOfFloat(value: unknown): Micros {
  const n = typeof value === "number" ? value : Number(value ?? 0);
  return Number.isFinite(n) ? microsOf(n.toFixed(SCALE)) : 0n;
}

/** "12.5", "-3", "0" — trailing zeros dropped. */
export function formatMicros(v: Micros): string {
  return formatDecimal(v, SCALE).replace(/\.?0+$/, "");
}

/** For gauges (Prometheus values are floats anyway). */
export function microsToNumber(v: Micros): number {
  return Number(formatDecimal(v, SCALE));
}

export function sumMicros(values: Iterable<Micros>): Micros {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

export function absMicros(v: Micros): Micros {
  return v < 0n ? -v : v;
}

/** `a × b ÷ c` (a BoM line's quantity for an output), rounded to the nearest micro-unit, halves away from zero. */
export function mulDivMicros(a: Micros, b: Micros, c: Micros): Micros {
  return divideMicros(a * b, c);
}

/** `v ÷ n`, rounded to the nearest micro-unit, halves away from zero. */
export function divideMicros(v: Micros, n: bigint): Micros {
  if (n === 0n) throw new RangeError("division of a quantity by zero");
  const q = v / n;
  const r = v % n;
  if (2n * absMicros(r) < absMicros(n)) return q;
  return v < 0n !== n < 0n ? q - 1n : q + 1n;
}
