/**
 * `threadline quality`: the quality service for the people and systems around it, and SPC offline.
 *
 * `inspect`, `holds`, `hold`, `release` and `reconcile` call the running quality service's HTTP API
 * (services/quality-service/src/http.ts) at --url ($QUALITY_URL, else http://127.0.0.1:9480) with the
 * bearer token of $QUALITY_TOKEN or --token-file, as one of the service's users (QUALITY_USERS_FILE):
 * the service checks the user's role and records who did what. `reconcile` also asks Odoo, when its
 * settings are given as to the Odoo connector (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY), whether
 * every hold has its quality alert. `token` makes a user's token and its users-file entry, offline.
 * Exit codes: 0 done (reconcile: nothing to report), 1 refused, unknown hold, service unreachable
 * (reconcile: something listed), 2 usage error.
 *
 * `threadline quality spc --input series.csv [--limits mean,sigma | --baseline N] [--rules …] [--cusum]
 * [--ewma] [--range] [--json]`: evaluates a recorded series offline, for quality engineers tuning a
 * characteristic's rules on history. The series goes through the quality service's own SPC engine
 * (services/quality-service/src/spc), point by point, so every violation printed is an episode the
 * service would have published. Without --limits or --baseline the limits come from the whole series
 * (a phase I study). Exit codes: 0 evaluated (violations found or not), 1 the file is unreadable or has
 * a bad row (named by line), 2 usage error.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { OdooSettings, odooClientOptions } from "../../services/odoo-connector/src/config.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { holdTitle } from "../../services/odoo-connector/src/outbound/quality.js";
import {
  evaluateSeries,
  parseSeriesCsv,
  type RuleSelection,
  type SeriesSample,
  type SpcChartOptions,
  type SpcEpisode,
} from "../../services/quality-service/src/spc/index.js";
import { ROLES, type Role, tokenDigest } from "../../services/quality-service/src/users.js";
import { loadConfig } from "../../streams/src/index.js";
import { table } from "./dlq.js";
import { QUALITY_CLIENT_DEFAULTS, QualityClient, type QualityConnectionFlags } from "./quality-client.js";
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
  const cmd = new Command("quality").description(
    "the quality service: record inspections, list, place and decide holds, reconcile with deliveries and Odoo; users' tokens; SPC offline",
  );
  serviceCommands(cmd);
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

// ---- the quality service's API ----

const print = (text: string) => process.stdout.write(text);
const printJson = (value: unknown) => print(`${JSON.stringify(value, null, 2)}\n`);

/** A hold as the API answers it (services/quality-service/src/api.ts). */
interface HoldView {
  holdId: string;
  site: string;
  lot: string;
  product: { code: string; name: string | null };
  reason: string;
  placedBy: string;
  placedAt: string;
  status: "ACTIVE" | "RELEASED" | "REJECTED";
  decision: { status: string; reason: string; by: string; at: string } | null;
}

interface InspectionAnswer {
  eventId: string;
  inspectionId: string;
  result: "PASS" | "FAIL";
  outOfSpec: number[];
  nonconformance: string | null;
}

interface ReconcileAnswer {
  escapes: {
    escapeId: string;
    lot: string;
    product: string;
    pickingRef: string | null;
    holdIds: string[];
    postedAt: string;
  }[];
  holds: { holdId: string; lot: string; product: string; status: HoldView["status"]; placedAt: string }[];
}

/** The connection flags every subcommand that calls the service takes. */
function connection(cmd: Command): Command {
  return cmd
    .option("--url <url>", `the quality service (default: $QUALITY_URL, else ${QUALITY_CLIENT_DEFAULTS.url})`)
    .option("--token-file <file>", "a file holding your bearer token (default: $QUALITY_TOKEN)");
}

/** A number from a flag. @throws UsageError naming the flag */
function numberFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(n))
    throw new UsageError(`${flag} must be a number (got "${text}")`);
  return n;
}

