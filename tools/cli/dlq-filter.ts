/**
 * The dead-letter filter flags every `threadline dlq` subcommand shares (list, stats, purge, redrive):
 * `--stream`, `--consumer`, `--code`, `--type`, `--since`, `--until`, parsed and checked in one place.
 *
 * ```ts
 * addDlqFilterOptions(cmd.command("purge")).action(action(async (opts) => {
 *   const filter = dlqFilterFrom(opts); // UsageError for an unknown stream or a malformed time
 * }));
 * ```
 */
import type { Command } from "commander";
import { ConfigError, type DlqFilter, type DlqFilterInput, parseDlqFilter } from "../../streams/src/index.js";
import { platformDeclarations } from "../manifests.js";
import { UsageError } from "./run.js";

/** The flags as commander hands them over. */
export type DlqFilterFlags = DlqFilterInput;

/** Adds the filter flags to a command. */
export function addDlqFilterOptions(cmd: Command): Command {
  return cmd
    .option("--stream <stream>", "the stream the messages were consumed from, e.g. MFG_PRODUCTION")
    .option("--consumer <consumer>", "the consumer that dead-lettered them (its durable's name)")
    .option(
      "--code <codes>",
      "reason codes, comma-separated (docs/errors.md), e.g. CONNECTOR_ORDER_NOT_FOUND",
    )
    .option(
      "--type <types>",
      "event types (ce-type), comma-separated, e.g. mfg.production.production_reported.v1",
    )
    .option("--since <time>", "dead-lettered at or after: ISO-8601 or relative (90s, 15m, 2h, 3d)")
    .option("--until <time>", "dead-lettered at or before: ISO-8601 or relative");
}

/**
 * The filter of the flags. @throws UsageError (exit 2) naming the flag: a malformed time or name, or a
 * `--stream` that is not a declared stream (the list of declared ones in the message).
 */
export function dlqFilterFrom(flags: DlqFilterFlags, now = Date.now()): DlqFilter {
  let filter: DlqFilter;
  try {
    filter = parseDlqFilter(flags, now);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (filter.stream !== undefined) {
    const declared = Object.keys(platformDeclarations().streams).filter((s) => s !== "MFG_DLQ");
    if (!declared.includes(filter.stream))
      throw new UsageError(
        `--stream ${filter.stream} is not a stream of Threadline (declared: ${declared.join(", ")}); it names the stream the dead letters came from`,
      );
  }
  return filter;
}

/** The filter as an audit record's selection: only what was given, times as ISO-8601. */
export function dlqSelectionOf(filter: DlqFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (filter.stream !== undefined) out["stream"] = filter.stream;
  if (filter.consumer !== undefined) out["consumer"] = filter.consumer;
  if (filter.codes !== undefined) out["codes"] = filter.codes;
  if (filter.types !== undefined) out["types"] = filter.types;
  if (filter.since !== undefined) out["since"] = filter.since.toISOString();
  if (filter.until !== undefined) out["until"] = filter.until.toISOString();
  return out;
}
