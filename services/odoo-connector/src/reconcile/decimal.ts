/**
 * Quantities as exact integers of micro-units: event decimals have 6 places (the contract's scale),
 * Odoo's floats are rounded to them once. Sums never drift the way float sums do.
 */
export type Micros = bigint;

const SCALE = 1_000_000n;

/** An event decimal ("12.500000", "-3", "0.5") exactly. */
export function microsOf(decimal: string): Micros {
  const m = /^(-)?(\d+)(?:\.(\d{1,6}))?$/.exec(decimal.trim());
  if (!m) throw new RangeError(`not a decimal quantity: ${decimal}`);
  const units = BigInt(m[2] as string) * SCALE + BigInt((m[3] ?? "").padEnd(6, "0") || "0");
  return m[1] ? -units : units;
}

/** An Odoo float, rounded to micro-units (Odoo's own precision is coarser). */
export function microsOfFloat(value: unknown): Micros {
  const n = typeof value === "number" ? value : Number(value ?? 0);
  return BigInt(Math.round((Number.isFinite(n) ? n : 0) * 1e6));
}

/** "12.5", "-3", "0" — trailing zeros dropped. */
export function formatMicros(v: Micros): string {
  const sign = v < 0n ? "-" : "";
  const abs = v < 0n ? -v : v;
  const whole = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(6, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac ? `.${frac}` : ""}`;
}

/** For gauges (Prometheus values are floats anyway). */
export function toNumber(v: Micros): number {
  return Number(v) / 1e6;
}

export function sum(values: Iterable<Micros>): Micros {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

export function abs(v: Micros): Micros {
  return v < 0n ? -v : v;
}
