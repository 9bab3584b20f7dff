/**
 * `threadline quality spc --input series.csv [--limits mean,sigma | --baseline N] [--rules …] [--cusum]
 * [--ewma] [--range] [--json]`: evaluates a recorded series offline, for quality engineers tuning a
 * characteristic's rules on history. The series goes through the quality service's own SPC engine
 * (services/quality-service/src/spc), point by point, so every violation printed is an episode the
 * service would have published. Without --limits or --baseline the limits come from the whole series
 * (a phase I study). Exit codes: 0 evaluated (violations found or not), 1 the file is unreadable or has
 * a bad row (named by line), 2 usage error.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import {
  evaluateSeries,
  parseSeriesCsv,
  type RuleSelection,
  type SeriesSample,
  type SpcChartOptions,
  type SpcEpisode,
} from "../../services/quality-service/src/spc/index.js";
import { table } from "./dlq.js";
import { action, CommandFailed, EXIT, UsageError } from "./run.js";

interface SpcFlags {
  input: string;
  limits?: string;
  baseline?: string;
  rules?: string;
  cusum?: boolean;
  ewma?: boolean;
  range?: boolean;
  json?: boolean;
}

/** `--rules 1,2,5`, `--rules nelson`, `--rules western-electric`. */
export function parseRulesFlag(text: string): RuleSelection {
  const t = text.trim().toLowerCase();
  if (t === "nelson" || t === "western-electric") return t;
  const numbers = t.split(",").map((s) => s.trim());
  if (numbers.some((n) => !/^[1-8]$/.test(n)))
    throw new UsageError(
      `--rules takes Nelson rule numbers 1..8 (e.g. 1,2,5), "nelson" or "western-electric", got "${text}"`,
    );
  return numbers.map(Number);
}

/** `--limits mean,sigma`. */
export function parseLimitsFlag(text: string): { mean: number; sigma: number } {
  const parts = text.split(",").map((s) => s.trim());
  const [mean, sigma] = parts.map(Number) as [number, number];
  if (parts.length !== 2 || parts.some((p) => p === "") || !Number.isFinite(mean) || !(sigma > 0))
    throw new UsageError(`--limits takes "mean,sigma" with a positive sigma (e.g. 10.5,0.2), got "${text}"`);
  return { mean, sigma };
}

function chartOptions(flags: SpcFlags, count: number, subgroupSize: number): SpcChartOptions {
  if (flags.limits !== undefined && flags.baseline !== undefined)
    throw new UsageError("--limits and --baseline conflict: give configured limits or a baseline, not both");
  const unit = subgroupSize === 1 ? "points" : "subgroups";
  let baseline: number | undefined;
  if (flags.baseline !== undefined) {
    if (!/^\d+$/.test(flags.baseline.trim()) || Number(flags.baseline) < 2)
      throw new UsageError(`--baseline takes a number of ${unit} of at least 2, got "${flags.baseline}"`);
    baseline = Number(flags.baseline);
    if (baseline > count)
      throw new UsageError(`--baseline ${baseline} needs ${baseline} ${unit}, the file has ${count}`);
  }
  return {
    subgroupSize,
    ...(flags.limits !== undefined
      ? { limits: parseLimitsFlag(flags.limits) }
      : { baseline: baseline ?? count }),
    rules: parseRulesFlag(flags.rules ?? "1"),
    cusum: flags.cusum === true,
    ewma: flags.ewma === true,
    range: flags.range === true,
  };
}

const num = (v: number) => String(Number(v.toPrecision(6)));

/** An episode as printed with --json. */
function episodeJson(e: SpcEpisode, samples: readonly SeriesSample[]) {
  return {
    index: e.index,
    line: samples[e.index]?.line ?? null,
    time: e.time.toISOString(),
    rule: e.rule.id,
    ruleSet: e.rule.ruleSet,
    ruleNumber: e.rule.ruleNumber,
    description: e.rule.description,
    value: e.value,
    statistic: e.statistic,
    centerLine: e.centerLine,
    lowerControlLimit: e.lowerControlLimit,
    upperControlLimit: e.upperControlLimit,
    endIndex: e.endIndex,
    points: e.points.map((p) => ({ index: p.index, time: p.time.toISOString(), value: p.value })),
  };
}

export function qualityCommand(): Command {
  const cmd = new Command("quality").description("quality engineering: statistical process control offline");
  cmd
    .command("spc")
    .description(
      "evaluate a series (CSV: time,value or time,value,subgroup) with the SPC rules the quality service runs; prints every violation episode",
    )
    .requiredOption("-i, --input <file>", "the series, a CSV file with a header")
    .option("--limits <mean,sigma>", "configured limits: the process mean and the sigma of one measurement")
    .option(
      "--baseline <n>",
      "phase I: limits from the first n points (or subgroups), then frozen (default: all)",
    )
    .option("--rules <rules>", 'Nelson rule numbers (e.g. 1,2,5), "nelson" or "western-electric"', "1")
    .option("--cusum", "add the tabular CUSUM (k = 0.5, h = 5 sigma)")
    .option("--ewma", "add the EWMA (lambda = 0.2, L = 3)")
    .option("--range", "add the range chart's test (moving range or subgroup range beyond its limits)")
    .option("--json", "print JSON (the limits and every episode with its points)")
    .action(
      action(async (flags: SpcFlags) => {
        // Flags are checked before the file is read: a usage error never depends on the file.
        if (flags.rules !== undefined) parseRulesFlag(flags.rules);
        if (flags.limits !== undefined) parseLimitsFlag(flags.limits);
        let text: string;
        try {
          text = readFileSync(flags.input, "utf8");
        } catch (cause) {
          throw new CommandFailed(`cannot read ${flags.input}: ${(cause as Error).message}`);
        }
        const series = parseSeriesCsv(text, flags.input);
        const result = evaluateSeries(
          series.samples,
          chartOptions(flags, series.samples.length, series.subgroupSize),
        );
        const limits = result.limits;
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({ limits, violations: result.episodes.map((e) => episodeJson(e, series.samples)) }, null, 2)}\n`,
          );
          return EXIT.ok;
        }
        if (limits)
          process.stdout.write(
            `${series.subgroupSize === 1 ? "individuals (I-MR)" : `X̄–R, subgroups of ${series.subgroupSize}`}, limits ${limits.source === "configured" ? "configured" : `from a baseline of ${flags.baseline ?? series.samples.length}`}: center ${num(limits.center)}, LCL ${num(limits.lcl)}, UCL ${num(limits.ucl)}, sigma ${num(limits.sigma)}\n`,
          );
        if (result.episodes.length === 0) {
          process.stdout.write(`no violation in ${series.samples.length} points\n`);
          return EXIT.ok;
        }
        process.stdout.write(
          table(
            ["INDEX", "LINE", "TIME", "RULE", "VALUE", "ENDED AT", "DESCRIPTION"],
            result.episodes.map((e) => [
              String(e.index),
              String(series.samples[e.index]?.line ?? "-"),
              e.time.toISOString(),
              e.rule.id,
              num(e.value),
              e.endIndex === null ? "-" : String(e.endIndex),
              e.rule.description,
            ]),
          ),
        );
        return EXIT.ok;
      }),
    );
  return cmd;
}
