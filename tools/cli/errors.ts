/**
 * `threadline errors [code]`: what an error code means and what to do about it, from the one catalogue
 * (contracts/src/error-catalog.ts) — the line to read at 3 a.m. next to a dead letter or a failed start.
 * `threadline errors --markdown` prints docs/errors.md, which is generated from the same catalogue.
 *
 * Exit codes: 0 when the code is known (or follows the Odoo pattern), 2 for an unknown code.
 */
import { Command } from "commander";
import {
  describeErrorCode,
  ERROR_AREAS,
  ERROR_CATALOG,
  type ErrorArea,
  type ErrorCatalogEntry,
  ODOO_PATTERN,
} from "../../contracts/src/index.js";
import { action, EXIT, UsageError } from "./run.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

/** The catalogue's codes by area, in the order of `ERROR_AREAS`; areas without a code are left out. */
function byArea(): [ErrorArea, [string, ErrorCatalogEntry][]][] {
  const entries = Object.entries(ERROR_CATALOG) as [string, ErrorCatalogEntry][];
  return (Object.keys(ERROR_AREAS) as ErrorArea[])
    .map((area): [ErrorArea, [string, ErrorCatalogEntry][]] => [
      area,
      entries.filter(([, e]) => e.area === area),
    ])
    .filter(([, codes]) => codes.length > 0);
}

/** A table cell: one line, `|` escaped. */
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

const row = (code: string, e: Pick<ErrorCatalogEntry, "meaning" | "action">) =>
  `| \`${code}\` | ${cell(e.meaning)} | ${cell(e.action)} |`;

/** docs/errors.md: the prefix rule, the Odoo pattern, then one table per area (code | meaning | what to do). */
export function renderErrorCatalog(): string {
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from contracts/src/error-catalog.ts by `threadline errors --markdown > docs/errors.md`.",
    "     Do not edit by hand: test/contracts/error-catalog.test.ts fails when this page and the catalogue differ. -->",
    "",
    "Every Threadline error carries a stable `code` from one catalogue (`contracts/src/error-catalog.ts`);",
    "a dead letter's `Threadline-Dlq-Code` header is one of them. `threadline errors <code>` prints a",
    "code's meaning and what to do; `threadline errors` lists them all.",
    "",
    "## Prefixes",
    "",
    "- `ODOO_<NAME>`: **Odoo said so.** Odoo (or the HTTP server at its URL) answered with an exception,",
    "  named after its Python class: `odoo.exceptions.ValidationError` → `ODOO_VALIDATION_ERROR`,",
    "  `psycopg2.errors.SerializationFailure` → `ODOO_SERIALIZATION_FAILURE`, an HTTP status without",
    "  Odoo's error body → `ODOO_HTTP_<status>`. The error keeps Odoo's exception name and message verbatim.",
    "- `CONNECTOR_<…>`: **the Odoo connector said so**: its own judgement about an event or about the way",
    "  to Odoo (an order it cannot find, a timeout, its circuit breaker).",
    "- Everything else comes from the SDK, the contracts, the tools or the simulators, by area below.",
    "",
    "Odoo's exceptions are open-ended (its modules add their own), so the known ones are listed under",
    "the Odoo area and any other follows the pattern:",
    "",
    "| code | meaning | what to do |",
    "|---|---|---|",
    row(ODOO_PATTERN.code, ODOO_PATTERN),
  ];
  for (const [area, codes] of byArea()) {
    lines.push("", `## ${ERROR_AREAS[area]}`, "", "| code | meaning | what to do |", "|---|---|---|");
    for (const [code, entry] of codes) lines.push(row(code, entry));
  }
  return `${lines.join("\n")}\n`;
}

/** What `threadline errors <code>` prints about one code. */
export function explainErrorCode(input: string): string | undefined {
  const code = input.trim().toUpperCase();
  const entry = describeErrorCode(code);
  if (!entry) return undefined;
  const pattern = entry === ODOO_PATTERN ? ` (not listed by name: it follows ${ODOO_PATTERN.code})` : "";
  return [
    `${code}${pattern}`,
    `  area:       ${entry.area}`,
    `  meaning:    ${entry.meaning}`,
    `  what to do: ${entry.action}`,
  ].join("\n");
}

export function errorsCommand(): Command {
  return new Command("errors")
    .description("what an error code means and what to do next (every code, or one)")
    .argument(
      "[code]",
      "an error code, e.g. CONNECTOR_ORDER_NOT_FOUND or a dead letter's Threadline-Dlq-Code",
    )
    .option("--markdown", "print the catalogue as docs/errors.md")
    .action(
      action(async (code: string | undefined, opts: { markdown?: boolean }) => {
        if (opts.markdown) {
          if (code !== undefined) throw new UsageError("--markdown prints the whole catalogue: give no code");
          process.stdout.write(renderErrorCatalog());
          return EXIT.ok;
        }
        if (code !== undefined) {
          const text = explainErrorCode(code);
          if (!text)
            throw new UsageError(
              `unknown error code ${code}: \`threadline errors\` lists them all (docs/errors.md)`,
            );
          out(text);
          return EXIT.ok;
        }
        out(`Odoo's own exceptions: ${ODOO_PATTERN.code}  ${ODOO_PATTERN.meaning}`);
        for (const [area, codes] of byArea()) {
          out();
          out(ERROR_AREAS[area]);
          const width = Math.max(...codes.map(([c]) => c.length));
          for (const [c, entry] of codes) out(`  ${c.padEnd(width)}  ${entry.meaning}`);
        }
        out();
        out("`threadline errors <code>` says what to do about one.");
        return EXIT.ok;
      }),
    );
}
