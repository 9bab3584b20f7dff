/**
 * The quality plan (the QUALITY_CONFIG file, JSON or YAML): which characteristics are charted, with
 * which limits and rules, their specification limits, and the hold policy — which SPC violations and
 * nonconformances place a hold, on which lots. Checked once at start; an entry that is wrong is named
 * by its path (`characteristics[2].limits.sigma`) and the service does not start.
 *
 * ```yaml
 * characteristics:
 *   - id: filler-temperature            # the chart's name: [a-z0-9._-]
 *     source: telemetry                 # a machine tag (TelemetrySampled)…
 *     equipment: { site: plant-lyon, line: line-1, machine: filler }
 *     tag: temperature
 *     limits: { mean: 72, sigma: 0.4 }  # configured; or `baseline: 25` (phase I, then frozen)
 *     rules: nelson                     # Nelson numbers [1, 2, 5], "nelson" or "western-electric"
 *     cusum: true
 *   - id: bore-diameter
 *     source: inspection                # …or an inspection characteristic of a product (InspectionRecorded)
 *     product: BRK-220
 *     characteristic: bore-diameter
 *     subgroupSize: 5                   # X̄–R: an inspection's measured values are one subgroup
 *     spec: { lower: 11.95, upper: 12.05, unit: mm }
 * holdPolicy:
 *   spc: { rules: any, scope: { forward: true, backward: false, depth: 10 } }
 *   nonconformance: { minSeverity: MAJOR, scope: { forward: true } }
 * ```
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { QualityError, QualityErrorCode } from "./errors.js";
import { parseSpcChartOptions, type SpcChartOptions } from "./spc/index.js";

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be 1-64 of a-z, 0-9, '.', '_', '-'");
const token = z.string().min(1, "must not be empty");

/** Which lots a hold covers besides the lot itself. */
const Scope = z
  .strictObject({
    /** Also hold the lots made from it (the genealogy's forward trace). @default true */
    forward: z.boolean().default(true),
    /** Also hold the lots it was made from (the backward trace): for a defect that came in. @default false */
    backward: z.boolean().default(false),
    /** Edges to follow at most. @default 10 */
    depth: z.number().int().min(1).max(50).default(10),
  })
  .default({ forward: true, backward: false, depth: 10 });
export type HoldScope = z.infer<typeof Scope>;

const ChartFields = {
  subgroupSize: z.number().int().min(1).max(10).optional(),
  limits: z.strictObject({ mean: z.number(), sigma: z.number().positive() }).optional(),
  baseline: z.number().int().min(2).max(10_000).optional(),
  rules: z
    .union([z.array(z.number().int().min(1).max(8)).min(1), z.enum(["nelson", "western-electric"])])
    .optional(),
  cusum: z
    .union([
      z.boolean(),
      z.strictObject({ k: z.number().min(0).optional(), h: z.number().positive().optional() }),
    ])
    .optional(),
  ewma: z
    .union([
      z.boolean(),
      z.strictObject({ lambda: z.number().gt(0).max(1).optional(), L: z.number().positive().optional() }),
    ])
    .optional(),
  range: z.boolean().optional(),
  /** Specification limits: a value outside raises a nonconformance (inspections). */
  spec: z
    .strictObject({ lower: z.number().optional(), upper: z.number().optional(), unit: z.string().optional() })
    .refine(
      (s) => s.lower === undefined || s.upper === undefined || s.lower < s.upper,
      "lower must be below upper",
    )
    .optional(),
  /** Whether this chart's violations may place holds (the policy decides which). @default true */
  holds: z.boolean().default(true),
};

const TelemetryCharacteristic = z.strictObject({
  id: name,
  source: z.literal("telemetry"),
  equipment: z.strictObject({ site: token, line: token, machine: token }),
  tag: token,
  ...ChartFields,
});

const InspectionCharacteristic = z.strictObject({
  id: name,
  source: z.literal("inspection"),
  /** The product's internal reference. */
  product: token,
  /** The inspection characteristic, as InspectionRecorded names it. */
  characteristic: token,
  ...ChartFields,
});

const SEVERITIES = ["MINOR", "MAJOR", "CRITICAL"] as const;

const PlanSchema = z.strictObject({
  characteristics: z
    .array(z.discriminatedUnion("source", [TelemetryCharacteristic, InspectionCharacteristic]))
    .default([]),
  holdPolicy: z
    .strictObject({
      spc: z
        .strictObject({
          /** Rule ids that place a hold ("nelson-1", "we-2", "cusum", "ewma", "range"), or any. @default "any" */
          rules: z
            .union([
              z.literal("any"),
              z.literal("none"),
              z.array(
                z
                  .string()
                  .regex(
                    /^(nelson-[1-8]|we-[1-4]|cusum|ewma|range)$/,
                    "must be nelson-1..8, we-1..4, cusum, ewma or range",
                  ),
              ),
            ])
            .default("any"),
          scope: Scope,
        })
        .default({ rules: "any", scope: { forward: true, backward: false, depth: 10 } }),
      nonconformance: z
        .strictObject({
          /** The least severity that places a hold. @default "MAJOR" */
          minSeverity: z.enum([...SEVERITIES, "NONE"]).default("MAJOR"),
          scope: Scope,
        })
        .default({ minSeverity: "MAJOR", scope: { forward: true, backward: false, depth: 10 } }),
    })
    .default({
      spc: { rules: "any", scope: { forward: true, backward: false, depth: 10 } },
      nonconformance: { minSeverity: "MAJOR", scope: { forward: true, backward: false, depth: 10 } },
    }),
});

