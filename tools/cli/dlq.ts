/**
 * `threadline dlq`: work the dead-letter stream MFG_DLQ — `list`, `show <seq>`, `stats`, `purge`
 * (`redrive` lives beside it, tools/cli/dlq-redrive.ts, when built). Every subcommand but `show`
 * takes the filter flags of tools/cli/dlq-filter.ts; reads go through an ephemeral ordered consumer,
 * so no durable is touched. `purge` deletes by sequence, asks first (or needs `--yes` without a
 * terminal), and is recorded in the audit trail (streams/src/audit.ts).
 * Exit codes: 0 ok (also: nothing matched), 1 failed, 2 usage error or purge refused unconfirmed.
 */
import { createInterface } from "node:readline/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { Command, Option } from "commander";
import { Catalog, EventCodec, SCHEMAS_DIR, SchemaRegistry } from "../../contracts/src/index.js";
import {
  type DeadLetterEntry,
  type DeadLetterScan,
  type DecodedDeadLetter,
  DLQ_STREAM,
  deadLetterAt,
  deadLetterHeaders,
  deadLetterSummary,
  decodeDeadLetter,
  listDeadLetters,
  purgeDeadLetters,
} from "../../streams/src/index.js";
import { addDlqFilterOptions, type DlqFilterFlags, dlqFilterFrom, dlqSelectionOf } from "./dlq-filter.js";
import { redriveCommand } from "./dlq-redrive.js";
import { action, CommandFailed, EXIT, type ServerFlags, UsageError, withNats } from "./run.js";

/** The defaults of `threadline dlq`'s output, in one place. */
export const DLQ_DEFAULTS = {
  /** Characters of the reason shown in the list's table (`show` has it whole). */
  messageWidth: 60,
  /** Bytes per line of `show`'s hex dump. */
  hexWidth: 16,
} as const;

type ListFlags = DlqFilterFlags & ServerFlags & { json?: boolean };
type PurgeFlags = DlqFilterFlags & ServerFlags & { dryRun?: boolean; yes?: boolean };

const serverOption = () =>
  new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)");

