/**
 * The selection flags every ops and analyst command shares (streams/src/selection.ts): one place to
 * declare them on a command and to read them back as a checked {@link Selection}.
 */
import type { Command } from "commander";
import { parseSelection, type Selection, type SelectionInput } from "../../streams/src/index.js";

/** The flags as commander gives them. */
export type SelectionFlags = SelectionInput;

/** Adds --stream, --subject, --type, --since, --until, --seq, --key, --site, --line, --machine. */
export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option(
      "--stream <name>",
      "the stream (default: the domain stream of --type or of an mfg.<domain>… --subject)",
    )
    .option("--subject <filter>", "subject filter, e.g. mfg.production.production_reported.>")
    .option("--type <types>", "event type(s), comma-separated, e.g. mfg.production.production_reported.v1")
    .option("--since <time>", "stored at or after: ISO-8601 or relative (90s, 15m, 2h, 3d)")
    .option("--until <time>", "stored at or before: ISO-8601 or relative")
    .option("--seq <range>", "stream sequences FROM-TO, FROM- or -TO (both ends included)")
    .option("--key <key>", "business key (ce-subject): an order, a lot, a machine")
    .option("--site <site>", "site token of the subject")
    .option("--line <line>", "line token of the subject")
    .option("--machine <machine>", "machine token of the subject");
}

/** The checked selection; a wrong flag is a ConfigError naming it (exit 2). */
export function selectionFrom(opts: SelectionFlags): Selection {
  return parseSelection({
    ...(opts.stream !== undefined ? { stream: opts.stream } : {}),
    ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
    ...(opts.type !== undefined ? { type: opts.type } : {}),
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.seq !== undefined ? { seq: opts.seq } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.site !== undefined ? { site: opts.site } : {}),
    ...(opts.line !== undefined ? { line: opts.line } : {}),
    ...(opts.machine !== undefined ? { machine: opts.machine } : {}),
  });
}

/** The flags as given (strings), for an audit record or a job id. */
export function selectionFlagsOf(opts: SelectionFlags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [
    "stream",
    "subject",
    "type",
    "since",
    "until",
    "seq",
    "key",
    "site",
    "line",
    "machine",
  ] as const) {
    const v = opts[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
