/**
 * EWMA chart for small shifts (Roberts 1959; NIST/SEMATECH e-Handbook 6.3.2.4,
 * https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc324.htm; Montgomery ch. 9):
 *   zᵢ = λ·xᵢ + (1 − λ)·zᵢ₋₁,  z₀ = μ₀,
 *   limits μ₀ ± L·σ·√(λ/(2 − λ)·(1 − (1 − λ)^(2i))),
 * the exact, time-varying limits: narrower for the first points, so a shift at start-up is seen early,
 * tending to the handbook's steady-state μ₀ ± L·σ·√(λ/(2 − λ)). It fires while z is beyond them.
 * λ = 0.2 and L = 3 are Montgomery's usual design (L = 2.962 would match the CUSUM's ARL; 3 is kept
 * for its plain meaning).
 */
import type { Detector } from "./detector.js";
import type { ControlLimits } from "./limits.js";
import type { ChartPoint, SpcRule } from "./rules.js";

export interface EwmaOptions {
  /** Weight of the newest point, 0 < λ ≤ 1. @default 0.2 */
  readonly lambda?: number;
  /** Width of the limits in sigmas of the EWMA statistic. @default 3 */
  readonly L?: number;
}

export const EWMA_DEFAULTS = { lambda: 0.2, L: 3 } as const satisfies Required<EwmaOptions>;

export const EWMA_RULE: SpcRule = {
  id: "ewma",
  ruleSet: "CUSTOM",
  ruleNumber: 2,
  description: "EWMA beyond its control limits (a small shift of the mean)",
};

/** The statistic and its limits after each point, for charts and tests. */
export interface EwmaState {
  readonly z: number;
  readonly lcl: number;
  readonly ucl: number;
}

export function ewmaDetector(
  limits: ControlLimits,
  options: Required<EwmaOptions>,
  onState?: (state: EwmaState) => void,
): Detector {
  const { lambda, L } = options;
  const rule = { ...EWMA_RULE, description: `${EWMA_RULE.description}: lambda = ${lambda}, L = ${L}` };
  let z = limits.center;
  let i = 0;
  return {
    rule,
    next(history) {
      const p = history.at(-1) as ChartPoint;
      i += 1;
      z = lambda * p.value + (1 - lambda) * z;
      const half = L * limits.sigma * Math.sqrt((lambda / (2 - lambda)) * (1 - (1 - lambda) ** (2 * i)));
      const state = { z, lcl: limits.center - half, ucl: limits.center + half };
      onState?.(state);
      if (z <= state.ucl && z >= state.lcl) return null;
      return { points: [p], center: limits.center, lcl: state.lcl, ucl: state.ucl, statistic: z };
    },
  };
}
