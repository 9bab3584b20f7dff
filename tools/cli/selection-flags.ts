/**
 * The selection flags every ops and analyst command shares (`tap`, `replay`, `dlq` …), defined once:
 * `addSelectionOptions(cmd)` declares them, `selectionFrom(opts)` checks them into a `Selection`
 * (a `ConfigError` naming the flag: exit 2). The language itself is streams/src/selection.ts.
 */
import type { Command } from "commander";
import { parseSelection, type Selection, type SelectionInput } from "../../streams/src/index.js";

/** The flags as commander hands them over. */
export type SelectionFlags = { [K in keyof SelectionInput]?: string };

/** Declares `--stream --subject --type --since --until --seq --key --site --line --machine` on `cmd`. */
export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option(
      "--stream <name>",
      "the stream (default: the domain stream of --type or of an mfg.<domain>.… --subject)",
    )
    .option("--subject <filter>", "a NATS subject filter, e.g. mfg.production.production_reported.plant1.>")
    .option("--type <types>", "event type(s), comma-separated, e.g. mfg.production.production_reported.v1")
    .option(
      "--since <time>",
      "stored at or after: ISO-8601 (2026-12-04T06:00:00Z) or relative (90s, 15m, 2h, 3d)",
    )
    .option("--until <time>", "stored at or before: ISO-8601 or relative")
    .option("--seq <range>", "stream sequences FROM-TO, FROM- or -TO (both ends included)")
    .option("--key <key>", "the business key (ce-subject): an order, a lot, a machine")
    .option("--site <site>", "the site token of the subject")
    .option("--line <line>", "the line token of the subject")
    .option("--machine <machine>", "the machine token of the subject");
}

/** The selection flags, in the order they are declared. */
const SELECTION_FLAGS = [
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
] as const;

/** The selection the flags name. @throws ConfigError naming the flag that is wrong */
export function selectionFrom(opts: SelectionFlags, now = Date.now()): Selection {
  const input: { -readonly [K in keyof SelectionInput]: SelectionInput[K] } = {};
  for (const k of SELECTION_FLAGS) if (opts[k] !== undefined) input[k] = opts[k];
  return parseSelection(input, now);
}

/** The flags as given (strings), for an audit record or a job id. */
export function selectionFlagsOf(opts: SelectionFlags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SELECTION_FLAGS) {
    const v = opts[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
