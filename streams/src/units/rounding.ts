/**
 * Odoo's `float_round(value, precision_rounding=step, rounding_method=…)` (odoo/tools/float_utils.py),
 * on exact ratios. Odoo normalises (`value / step`), nudges the normalised value by an epsilon scaled
 * to its magnitude — `2 ** (log2(|n|) - 52)`, i.e. `|n| × 2^-52` — and rounds it to an integer step count:
 *
 * - `UP`: `ceil(|n| − ε)`, away from zero (the ε keeps a float just above a step from costing one step);
 * - `DOWN`: `floor(|n| + ε)`, towards zero;
 * - `HALF-UP`: `round(|n| + ε)`, halves away from zero.
 *
 * The ε matters with exact arithmetic too: Odoo 16–18 store Dozens' factor as 0.08333333333333333, so
 * 2 Dozens in Units is exactly 24.0000000000000009…; a plain ceiling at 0.01 gives 24.01, Odoo (its
 * float division lands on 24.0, and the ε would absorb the error anyway) stores 24.00. Reproducing the
 * ε on the exact value gives Odoo's result wherever Odoo's own float error is below the ε — which is
 * what the ε is for; where a float computation strays further (values near 2^52 steps), Odoo's result
 * is noise and the exact one is kept: no ε above 2^50 steps, and a value already on a step is never moved.
 */
import { div, type Ratio, ratio, sign } from "./exact.js";

/** Odoo's rounding methods for quantities (`_compute_quantity` takes one; UP is its default). */
export const ROUNDING_METHODS = ["UP", "DOWN", "HALF-UP"] as const;
export type RoundingMethod = (typeof ROUNDING_METHODS)[number];

/** 2^52: Odoo's ε is |n| / 2^52. */
const EPSILON_DEN = 1n << 52n;
/** Above this many steps a double holds no fraction of a step: the ε is not applied. */
const EPSILON_LIMIT = 1n << 50n;

/** `value` rounded to a multiple of `step` (> 0) as Odoo's float_round would, exactly. */
export function roundToStep(value: Ratio, step: Ratio, method: RoundingMethod): Ratio {
  if (sign(step) <= 0) throw new RangeError("a rounding step must be positive");
  if (value.num === 0n) return value;
  const n = div(value, step);
  const s = n.num < 0n ? -1n : 1n;
  const p = s * n.num; // |n| = p / q
  const q = n.den;
  let steps: bigint;
  if (q === 1n)
    steps = p; // already on a step: Odoo's ε never moves it
  else if (p / q >= EPSILON_LIMIT) steps = roundPlain(p, q, method);
  else if (method === "UP") steps = ceilDiv(p * (EPSILON_DEN - 1n), q * EPSILON_DEN);
  else if (method === "DOWN") steps = (p * (EPSILON_DEN + 1n)) / (q * EPSILON_DEN);
  else steps = (2n * p * (EPSILON_DEN + 1n) + q * EPSILON_DEN) / (2n * q * EPSILON_DEN);
  return ratio(s * steps * step.num, step.den);
}

function roundPlain(p: bigint, q: bigint, method: RoundingMethod): bigint {
  if (method === "UP") return ceilDiv(p, q);
  if (method === "DOWN") return p / q;
  return (2n * p + q) / (2n * q);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}
