/**
 * Control chart constants for subgroups of n = 2..10 measurements, as tabulated in the NIST/SEMATECH
 * e-Handbook of Statistical Methods, section 6.3.2.1 ("Shewhart X-bar and R and S control charts",
 * https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc321.htm) and ASTM E2587:
 * - d2: the expected range of n normal observations of unit sigma, so sigma = R̄ / d2;
 * - A2 = 3 / (d2·√n): the X̄ chart's limits are X̿ ± A2·R̄;
 * - D3, D4: the R chart's limits are D3·R̄ and D4·R̄ (D3 is 0 below n = 7: no lower limit).
 * Three decimals, as published; a test checks A2 against 3 / (d2·√n) so a typo cannot hide.
 */

export interface SubgroupConstants {
  readonly n: number;
  readonly d2: number;
  readonly a2: number;
  readonly d3: number;
  readonly d4: number;
}

/** Smallest and largest subgroup size with tabulated constants. */
export const MIN_SUBGROUP = 2;
export const MAX_SUBGROUP = 10;

const TABLE: readonly SubgroupConstants[] = [
  { n: 2, d2: 1.128, a2: 1.88, d3: 0, d4: 3.267 },
  { n: 3, d2: 1.693, a2: 1.023, d3: 0, d4: 2.574 },
  { n: 4, d2: 2.059, a2: 0.729, d3: 0, d4: 2.282 },
  { n: 5, d2: 2.326, a2: 0.577, d3: 0, d4: 2.114 },
  { n: 6, d2: 2.534, a2: 0.483, d3: 0, d4: 2.004 },
  { n: 7, d2: 2.704, a2: 0.419, d3: 0.076, d4: 1.924 },
  { n: 8, d2: 2.847, a2: 0.373, d3: 0.136, d4: 1.864 },
  { n: 9, d2: 2.97, a2: 0.337, d3: 0.184, d4: 1.816 },
  { n: 10, d2: 3.078, a2: 0.308, d3: 0.223, d4: 1.777 },
];

/** The constants for subgroups of `n`, undefined outside 2..10. */
export function subgroupConstants(n: number): SubgroupConstants | undefined {
  return TABLE.find((c) => c.n === n);
}

/** d2 for the moving range of two consecutive individuals (the I-MR chart): 1.128. */
export const D2_MOVING_RANGE = 1.128;
/** D4 for the moving range of two: the MR chart's upper limit is 3.267·MR̄. */
export const D4_MOVING_RANGE = 3.267;
