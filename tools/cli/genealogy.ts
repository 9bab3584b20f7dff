/**
 * `threadline genealogy`: ask the genealogy service (its HTTP API, services/genealogy-builder/src/http.ts)
 * where a lot came from and where it went — `trace`, `recall`, `export --epcis`, `where-used`, `lots`,
 * and `rebuild` the graph from the streams. The CLI reads no database itself: it asks the running
 * service, at --url ($GENEALOGY_URL, else http://127.0.0.1:9470) with the token of $GENEALOGY_TOKEN or
 * --token-file.
 * Exit codes: 0 ok, 1 failed (an unknown lot, the service unreachable or refusing), 2 usage error.
 */
import { writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import type {
  LotRef,
  RecallReport,
  TraceResult,
  WhereUsedRow,
} from "../../services/genealogy-builder/src/query/types.js";
import { ConfigError, parseTime } from "../../streams/src/index.js";
import { table } from "./dlq.js";
import {
  GENEALOGY_CLIENT_DEFAULTS,
  GenealogyClient,
  type GenealogyConnectionFlags,
} from "./genealogy-client.js";
import { lotText, quantityText, recallText, traceDot, traceTree } from "./genealogy-render.js";
import { action, EXIT, UsageError } from "./run.js";

const lotPath = (lot: string) => `/genealogy/lots/${encodeURIComponent(lot)}`;

/** A whole number from a flag. @throws UsageError naming the flag */
function integerFlag(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got ${text})`);
  return Number(text);
}

/** A time flag as the API takes it (ISO-8601); relative times (`2h`, `3d`) count back from now. */
function timeFlag(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTime(flag, text).toISOString();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

const print = (text: string) => process.stdout.write(text);
const printJson = (value: unknown) => print(`${JSON.stringify(value, null, 2)}\n`);

/** The connection flags every subcommand takes. */
function connection(cmd: Command): Command {
  return cmd
    .option(
      "--url <url>",
      `the genealogy service (default: $GENEALOGY_URL, else ${GENEALOGY_CLIENT_DEFAULTS.url})`,
    )
    .option("--token-file <file>", "a file holding the bearer token (default: $GENEALOGY_TOKEN)");
}

export function genealogyCommand(): Command {
  const cmd = new Command("genealogy").description(
    "lot genealogy from the genealogy service: trace a lot backward or forward, recall, EPCIS export, where-used",
  );

  connection(
    cmd
      .command("trace")
      .description(
        "a lot's genealogy: --backward to what it was made of (supplier lots), --forward to what was made of it, the shipments and customers",
      )
      .argument("<lot>", "the lot name, e.g. LOT/2026/001")
      .option("--backward", "what the lot was made of")
      .option("--forward", "what was made of the lot and where it went")
      .option("--depth <n>", "edges to follow at most (1-50, default 10)")
      .option("--since <time>", "only edges at or after: ISO-8601 or relative (90s, 15m, 2h, 3d)")
      .option("--until <time>", "only edges at or before: ISO-8601 or relative")
      .option("--product <product>", "the lot's product, when several products have a lot of that name")
      .addOption(new Option("--json", "the whole trace as JSON").conflicts("dot"))
      .addOption(new Option("--dot", "a Graphviz digraph (dot -Tsvg)").conflicts("json")),
  ).action(
    action(
      async (
        lot: string,
        opts: GenealogyConnectionFlags & {
          backward?: boolean;
          forward?: boolean;
          depth?: string;
          since?: string;
          until?: string;
          product?: string;
          json?: boolean;
          dot?: boolean;
        },
      ) => {
        if (opts.backward === opts.forward)
          throw new UsageError("say which way to trace: --backward (where from) or --forward (where to)");
        const query = {
          direction: opts.backward ? "backward" : "forward",
          depth: integerFlag("--depth", opts.depth, 1, 50),
          since: timeFlag("--since", opts.since),
          until: timeFlag("--until", opts.until),
          product: opts.product,
        };
        if (query.since && query.until && query.since > query.until)
          throw new UsageError(`--since (${query.since}) is after --until (${query.until})`);
        const client = GenealogyClient.fromFlags(opts);
        const trace = await client.get<TraceResult>(`${lotPath(lot)}/trace`, query, {
          lot,
          product: opts.product,
        });
        if (opts.json) printJson(trace);
        else print(opts.dot ? traceDot(trace) : traceTree(trace));
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("recall")
      .description(
        "what to do about a bad lot: the customers to contact with quantities, the lots to block, the lots on hold",
      )
      .argument("<lot>", "the lot name")
      .option("--product <product>", "the lot's product, when several products have a lot of that name")
      .option("--depth <n>", "edges to follow at most (1-50, default 10)")
      .option("--json", "the report as JSON"),
  ).action(
    action(
      async (
        lot: string,
        opts: GenealogyConnectionFlags & { product?: string; depth?: string; json?: boolean },
      ) => {
        const depth = integerFlag("--depth", opts.depth, 1, 50);
        const client = GenealogyClient.fromFlags(opts);
        const report = await client.get<RecallReport>(
          `${lotPath(lot)}/recall`,
          { product: opts.product, depth },
          { lot, product: opts.product },
        );
        if (opts.json) printJson(report);
        else print(recallText(report));
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("export")
      .description("a lot's genealogy, both ways, as a document for partners: --epcis (EPCIS 2.0 JSON-LD)")
      .argument("<lot>", "the lot name")
      .option("--epcis", "EPCIS 2.0 JSON-LD (the only format; required)")
      .option("--product <product>", "the lot's product, when several products have a lot of that name")
      .option("-o, --output <file>", "write it to a file (default: stdout)"),
  ).action(
    action(
      async (
        lot: string,
        opts: GenealogyConnectionFlags & { epcis?: boolean; product?: string; output?: string },
      ) => {
        if (!opts.epcis) throw new UsageError("say the format: --epcis (EPCIS 2.0 JSON-LD, the only one)");
        const client = GenealogyClient.fromFlags(opts);
        const doc = await client.get<{ epcisBody?: { eventList?: unknown[] } }>(
          `${lotPath(lot)}/epcis`,
          { product: opts.product },
          { lot, product: opts.product },
        );
        const text = `${JSON.stringify(doc, null, 2)}\n`;
        if (!opts.output) print(text);
        else {
          writeFileSync(opts.output, text);
          const events = doc.epcisBody?.eventList?.length;
          process.stderr.write(
            `wrote the EPCIS document of ${lot}${events === undefined ? "" : ` (${events} event(s))`} to ${opts.output}\n`,
          );
        }
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("where-used")
      .description("the lots a component (or one lot of it) went into, with the net quantity and the orders")
      .argument("<product>", "the component's internal reference")
      .option("--lot <lot>", "only this lot of the component")
      .option("--limit <n>", "rows at most (1-1000)")
      .option("--json", "the rows as JSON"),
  ).action(
    action(
      async (
        product: string,
        opts: GenealogyConnectionFlags & { lot?: string; limit?: string; json?: boolean },
      ) => {
        const limit = integerFlag("--limit", opts.limit, 1, 1000);
        const client = GenealogyClient.fromFlags(opts);
        const { rows } = await client.get<{ rows: WhereUsedRow[] }>(
          `/genealogy/where-used/${encodeURIComponent(product)}`,
          { lot: opts.lot, limit },
          { product },
        );
        if (opts.json) printJson(rows);
        else if (rows.length === 0)
          process.stderr.write(
            `${product}${opts.lot ? ` lot ${opts.lot}` : ""} went into no lot known to the genealogy\n`,
          );
        else
          print(
            table(
              ["COMPONENT", "INTO", "NET", "ORDERS", "LAST"],
              rows.map((r) => [
                lotText(r.component),
                lotText(r.produced),
                quantityText(r.net),
                r.orders.join(","),
                r.lastAt,
              ]),
            ),
          );
        return EXIT.ok;
      },
    ),
  );

  connection(
    cmd
      .command("lots")
      .description("the lots whose name starts with a prefix, with their product")
      .argument("<prefix>", "the start of the lot name")
      .option("--limit <n>", "lots at most (1-1000)")
      .option("--json", "the lots as JSON"),
  ).action(
    action(async (prefix: string, opts: GenealogyConnectionFlags & { limit?: string; json?: boolean }) => {
      const limit = integerFlag("--limit", opts.limit, 1, 1000);
      const client = GenealogyClient.fromFlags(opts);
      const { lots } = await client.get<{ lots: (LotRef & { productName: string | null })[] }>(
        "/genealogy/lots",
        { prefix, limit },
      );
      if (opts.json) printJson(lots);
      else if (lots.length === 0) process.stderr.write(`no lot starts with ${prefix}\n`);
      else
        print(
          table(
            ["LOT", "PRODUCT", "NAME"],
            lots.map((l) => [l.lot, l.product, l.productName ?? "-"]),
          ),
        );
      return EXIT.ok;
    }),
  );

  connection(
    cmd
      .command("rebuild")
      .description(
        "rebuild the lot graph from the streams beside the live one, then switch over (waits until done)",
      )
      .option("--json", "what the rebuild reports, as JSON"),
  ).action(
    action(async (opts: GenealogyConnectionFlags & { json?: boolean }) => {
      const client = GenealogyClient.fromFlags(opts);
      const answer = await client.post<{ result: unknown }>(
        "/genealogy/rebuild",
        GENEALOGY_CLIENT_DEFAULTS.rebuildTimeoutMs,
      );
      if (opts.json) printJson(answer.result);
      else print(`rebuilt the genealogy${answer.result ? `: ${JSON.stringify(answer.result)}` : ""}\n`);
      return EXIT.ok;
    }),
  );

  return cmd;
}