export type TelemetryCharacteristic = z.infer<typeof TelemetryCharacteristic>;
export type InspectionCharacteristic = z.infer<typeof InspectionCharacteristic>;
export type Characteristic = TelemetryCharacteristic | InspectionCharacteristic;
export type QualityPlan = z.infer<typeof PlanSchema>;
export type Severity = (typeof SEVERITIES)[number];

/** The chart options of a characteristic (the same options the CLI builds from its flags). */
export function chartOptionsOf(c: Characteristic): SpcChartOptions {
  return {
    ...(c.subgroupSize !== undefined ? { subgroupSize: c.subgroupSize } : {}),
    ...(c.limits ? { limits: c.limits } : {}),
    ...(c.baseline !== undefined ? { baseline: c.baseline } : {}),
    ...(c.rules !== undefined ? { rules: c.rules } : {}),
    ...(c.cusum !== undefined ? { cusum: c.cusum } : {}),
    ...(c.ewma !== undefined ? { ewma: c.ewma } : {}),
    ...(c.range !== undefined ? { range: c.range } : {}),
  };
}

/** The plan of a parsed document (tests, the demo); QUALITY_CONFIG_INVALID naming the entry. */
export function parsePlan(document: unknown, where = "QUALITY_CONFIG"): QualityPlan {
  const parsed = PlanSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.reduce<string>(
      (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
      "",
    );
    throw new QualityError(
      QualityErrorCode.ConfigInvalid,
      `${where}: ${path || "(the document)"} ${issue?.message ?? "is invalid"}`,
    );
  }
  const plan = parsed.data;
  const seen = new Set<string>();
  const keys = new Set<string>();
  plan.characteristics.forEach((c, i) => {
    if (seen.has(c.id))
      throw new QualityError(
        QualityErrorCode.ConfigInvalid,
        `${where}: characteristics[${i}].id ${c.id} is given twice`,
      );
    seen.add(c.id);
    const key = characteristicKey(c);
    if (keys.has(key))
      throw new QualityError(
        QualityErrorCode.ConfigInvalid,
        `${where}: characteristics[${i}] charts ${key} a second time`,
      );
    keys.add(key);
    try {
      parseSpcChartOptions(chartOptionsOf(c));
    } catch (err) {
      throw new QualityError(
        QualityErrorCode.ConfigInvalid,
        `${where}: characteristics[${i}] (${c.id}): ${(err as Error).message}`,
      );
    }
  });
  return plan;
}

/** Reads QUALITY_CONFIG (JSON, or YAML by its extension); no file: the empty plan and the default policy. */
export function loadPlan(path: string | undefined): QualityPlan {
  if (!path) return parsePlan({});
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new QualityError(
      QualityErrorCode.ConfigInvalid,
      `QUALITY_CONFIG ${path} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let document: unknown;
  try {
    document = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new QualityError(
      QualityErrorCode.ConfigInvalid,
      `QUALITY_CONFIG ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return parsePlan(document, `QUALITY_CONFIG ${path}`);
}

/** What a characteristic charts, as one string: `telemetry site/line/machine tag` or `inspection product characteristic`. */
export function characteristicKey(c: Characteristic): string {
  return c.source === "telemetry"
    ? telemetryKey(c.equipment.site, c.equipment.line, c.equipment.machine, c.tag)
    : inspectionKey(c.product, c.characteristic);
}

export const telemetryKey = (site: string, line: string, machine: string, tag: string) =>
  `telemetry ${site}/${line}/${machine} ${tag}`;
export const inspectionKey = (product: string, characteristic: string) =>
  `inspection ${product} ${characteristic}`;

const RANK: Record<Severity, number> = { MINOR: 0, MAJOR: 1, CRITICAL: 2 };

/** Whether a nonconformance of this severity places a hold under the policy. */
export function severityHolds(plan: QualityPlan, severity: Severity): boolean {
  const min = plan.holdPolicy.nonconformance.minSeverity;
  return min !== "NONE" && RANK[severity] >= RANK[min];
}

/** Whether a violation of this rule (its id, e.g. "nelson-2") places a hold under the policy. */
export function ruleHolds(plan: QualityPlan, ruleId: string): boolean {
  const rules = plan.holdPolicy.spc.rules;
  return rules === "any" || (rules !== "none" && rules.includes(ruleId));
}