/** `--values 12.01,11.99`. @throws UsageError naming the value that is not a number */
export function parseValuesFlag(text: string): number[] {
  const parts = text.split(",").map((p) => p.trim());
  parts.forEach((p, i) => {
    if (p === "" || !Number.isFinite(Number(p)))
      throw new UsageError(
        `--values: "${p}" (value ${i + 1}) is not a number; give the measurements separated by commas, e.g. 12.01,11.99`,
      );
  });
  return parts.map(Number);
}

/** `--depth n` (1–50, as the API takes it). */
function depthFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 50)
    throw new UsageError(`--depth must be an integer from 1 to 50 (got ${text})`);
  return Number(text);
}

/** `--grace 10m`: a duration in s, m, h or d, in milliseconds. */
function durationFlag(flag: string, text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a duration such as 0s, 10m, 2h or 1d (got "${text}")`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");

function holdsTable(holds: readonly HoldView[]): string {
  return table(
    ["HOLD", "LOT", "PRODUCT", "STATUS", "PLACED AT", "PLACED BY", "REASON"],
    holds.map((h) => [
      h.holdId,
      h.lot,
      h.product.code,
      h.status,
      when(h.placedAt),
      h.placedBy,
      h.decision
        ? `${h.reason} — ${h.decision.status.toLowerCase()} by ${h.decision.by}: ${h.decision.reason}`
        : h.reason,
    ]),
  );
}

/** The API's body fields of an inspection → the flags of `inspect`. */
const INSPECT_FLAGS = {
  site: "--site",
  lot: "--lot",
  product: "--product",
  characteristic: "--characteristic",
  measuredValues: "--values",
  unit: "--unit",
  lowerSpecLimit: "--lsl",
  upperSpecLimit: "--usl",
  result: "--result",
  orderRef: "--order",
} as const;

function serviceCommands(cmd: Command): void {
  connection(
    cmd
      .command("inspect")
      .description(
        "record an inspection's measurements (a lab, a quality engineer): published as InspectionRecorded; a result out of specification raises a nonconformance and may hold the lot",
      )
      .requiredOption("--site <site>", "the site, e.g. lyon")
      .requiredOption("--lot <lot>", "the lot inspected")
      .requiredOption("--product <code>", "the lot's product code")
      .requiredOption("--characteristic <name>", "what was measured, e.g. bore")
      .option("--values <v1,v2,…>", "the measurements, separated by commas (e.g. 12.01,11.99)")
      .option("--unit <unit>", "their unit (default: the charted characteristic's)")
      .option("--lsl <x>", "lower specification limit (default: the charted characteristic's)")
      .option("--usl <y>", "upper specification limit (default: the charted characteristic's)")
      .addOption(
        new Option(
          "--result <result>",
          "the result, for an attribute inspection (default: judged from the limits)",
        ).choices(["PASS", "FAIL"]),
      )
      .option("--order <ref>", "the production order the lot was made by")
      .option("--json", "print the service's answer as JSON"),
  ).action(
    action(
      async (
        opts: QualityConnectionFlags & {
          site: string;
          lot: string;
          product: string;
          characteristic: string;
          values?: string;
          unit?: string;
          lsl?: string;
          usl?: string;
          result?: "PASS" | "FAIL";
          order?: string;
          json?: boolean;
        },
      ) => {
        const values = opts.values === undefined ? [] : parseValuesFlag(opts.values);
        const lsl = numberFlag("--lsl", opts.lsl);
        const usl = numberFlag("--usl", opts.usl);
        if (values.length === 0 && opts.result === undefined)
          throw new UsageError(
            "give the measurements (--values 12.01,11.99) or, for an attribute inspection, --result PASS|FAIL",
          );
        if (lsl !== undefined && usl !== undefined && lsl >= usl)
          throw new UsageError(`--lsl ${lsl} must be below --usl ${usl}`);
        const client = QualityClient.fromFlags(opts);
        const answer = await client.post<InspectionAnswer>(
          "/quality/inspections",
          {
            site: opts.site,
            lot: opts.lot,
            product: opts.product,
            characteristic: opts.characteristic,
            measuredValues: values,
            ...(opts.unit !== undefined ? { unit: opts.unit } : {}),
            ...(lsl !== undefined ? { lowerSpecLimit: lsl } : {}),
            ...(usl !== undefined ? { upperSpecLimit: usl } : {}),
            ...(opts.result !== undefined ? { result: opts.result } : {}),
            ...(opts.order !== undefined ? { orderRef: opts.order } : {}),
          },
          { flags: INSPECT_FLAGS },
        );
        if (opts.json) printJson(answer);
        else {
          print(
            `recorded ${answer.inspectionId} of lot ${opts.lot} (${opts.product}) ${opts.characteristic}: ${answer.result} (event ${answer.eventId})\n`,
          );
          if (answer.outOfSpec.length > 0)
            print(`out of specification (${answer.outOfSpec.length}): ${answer.outOfSpec.join(", ")}\n`);
          if (answer.nonconformance) print(`${answer.nonconformance}\n`);
        }
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("holds")
      .description(
        "list quality holds (active by default): hold id, lot, product, status, when and by whom, why",
      )
      .addOption(
        new Option("--status <status>", "which holds")
          .choices(["active", "released", "rejected", "all"])
          .default("active"),
      )
      .option("--lot <lot>", "only the holds of this lot")
      .option("--product <code>", "only the holds of this product")
      .option("--json", "print the holds as JSON"),
  ).action(
    action(
      async (
        opts: QualityConnectionFlags & { status: string; lot?: string; product?: string; json?: boolean },
      ) => {
        const client = QualityClient.fromFlags(opts);
        const { holds } = await client.get<{ holds: HoldView[] }>("/quality/holds", {
          status: opts.status,
          lot: opts.lot,
          product: opts.product,
        });
        if (opts.json) printJson(holds);
        else if (holds.length === 0) print(`no ${opts.status === "all" ? "" : `${opts.status} `}holds\n`);
        else print(holdsTable(holds));
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("hold")
      .description(
        "place a hold by hand on a lot and, through the genealogy, on the lots made of it (--forward, the service's policy by default) or it was made of (--backward)",
      )
      .requiredOption("--site <site>", "the site of the lot")
      .requiredOption("--lot <lot>", "the lot to hold")
      .requiredOption("--product <code>", "the lot's product code")
      .requiredOption(
        "--reason <text>",
        "why: shown in the hold, in Odoo's quality alert and to whoever decides it",
      )
      .option("--forward", "also hold the lots made of it (the default)")
      .option("--no-forward", "not the lots made of it")
      .option("--backward", "also hold the lots it was made of")
      .option("--depth <n>", "genealogy edges to follow at most (1-50, default 10)")
      .option("--json", "print the holds placed as JSON"),
  ).action(
    action(
      async (
        opts: QualityConnectionFlags & {
          site: string;
          lot: string;
          product: string;
          reason: string;
          forward?: boolean;
          backward?: boolean;
          depth?: string;
          json?: boolean;
        },
      ) => {
        const depth = depthFlag(opts.depth);
        const scoped = opts.forward !== undefined || opts.backward !== undefined || depth !== undefined;
        const client = QualityClient.fromFlags(opts);
        const answer = await client.post<{ holds: HoldView[]; scopeError: string | null }>(
          "/quality/holds",
          {
            site: opts.site,
            lot: opts.lot,
            product: opts.product,
            reason: opts.reason,
            ...(scoped
              ? {
                  scope: {
                    ...(opts.forward !== undefined ? { forward: opts.forward } : {}),
                    ...(opts.backward !== undefined ? { backward: opts.backward } : {}),
                    ...(depth !== undefined ? { depth } : {}),
                  },
                }
              : {}),
          },
          {
            flags: {
              site: "--site",
              lot: "--lot",
              product: "--product",
              reason: "--reason",
            },
          },
        );
        if (opts.json) printJson(answer);
        else {
          print(`placed ${answer.holds.length} hold${answer.holds.length === 1 ? "" : "s"}:\n`);
          print(holdsTable(answer.holds));
        }
        if (answer.scopeError) {
          process.stderr.write(
            `threadline: lot ${opts.lot} is on hold, but the lots made of it or it was made of could not be followed: ${answer.scopeError}\n`,
          );
          return EXIT.failed;
        }
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("release")
      .description(
        "decide a hold, with a comment kept in the audit trail: release it (the default), or reject it for scrap, rework or return",
      )
      .argument("<holdId>", "the hold, e.g. H-0123456789abcdef0123 (threadline quality holds)")
      .option("--comment <text>", "why (required): what was checked, what was found")
      .addOption(
        new Option("--disposition <disposition>", "what becomes of the lot")
          .choices(["release", "scrap", "rework", "return"])
          .default("release"),
      )
      .option("--json", "print the decided hold as JSON"),
  ).action(
    action(
      async (
        holdId: string,
        opts: QualityConnectionFlags & { comment?: string; disposition: string; json?: boolean },
      ) => {
        if (opts.comment === undefined || opts.comment.trim() === "")
          throw new UsageError(
            `--comment is required: say why hold ${holdId} is ${opts.disposition === "release" ? "released" : `rejected for ${opts.disposition}`} (it is kept in the audit trail)`,
          );
        const client = QualityClient.fromFlags(opts);
        const hold = await client.post<HoldView>(
          `/quality/holds/${encodeURIComponent(holdId)}/decision`,
          { disposition: opts.disposition, comment: opts.comment },
          { holdId, flags: { comment: "--comment", disposition: "--disposition", holdId: "<holdId>" } },
        );
        if (opts.json) printJson(hold);
        else
          print(
            `hold ${hold.holdId} on lot ${hold.lot} (${hold.product.code}) ${hold.status.toLowerCase()}${opts.disposition === "release" ? "" : ` for ${opts.disposition}`} by ${hold.decision?.by ?? "?"}: ${opts.comment.trim()}\n`,
          );
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("reconcile")
      .description(
        "list the lots delivered while on hold (escapes) and, with Odoo's settings (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY), the holds without their quality alert in Odoo; exit 1 when anything is listed",
      )
      .option(
        "--grace <duration>",
        "holds placed more recently than this are not looked for in Odoo yet (the connector is posting them)",
        "10m",
      )
      .option("--json", "print the findings as JSON"),
  ).action(
    action(async (opts: QualityConnectionFlags & { grace: string; json?: boolean }) => {
      const graceMs = durationFlag("--grace", opts.grace);
      const odoo = odooSettings();
      const client = QualityClient.fromFlags(opts);
      const answer = await client.get<ReconcileAnswer>("/quality/reconcile");
      const cutoff = Date.now() - graceMs;
      const expected = answer.holds.filter(
        (h) => h.status !== "RELEASED" && Date.parse(h.placedAt) <= cutoff,
      );
      const missing = odoo ? await holdsWithoutAlert(odoo, expected) : null;
      const findings = answer.escapes.length + (missing?.length ?? 0);
      if (opts.json) {
        printJson({
          escapes: answer.escapes,
          odoo: odoo
            ? { checked: expected.length, missingAlerts: missing }
            : { skipped: "no Odoo settings (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY)" },
          reconciled: findings === 0,
        });
        return findings === 0 ? EXIT.ok : EXIT.failed;
      }
      if (answer.escapes.length === 0) print("escapes: none (no lot delivered while on hold)\n");
      else {
        print(`escapes (${answer.escapes.length}): lots delivered while on hold\n`);
        print(
          table(
            ["LOT", "PRODUCT", "DELIVERY", "DELIVERED AT", "HOLDS"],
            answer.escapes.map((e) => [
              e.lot,
              e.product,
              e.pickingRef ?? "-",
              when(e.postedAt),
              e.holdIds.join(" "),
            ]),
          ),
        );
      }
      if (!odoo)
        print(
          "Odoo: check skipped (no Odoo settings: set ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY to compare)\n",
        );
      else if (missing?.length === 0)
        print(`Odoo: every hold has its quality alert (${expected.length} active or rejected checked)\n`);
      else {
        print(`holds without their quality alert in Odoo (${missing?.length}):\n`);
        print(
          table(
            ["HOLD", "LOT", "PRODUCT", "STATUS", "PLACED AT"],
            (missing ?? []).map((h) => [h.holdId, h.lot, h.product, h.status, when(h.placedAt)]),
          ),
        );
      }
      print(findings === 0 ? "reconciled\n" : `${findings} finding${findings === 1 ? "" : "s"}\n`);
      return findings === 0 ? EXIT.ok : EXIT.failed;
    }),
  );

  cmd
    .command("token")
    .description(
      "make a bearer token for a user of the quality API: prints the token once, and the entry (its SHA-256, not the token) to add to the service's QUALITY_USERS_FILE",
    )
    .requiredOption("--name <name>", "the user: a person (alice) or a system (lims-lyon)")
    .requiredOption(
      "--roles <roles>",
      `what it may do, comma-separated: ${ROLES.join(", ")} (every role implies read)`,
    )
    .option("--json", "print the token and the entry as JSON")
    .action(
      action(async (opts: { name: string; roles: string; json?: boolean }) => {
        if (!/^[A-Za-z0-9@._-]{1,64}$/.test(opts.name))
          throw new UsageError(
            `--name must be 1-64 of letters, digits, '@', '.', '_', '-' (got "${opts.name}")`,
          );
        const roles = [...new Set(opts.roles.split(",").map((r) => r.trim()))];
        for (const r of roles)
          if (!(ROLES as readonly string[]).includes(r))
            throw new UsageError(`--roles: "${r}" is not a role (${ROLES.join(", ")})`);
        const token = randomBytes(32).toString("base64url");
        const entry = { name: opts.name, tokenSha256: tokenDigest(token), roles: roles as Role[] };
        if (opts.json) printJson({ token, entry });
        else
          print(
            `token for ${opts.name} (shown once: give it to them, e.g. for $QUALITY_TOKEN; it is not stored anywhere):\n${token}\n\nadd to the "users" of QUALITY_USERS_FILE, then restart the quality service:\n${JSON.stringify(entry)}\n`,
          );
        return EXIT.ok;
      }),
    );
}

/** Odoo's settings from the environment, as the connector reads them; undefined when ODOO_URL is not set. */
function odooSettings(): OdooSettings | undefined {
  if (!process.env["ODOO_URL"]) return undefined;
  return loadConfig(OdooSettings, { env: process.env, file: "" });
}

/** The holds whose quality alert (`Quality hold <holdId>`, as the connector titles it) Odoo lacks. */
async function holdsWithoutAlert<H extends { holdId: string }>(
  settings: OdooSettings,
  holds: readonly H[],
): Promise<H[]> {
  if (holds.length === 0) return [];
  const odoo = await OdooClient.connect(odooClientOptions(settings));
  try {
    return await missingAlerts(odoo, holds);
  } catch (err) {
    throw new CommandFailed(
      `the Odoo check failed: ${settings.ODOO_URL} as ${settings.ODOO_LOGIN} cannot list quality alerts (the user needs Quality / User): ${(err as Error).message}`,
    );
  } finally {
    await odoo.close();
  }
}

/** The holds without an alert of their title, asked 200 titles at a time. */
async function missingAlerts<H extends { holdId: string }>(
  odoo: OdooClient,
  holds: readonly H[],
): Promise<H[]> {
  const found = new Set<string>();
  for (let i = 0; i < holds.length; i += 200) {
    const titles = holds.slice(i, i + 200).map((h) => holdTitle(h.holdId));
    const rows = await odoo.searchRead<{ title: string }>("quality.alert", [["title", "in", titles]], {
      fields: ["title"],
    });
    for (const r of rows) found.add(r.title);
  }
  return holds.filter((h) => !found.has(holdTitle(h.holdId)));
}