export function dlqCommand(): Command {
  const cmd = new Command("dlq").description(
    "the dead-letter stream MFG_DLQ: list, show, stats, redrive, purge (filters: --stream, --consumer, --code, --type, --since, --until)",
  );

  addDlqFilterOptions(
    cmd
      .command("list")
      .description(
        "list dead letters: sequence, when, source stream/consumer, reason code, event type, key, reason",
      ),
  )
    .addOption(serverOption())
    .option("--json", "one JSON array instead of the table")
    .action(
      action(async (opts: ListFlags) => {
        const filter = dlqFilterFrom(opts);
        return withNats(opts, async (nc) => {
          const scan: DeadLetterScan = { read: 0, skipped: 0 };
          const found = await listDeadLetters(nc, filter, { scan });
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(found.map(deadLetterSummary), null, 2)}\n`);
          } else if (found.length === 0) {
            process.stderr.write(`no dead letters match (${scan.read} in ${DLQ_STREAM} read)\n`);
          } else {
            process.stdout.write(
              table(
                ["SEQ", "WHEN", "SOURCE", "CODE", "TYPE", "KEY", "MESSAGE"],
                found.map((d) => [
                  String(d.seq),
                  d.storedAt.toISOString(),
                  `${d.letter.stream}/${d.letter.consumer}`,
                  d.letter.code,
                  d.type ?? "-",
                  d.key ?? "-",
                  shorten(d.letter.message, DLQ_DEFAULTS.messageWidth),
                ]),
              ),
            );
          }
          if (scan.skipped > 0)
            process.stderr.write(`${scan.skipped} message(s) on mfg.dlq.> are not dead letters (skipped)\n`);
          return EXIT.ok;
        });
      }),
    );

  cmd
    .command("show")
    .description(
      "one dead letter: every header, the reason, and the payload decoded as JSON (writer schema from the registry), or a hex dump when it does not decode",
    )
    .argument("<seq>", "its sequence in MFG_DLQ (dlq list shows it)")
    .addOption(serverOption())
    .option("--json", "one JSON object")
    .action(
      action(async (seqText: string, opts: ServerFlags & { json?: boolean }) => {
        if (!/^[1-9][0-9]*$/.test(seqText))
          throw new UsageError(
            `<seq> must be a sequence of ${DLQ_STREAM} (a positive integer), got ${seqText}`,
          );
        const seq = Number(seqText);
        return withNats(opts, async (nc) => {
          const d = await getDeadLetter(nc, seq);
          const decoded = await decodeOf(nc, d);
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify(
                {
                  ...deadLetterSummary(d),
                  headers: deadLetterHeaders(d),
                  ...(decoded.ok
                    ? { payload: decoded.json, writer: decoded.writer }
                    : { decodeError: decoded.error, dataHex: Buffer.from(d.data).toString("hex") }),
                },
                null,
                2,
              )}\n`,
            );
            return EXIT.ok;
          }
          const l = d.letter;
          const out = [
            `dead letter ${d.seq} of ${DLQ_STREAM}, stored ${d.storedAt.toISOString()} on ${d.dlqSubject}`,
            `  from      ${l.stream}${l.sequence === undefined ? " (refused before publishing)" : ` sequence ${l.sequence}`}, subject ${l.subject}`,
            `  consumer  ${l.consumer} gave up after ${l.deliveries} attempt(s)`,
            `  failed    first ${l.firstFailureAt.toISOString()}, last ${l.lastFailureAt.toISOString()}`,
            `  reason    ${l.code}: ${l.message || "(no message)"}`,
            "headers:",
            ...Object.entries(deadLetterHeaders(d)).flatMap(([k, vs]) => vs.map((v) => `  ${k}: ${v}`)),
          ];
          if (decoded.ok) {
            out.push(
              `payload (${decoded.writer.subject ?? "unknown type"}, writer ${decoded.writer.fingerprint}${decoded.writer.version === undefined ? "" : ` v${decoded.writer.version}`}):`,
              JSON.stringify(decoded.json, null, 2),
            );
          } else {
            out.push(
              `payload: does not decode (${decoded.error}); ${d.data.length} byte(s):`,
              hexDump(d.data),
            );
          }
          process.stdout.write(`${out.join("\n")}\n`);
          return EXIT.ok;
        });
      }),
    );

  addDlqFilterOptions(cmd.command("stats").description("count dead letters by reason code and by consumer"))
    .addOption(serverOption())
    .option("--json", "one JSON object: total, byCode, byConsumer")
    .action(
      action(async (opts: ListFlags) => {
        const filter = dlqFilterFrom(opts);
        return withNats(opts, async (nc) => {
          const found = await listDeadLetters(nc, filter);
          const byCode = countBy(found, (d) => d.letter.code);
          const byConsumer = countBy(found, (d) => `${d.letter.stream}/${d.letter.consumer}`);
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ total: found.length, byCode, byConsumer }, null, 2)}\n`);
            return EXIT.ok;
          }
          process.stdout.write(
            [
              `${found.length} dead letter(s)`,
              "",
              table(
                ["CODE", "COUNT"],
                Object.entries(byCode).map(([k, n]) => [k, String(n)]),
              ).trimEnd(),
              "",
              table(
                ["STREAM/CONSUMER", "COUNT"],
                Object.entries(byConsumer).map(([k, n]) => [k, String(n)]),
              ),
            ].join("\n"),
          );
          return EXIT.ok;
        });
      }),
    );

  addDlqFilterOptions(
    cmd
      .command("purge")
      .description(
        "delete the matching dead letters (asks first on a terminal; --yes otherwise); recorded in the audit trail",
      ),
  )
    .addOption(serverOption())
    .option("--dry-run", "show what would be deleted; delete nothing")
    .option("-y, --yes", "do not ask: needed when there is no terminal to ask on")
    .action(
      action(async (opts: PurgeFlags) => {
        const filter = dlqFilterFrom(opts);
        return withNats(opts, async (nc) => {
          const found = await listDeadLetters(nc, filter);
          const selection = dlqSelectionOf(filter);
          if (found.length === 0) {
            process.stderr.write("no dead letters match: nothing to purge\n");
            return EXIT.ok;
          }
          if (opts.dryRun) {
            process.stdout.write(
              `would delete ${found.length} dead letter(s) (dry run: nothing deleted)\n${table(
                ["SEQ", "WHEN", "SOURCE", "CODE", "TYPE", "KEY"],
                found.map((d) => [
                  String(d.seq),
                  d.storedAt.toISOString(),
                  `${d.letter.stream}/${d.letter.consumer}`,
                  d.letter.code,
                  d.type ?? "-",
                  d.key ?? "-",
                ]),
              )}`,
            );
            return EXIT.ok;
          }
          if (!opts.yes) {
            if (!process.stdin.isTTY || !process.stdout.isTTY)
              throw new UsageError(
                `refusing to purge ${found.length} dead letter(s) without --yes: there is no terminal to confirm on (nothing deleted; --dry-run lists them)`,
              );
            const rl = createInterface({ input: process.stdin, output: process.stdout });
            const answer = await rl.question(
              `delete ${found.length} dead letter(s) from ${DLQ_STREAM}? [y/N] `,
            );
            rl.close();
            if (!/^y(es)?$/i.test(answer.trim())) {
              process.stderr.write("not confirmed: nothing deleted\n");
              return EXIT.usage;
            }
          }
          const { deleted, alreadyGone: gone, failure } = await purgeDeadLetters(nc, found, { selection });
          if (failure !== undefined)
            throw new CommandFailed(
              `purge stopped after ${deleted} of ${found.length} dead letter(s): ${failure.message} (recorded in the audit trail)`,
            );
          process.stdout.write(
            `deleted ${deleted} dead letter(s) from ${DLQ_STREAM}${gone > 0 ? ` (${gone} already gone)` : ""}\n`,
          );
          return EXIT.ok;
        });
      }),
    );

  // Redrive: the dead letters back to the consumer that dead-lettered each (tools/cli/dlq-redrive.ts).
  cmd.addCommand(redriveCommand());
  return cmd;
}

/** One dead letter by its MFG_DLQ sequence. @throws CommandFailed when there is none */
async function getDeadLetter(nc: NatsConnection, seq: number): Promise<DeadLetterEntry> {
  let found: DeadLetterEntry | undefined;
  try {
    found = await deadLetterAt(nc, seq);
  } catch (err) {
    throw new CommandFailed(`message ${seq} of ${DLQ_STREAM}: ${(err as Error).message}`);
  }
  if (!found)
    throw new CommandFailed(`${DLQ_STREAM} has no message with sequence ${seq} (dlq list shows them)`);
  return found;
}

/** The payload decoded with its writer schema (the registry's, else the catalog's), as JSON. */
async function decodeOf(nc: NatsConnection, d: DeadLetterEntry): Promise<DecodedDeadLetter> {
  const catalog = Catalog.load(SCHEMAS_DIR);
  let codec: EventCodec;
  try {
    codec = new EventCodec({ catalog, writers: await SchemaRegistry.open(nc, { readOnly: true }) });
  } catch {
    codec = new EventCodec({ catalog }); // no registry: the catalog's writers only
  }
  return decodeDeadLetter(codec, d);
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)));
}

function shorten(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** Columns padded to their widest cell, two spaces apart (other commands' tables too). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

/** `00000000  c3 01 …  |..|`, {@link DLQ_DEFAULTS.hexWidth} bytes a line. */
export function hexDump(data: Uint8Array): string {
  const lines: string[] = [];
  const w = DLQ_DEFAULTS.hexWidth;
  for (let off = 0; off < data.length; off += w) {
    const chunk = data.subarray(off, off + w);
    const hex = [...chunk].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex.padEnd(w * 3 - 1)}  |${text}|`);
  }
  return lines.join("\n");
}
