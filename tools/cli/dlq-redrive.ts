/**
 * `threadline dlq redrive`: dead letters back to the consumer that dead-lettered each — only that one —
 * through its replay channel, with a redrive count (streams/src/redrive.ts). The service removes a
 * dead letter from MFG_DLQ once its redriven delivery is handled (or dead-lettered again, with the
 * count + 1); one redriven `--max-redrives` times is skipped and listed. `--wait` waits until the
 * redriven ones left MFG_DLQ, then counts those dead-lettered anew. Recorded in the audit trail.
 *
 * Exit codes: 0 every redriven dead letter was handled (or nothing matched), 1 some failed again or
 * were not settled within the wait (the service not running), 2 usage error.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import {
  type DeadLetterFilter,
  deadLettersOfJob,
  parseTime,
  REDRIVE_DEFAULTS,
  type RedriveItem,
  recordAudit,
  redriveDeadLetters,
  waitForRedriven,
} from "../../streams/src/index.js";
import { action, CommandFailed, EXIT, UsageError, withNats } from "./run.js";

interface RedriveFlags {
  server?: string;
  stream?: string;
  consumer?: string;
  code?: string;
  type?: string;
  since?: string;
  until?: string;
  seq?: string;
  maxRedrives: number;
  rate?: number;
  wait: number;
  dryRun?: boolean;
  json?: boolean;
}

const out = (line = "") => process.stdout.write(`${line}\n`);

function filterOf(opts: RedriveFlags): DeadLetterFilter {
  let fromSequence: number | undefined;
  let toSequence: number | undefined;
  if (opts.seq !== undefined) {
    const m = /^(\d*)-(\d*)$/.exec(opts.seq) ?? /^(\d+)()$/.exec(opts.seq);
    if (!m || (m[1] === "" && m[2] === ""))
      throw new UsageError(`--seq must be FROM-TO, FROM- or -TO (got ${opts.seq})`);
    fromSequence = m[1] ? Number(m[1]) : undefined;
    toSequence = m[2] ? Number(m[2]) : opts.seq.includes("-") ? undefined : fromSequence;
  }
  const since = opts.since !== undefined ? parseTime("--since", opts.since) : undefined;
  const until = opts.until !== undefined ? parseTime("--until", opts.until) : undefined;
  if (since && fromSequence !== undefined) throw new UsageError("--since cannot be combined with --seq FROM");
  return {
    ...(opts.stream ? { stream: opts.stream } : {}),
    ...(opts.consumer ? { consumer: opts.consumer } : {}),
    ...(opts.code ? { code: opts.code } : {}),
    ...(opts.type ? { type: opts.type } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(fromSequence !== undefined ? { fromSequence } : {}),
    ...(toSequence !== undefined ? { toSequence } : {}),
  };
}

function row(i: RedriveItem): string {
  return `  ${i.dlqSequence}\t${i.stream}/${i.sequence ?? "-"}\t${i.consumer}\t${i.code}\t${i.type}\t${i.redriveCount}${i.reason ? `\t${i.reason}` : ""}`;
}

/** The `redrive` subcommand, for the `dlq` command group. */
export function redriveCommand(): Command {
  return new Command("redrive")
    .description(
      "deliver dead letters again to the consumer that dead-lettered each (only that one), with a redrive count; a success removes the dead letter",
    )
    .addOption(
      new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)"),
    )
    .option("--stream <name>", "original stream, e.g. MFG_PRODUCTION")
    .option("--consumer <durable>", "the durable that dead-lettered them")
    .option("--code <code>", "reason code (Threadline-Dlq-Code), e.g. HANDLER_PERMANENT")
    .option("--type <type>", "event type (ce-type)")
    .option("--since <time>", "dead-lettered at or after: ISO-8601 or relative (2h)")
    .option("--until <time>", "dead-lettered at or before")
    .option("--seq <range>", "MFG_DLQ sequences FROM-TO, FROM- or -TO")
    .option(
      "--max-redrives <n>",
      "skip dead letters already redriven this many times",
      (v) => {
        if (!/^\d+$/.test(v)) throw new InvalidArgumentError("--max-redrives must be an integer >= 0");
        return Number(v);
      },
      REDRIVE_DEFAULTS.maxRedrives,
    )
    .option("--rate <letters/s>", "dead letters per second at most", (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError("--rate must be a number > 0");
      return n;
    })
    .option(
      "--wait <seconds>",
      "wait until the redriven dead letters left MFG_DLQ (0: do not wait)",
      (v) => {
        const n = Number(v);
        if (!(n >= 0)) throw new InvalidArgumentError("--wait must be a number >= 0");
        return n;
      },
      60,
    )
    .option("--dry-run", "list what would be redriven and skipped; deliver nothing")
    .option("--json", "print the result as JSON")
    .action(
      action(async (opts: RedriveFlags) => {
        const filter = filterOf(opts);
        return withNats(opts, async (nc) => {
          const result = await redriveDeadLetters(nc, {
            filter,
            maxRedrives: opts.maxRedrives,
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
          });
          const redriven = result.items.filter((i) => i.action === "redriven");
          const skipped = result.items.filter((i) => i.action === "skipped");
          const would = result.items.filter((i) => i.action === "would-redrive");
          let left: number[] = [];
          if (!opts.dryRun && redriven.length > 0 && opts.wait > 0)
            left = await waitForRedriven(
              nc,
              redriven.map((i) => i.dlqSequence),
              { timeoutMs: opts.wait * 1000 },
            );
          // Those that failed again were dead-lettered anew (count + 1) by the service.
          const again = !opts.dryRun && redriven.length > 0 ? await deadLettersOfJob(nc, result.job) : [];
          const selection = { ...filter, maxRedrives: opts.maxRedrives };
          if (!opts.dryRun)
            await recordAudit(nc, {
              action: "redrive",
              selection,
              outcome: left.length > 0 || again.length > 0 ? "failed" : "done",
              details: {
                job: result.job,
                redriven: redriven.map((i) => i.dlqSequence),
                skipped: skipped.map((i) => ({ dlqSequence: i.dlqSequence, reason: i.reason })),
                stillInDlq: left,
                deadLetteredAgain: again,
              },
            });
          if (opts.json) {
            out(
              JSON.stringify({
                job: result.job,
                dryRun: opts.dryRun === true,
                items: result.items,
                stillInDlq: left,
              }),
            );
          } else {
            if (opts.dryRun)
              out(
                `dry run: ${would.length} dead letter(s) would be redriven, ${skipped.length} skipped; nothing delivered`,
              );
            else
              out(
                `redriven ${redriven.length} dead letter(s) (job ${result.job}); ${skipped.length} skipped` +
                  (opts.wait > 0
                    ? `; ${redriven.length - left.length - again.length} handled and removed, ${again.length} failed again (dead-lettered anew), ${left.length} still waiting`
                    : ""),
              );
            const shown = opts.dryRun ? would : redriven;
            if (shown.length > 0) {
              out(opts.dryRun ? "would redrive:" : "redriven:");
              out("  dlq seq\tstream/seq\tconsumer\tcode\ttype\tredrives before");
              for (const i of shown) out(row(i));
            }
            if (skipped.length > 0) {
              out("skipped:");
              for (const i of skipped) out(row(i));
            }
          }
          if (again.length > 0)
            throw new CommandFailed(
              `${again.length} redriven dead letter(s) failed again and are back in MFG_DLQ with their redrive count (MFG_DLQ sequence(s) ${again.join(", ")})`,
            );
          if (left.length > 0)
            throw new CommandFailed(
              `${left.length} redriven dead letter(s) not settled after ${opts.wait}s (is the service running?): MFG_DLQ sequence(s) ${left.join(", ")}`,
            );
          return EXIT.ok;
        });
      }),
    );
}
