/**
 * `threadline metrics`: the SDK's metrics from their catalogue (SDK_METRICS in streams/src/metrics.ts).
 * `--markdown` prints the generated part of docs/metrics.md; `--update docs/metrics.md` rewrites that
 * part in place. The services' tables around it stay hand-written (test/streams/metrics-doc.test.ts
 * checks their names and labels against the services' registries).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { type LabelValues, SDK_METRICS, type SdkMetricEntry } from "../../streams/src/index.js";
import { action, CommandFailed, EXIT } from "./run.js";

/** The markers around the generated part of docs/metrics.md. */
export const METRICS_BEGIN =
  "<!-- BEGIN generated from SDK_METRICS (streams/src/metrics.ts) by `threadline metrics --update docs/metrics.md`: do not edit -->";
export const METRICS_END = "<!-- END generated -->";

const entries = () => Object.entries(SDK_METRICS) as [string, SdkMetricEntry][];
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
const enumerated = (v: LabelValues): v is Readonly<Record<string, string>> => typeof v === "object";

/** The SDK table, then one table of values per enumerated label, between the markers. */
export function renderSdkMetrics(): string {
  const lines = [
    METRICS_BEGIN,
    "",
    "| metric | type | labels | meaning |",
    "|---|---|---|---|",
    ...entries().map(([name, m]) => {
      const labels = m.labels
        .map((l) => {
          const v = m.values[l];
          return `\`${l}\`${v === "error-code" ? " (an error code)" : ""}`;
        })
        .join(", ");
      return `| \`${name}\` | ${m.type} | ${labels || "—"} | ${cell(m.meaning)} |`;
    }),
  ];
  for (const [name, m] of entries())
    for (const label of m.labels) {
      const values = m.values[label];
      if (!values || !enumerated(values)) continue;
      lines.push("", `\`${label}\` of \`${name}\`:`, "", "| value | meaning |", "|---|---|");
      for (const [value, meaning] of Object.entries(values))
        lines.push(`| \`${value}\` | ${cell(meaning)} |`);
    }
  lines.push("", METRICS_END);
  return lines.join("\n");
}

/** `page` with its generated part replaced by {@link renderSdkMetrics}; throws when a marker is missing. */
export function withSdkMetrics(page: string): string {
  const begin = page.indexOf(METRICS_BEGIN);
  const end = page.indexOf(METRICS_END);
  if (begin < 0 || end < begin)
    throw new CommandFailed(
      `the page has no generated part: put the two markers where it goes\n${METRICS_BEGIN}\n${METRICS_END}`,
    );
  return page.slice(0, begin) + renderSdkMetrics() + page.slice(end + METRICS_END.length);
}

export function metricsCommand(): Command {
  return new Command("metrics")
    .description("the SDK's metrics and their label values (the catalogue docs/metrics.md is generated from)")
    .option("--markdown", "print the generated part of docs/metrics.md")
    .option("--update <file>", "rewrite the generated part of the page in place (docs/metrics.md)")
    .action(
      action(async (opts: { markdown?: boolean; update?: string }) => {
        if (opts.update) {
          writeFileSync(opts.update, withSdkMetrics(readFileSync(opts.update, "utf8")));
          return EXIT.ok;
        }
        if (opts.markdown) {
          process.stdout.write(`${renderSdkMetrics()}\n`);
          return EXIT.ok;
        }
        for (const [name, m] of entries())
          process.stdout.write(`${name} (${m.type}) ${m.labels.join(", ")}: ${m.meaning}\n`);
        return EXIT.ok;
      }),
    );
}
