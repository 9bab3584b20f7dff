/**
 * Exact rational numbers on bigint, for unit conversion: a factor of 1/12 or a ratio of 0.45359237
 * multiplies and divides without a float ever holding the value. Only what conversion needs: parse a
 * decimal (or a float as Odoo sends it), multiply, divide, compare, render at a scale.
 */

/** `num / den`, reduced, `den > 0`. */
export interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}

export const ZERO: Ratio = { num: 0n, den: 1n };
export const ONE: Ratio = { num: 1n, den: 1n };

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function ratio(num: bigint, den = 1n): Ratio {
  if (den === 0n) throw new RangeError("a ratio with a zero denominator");
  const sign = den < 0n ? -1n : 1n;
  const g = gcd(num, den) || 1n;
  return { num: (sign * num) / g, den: (sign * den) / g };
}

/** A decimal literal: digits with an optional fraction and exponent (`12`, `-0.5`, `8.3e-2`, `1E+3`). */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal string, or a number taken as the shortest decimal that prints it — `String(0.1)` is
 * "0.1", the text Odoo stores for a float field (Python's `repr` prints the same shortest form), not
 * the binary double 0.1000000000000000055511151231257827. Undefined for anything else (NaN, "",
 * "1/3", Infinity).
 */
export function parseRatio(value: string | number): Ratio | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return undefined;
  const text = (typeof value === "number" ? String(value) : value).trim();
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const [, sign, whole = "", frac = "", exp = "0"] = m;
  if (whole === "" && frac === "") return undefined;
  const e = Number(exp) - frac.length;
  if (Math.abs(e) > 400) return undefined; // beyond any quantity; keeps a hostile exponent from allocating
  let num = BigInt(`${whole}${frac}` || "0");
  if (sign === "-") num = -num;
  return e >= 0 ? ratio(num * 10n ** BigInt(e)) : ratio(num, 10n ** BigInt(-e));
}

export function mul(a: Ratio, b: Ratio): Ratio {
  return ratio(a.num * b.num, a.den * b.den);
}

export function div(a: Ratio, b: Ratio): Ratio {
  if (b.num === 0n) throw new RangeError("division by zero");
  return ratio(a.num * b.den, a.den * b.num);
}

export function sign(a: Ratio): -1 | 0 | 1 {
  return a.num < 0n ? -1 : a.num > 0n ? 1 : 0;
}

export function equals(a: Ratio, b: Ratio): boolean {
  return a.num === b.num && a.den === b.den;
}

/** Decimal places needed to write `a` exactly, or undefined when it has no finite decimal form (1/3). */
export function decimalPlaces(a: Ratio): number | undefined {
  let d = a.den;
  let twos = 0;
  let fives = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    twos++;
  }
  while (d % 5n === 0n) {
    d /= 5n;
    fives++;
  }
  return d === 1n ? Math.max(twos, fives) : undefined;
}

/** `a` written with exactly `scale` places; `a` must be exact at that scale (a multiple of 10^-scale). */
export function formatRatio(a: Ratio, scale: number): string {
  const unscaled = (a.num * 10n ** BigInt(scale)) / a.den;
  if (unscaled * a.den !== a.num * 10n ** BigInt(scale))
    throw new RangeError(`${a.num}/${a.den} has more than ${scale} decimal places`);
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
