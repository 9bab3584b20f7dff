/** Statistical process control: charts, limits, run rules, CUSUM, EWMA and their episodes (a pure library). */

export {
  type JudgedPoint,
  type ParsedSpcChartOptions,
  parseSpcChartOptions,
  SPC_CHART_DEFAULTS,
  SpcChart,
  type SpcChartOptions,
  type SpcChartUpdate,
  type SpcSample,
} from "./chart.js";
export { MAX_SUBGROUP, MIN_SUBGROUP, type SubgroupConstants, subgroupConstants } from "./constants.js";
export { parseSeriesCsv, type Series, type SeriesSample } from "./csv.js";
export { CUSUM_DEFAULTS, CUSUM_RULE, type CusumOptions, type CusumState } from "./cusum.js";
export { RANGE_RULE } from "./detector.js";
export { evaluateSeries, type SpcEpisode, type SpcEvaluation } from "./evaluate.js";
export { EWMA_DEFAULTS, EWMA_RULE, type EwmaOptions, type EwmaState } from "./ewma.js";
export { type ControlLimits, configuredLimits, individualsBaseline, subgroupBaseline } from "./limits.js";
export {
  type ChartPoint,
  NELSON_RULES,
  type RuleSelection,
  type RunRule,
  runRulesOf,
  type SpcRule,
  WESTERN_ELECTRIC_RULES,
} from "./rules.js";
export {
  type SpcEpisodeEnd,
  type SpcUpdate,
  type SpcViolation,
  violationEventFields,
} from "./violation.js";
