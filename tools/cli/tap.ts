/**
 * `threadline tap`: a selection of a stream's events, decoded, as NDJSON or CSV, to stdout or a file —
 * for analysts. A tap reads with an ephemeral ordered consumer (streams/src/read.ts): no durable is
 * created or touched, so production consumers keep their position and acknowledgements.
 *
 * - Decoding uses the schema registry as the source of writer schemas, so every version of an event
 *   is read and resolved to this program's schema of its type (without a registry bucket: the
 *   catalog's own versions only, with a warning).
 * - A finite tap ends at what the stream held when it started; `--follow` keeps delivering new events
 *   until SIGINT or SIGTERM (then exit 0).
 * - A message that is not a readable event is reported on stderr with its sequence and reason and
 *   skipped; the summary on stderr counts them. A selection matching nothing prints "0 events" on
 *   stderr and exits 0.
 * - `--output FILE`: a finite tap writes FILE.partial and renames it to FILE when complete (an
 *   interrupted tap leaves FILE.partial, exit 1); a followed tap writes FILE directly, so it can be
 *   read while it grows (it is complete up to its last line).
 * - `--sql TABLE`: into a PostgreSQL table ($DATABASE_URL, else the embedded PGlite in --data-dir),
 *   rows keyed by event id, the tap's position committed with each batch (tools/tap/sql.ts), so a rerun
 *   resumes after it; the database is opened before anything is read.
 *
 * Exit codes: 0 done, 1 failed (unknown stream, unreachable server or database, interrupted finite
 * tap), 2 usage (a bad flag, time or table name).
 */
import { once } from "node:events";
import { createWriteStream, renameSync } from "node:fs";
import type { Writable } from "node:stream";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Command, InvalidArgumentError, Option } from "commander";
import { EventCodec, SchemaRegistry, ThreadlineError } from "../../contracts/src/index.js";
import {
  decodeMessage,
  type Selection,
  type SelectionSummary,
  selectMessages,
  summarizeSelection,
} from "../../streams/src/index.js";
import { ParquetTap } from "../tap/parquet.js";
import { csvHeader, csvRow, ndjsonLine, payloadColumns, type TapRecord, tapRecord } from "../tap/rows.js";
import { POSITIONS_TABLE, quoteTable, SQL_TAP_DEFAULTS, SqlTap } from "../tap/sql.js";
import { action, CommandFailed, EXIT, UsageError, withNats } from "./run.js";
import { addSelectionOptions, type SelectionFlags, selectionFrom } from "./selection-flags.js";

export type TapFormat = "ndjson" | "csv" | "parquet";

interface TapFlags extends SelectionFlags {
  server?: string;
  sql?: string;
  databaseUrl?: string;
  dataDir?: string;
  name?: string;
  format: TapFormat;
  output?: string;
  follow?: boolean;
  dryRun?: boolean;
  limit?: number;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("must be a whole number of at least 1");
  return n;
};

export function tapCommand(): Command {
  const cmd = new Command("tap").description(
    "write a selection of a stream's events as NDJSON, CSV or Parquet (to stdout or a file) or into a SQL table, without touching any consumer; --follow keeps going",
  );
  addSelectionOptions(cmd)
    .addOption(
      new Option("--format <format>", "output format")
        .choices(["ndjson", "csv", "parquet"])
        .default("ndjson"),
    )
    .option("--output <file>", "write to this file instead of stdout")
    .option("--follow", "after what is stored, keep writing new events until Ctrl-C (SIGINT) or SIGTERM")
    .option("--dry-run", "count the selection and show the first, the last and a sample; write nothing")
    .option("--limit <n>", "stop after this many events", positiveInt)
    .option(
      "--sql <table>",
      "write into this SQL table (created if missing; rows keyed by event id), keeping the tap's position so a rerun continues where it stopped",
    )
    .option(
      "--database-url <url>",
      "with --sql: a PostgreSQL server (default: $DATABASE_URL, else the embedded database)",
    )
    .option(
      "--data-dir <dir>",
      `with --sql: the embedded database's directory (default: ${SQL_TAP_DEFAULTS.dataDir})`,
    )
    .option(
      "--name <tap>",
      "with --sql: the tap's name, under which its position is kept (default: the table name)",
    )
    .option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)")
    .addHelpText(
      "after",
      `
Examples:
  threadline tap --type mfg.production.production_reported.v1 --since 2h > reports.ndjson
  threadline tap --type mfg.production.production_reported.v1 --key WH/MO/00042 --format csv --output mo42.csv
  threadline tap --stream MFG_MACHINE --site plant1 --line line1 --follow
  threadline tap --stream MFG_QUALITY --since 2026-12-01 --until 2026-12-02 --dry-run
  threadline tap --type mfg.production.production_reported.v1 --sql reports --follow
  DATABASE_URL=postgres://analyst@db:5432/shopfloor threadline tap --stream MFG_QUALITY --sql quality

CSV needs exactly one --type: its schema fixes the columns. Skipped messages (not readable as
events) are reported on stderr with their sequence and reason, and counted in the summary.

--sql commits each batch of rows (up to ${SQL_TAP_DEFAULTS.batchRows}, or what ${SQL_TAP_DEFAULTS.batchMs / 1000} s brought) with the tap's position in one
transaction (table ${POSITIONS_TABLE}); a rerun resumes after that position, so the selection's
start (--seq FROM, --since) applies only to the first run.`,
    )
    .action(action(async (opts: TapFlags) => tap(opts)));
  return cmd;
}

async function tap(opts: TapFlags): Promise<number> {
  const selection = selectionFrom(opts);
  if (opts.sql !== undefined) return sqlTap(opts, selection);
  for (const [flag, given] of [
    ["--database-url", opts.databaseUrl],
    ["--data-dir", opts.dataDir],
    ["--name", opts.name],
  ] as const)
    if (given !== undefined) throw new UsageError(`${flag} goes with --sql <table>`);
  if (opts.format !== "ndjson" && selection.types?.length !== 1)
    throw new UsageError(
      `--format ${opts.format} needs exactly one --type (its schema fixes the columns); use --format ndjson for several types`,
    );
  if (opts.format === "parquet" && !opts.dryRun && (opts.output === undefined || opts.follow))
    throw new UsageError(
      opts.follow
        ? "--format parquet cannot --follow: a Parquet file is complete only once its footer is written (use ndjson or csv to follow)"
        : "--format parquet needs --output <file> (a Parquet file is written whole, not streamed to stdout)",
    );
  if (opts.dryRun && (opts.follow || opts.output))
    throw new UsageError(
      `--dry-run writes nothing: it cannot be combined with ${opts.follow ? "--follow" : "--output"}`,
    );
  return withNats(opts, async (nc) => {
    await requireStream(nc, selection.stream);
    if (opts.dryRun) {
      printSummary(selection, await summarizeSelection(nc, selection, { sample: 10 }));
      return EXIT.ok;
    }
    return write(nc, selection, opts);
  });
}

async function sqlTap(opts: TapFlags, selection: Selection): Promise<number> {
  const conflicting = opts.dryRun
    ? "--dry-run"
    : opts.output !== undefined
      ? "--output"
      : opts.format !== "ndjson"
        ? "--format"
        : undefined;
  if (conflicting)
    throw new UsageError(`--sql writes into a table: it cannot be combined with ${conflicting}`);
  const table = opts.sql as string;
  if (!quoteTable(table))
    throw new UsageError(
      `--sql needs a table name (letters, digits and _, optionally schema.table); got ${JSON.stringify(table)}`,
    );
  const url = opts.databaseUrl ?? (process.env.DATABASE_URL || undefined);
  if (url !== undefined && opts.dataDir !== undefined)
    throw new UsageError(
      `--data-dir is for the embedded database, but ${opts.databaseUrl ? "--database-url" : "$DATABASE_URL"} names a server: drop one of them`,
    );
  let db: SqlTap;
  try {
    db = await SqlTap.open({ url, dataDir: opts.dataDir }, table, opts.name ?? table);
  } catch (err) {
    throw new CommandFailed(`--sql: ${(err as Error).message}; nothing was read`);
  }
  try {
    return await withNats(opts, async (nc) => {
      await requireStream(nc, selection.stream);
      return writeSql(nc, selection, opts, db, table);
    });
  } finally {
    await db.close().catch(() => undefined);
  }
}

async function requireStream(nc: NatsConnection, stream: string): Promise<void> {
  try {
    await (await jetstreamManager(nc)).streams.info(stream);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
      throw new CommandFailed(
        `stream ${stream} does not exist on this server (threadline streams plan lists the declared ones)`,
      );
    throw err;
  }
}

async function codecFor(nc: NatsConnection): Promise<EventCodec> {
  try {
    return new EventCodec({ writers: await SchemaRegistry.open(nc, { readOnly: true }) });
  } catch (err) {
    if (!(err instanceof ThreadlineError)) throw err;
    process.stderr.write(`threadline: warning: ${err.message}; decoding with this program's schemas only\n`);
    return new EventCodec();
  }
}

async function write(nc: NatsConnection, selection: Selection, opts: TapFlags): Promise<number> {
  const codec = await codecFor(nc);
  const type = selection.types?.[0];
  const columns = opts.format === "csv" && type ? payloadColumns(codec.contract(type).type) : undefined;
  if (opts.format === "parquet" && type) return writeParquet(nc, selection, opts, codec, type);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const target = opts.output === undefined ? undefined : opts.follow ? opts.output : `${opts.output}.partial`;
  const out: Writable = target ? createWriteStream(target) : process.stdout;
  let broken: Error | undefined;
  out.on("error", (err) => {
    broken = err;
    stop.abort();
  });
  const put = async (text: string) => {
    if (!out.write(text)) await once(out, "drain", { signal: stop.signal }).catch(() => undefined);
  };
  let written = 0;
  let skipped = 0;
  let first: number | undefined;
  let last: number | undefined;
  try {
    if (columns) await put(csvHeader(columns));
    const read = selectMessages(nc, selection, opts.follow ? { follow: stop.signal } : {});
    for await (const m of read) {
      if (stop.signal.aborted) break;
      let line: string;
      try {
        const e = await decodeMessage(codec, m);
        line = columns ? csvRow(e, columns) : ndjsonLine(e);
      } catch (err) {
        skipped++;
        const reason = err instanceof ThreadlineError ? `${err.code}: ${err.message}` : String(err);
        process.stderr.write(`threadline: skipped seq=${m.seq} subject=${m.subject}: ${reason}\n`);
        continue;
      }
      await put(line);
      first ??= m.seq;
      last = m.seq;
      if (++written === opts.limit) break;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (out !== process.stdout) await new Promise((resolve) => out.end(resolve));
  }
  // stdout closed by the reader (`| head`): what it wanted was written.
  if (broken && (broken as NodeJS.ErrnoException).code !== "EPIPE")
    throw new CommandFailed(`cannot write ${target ?? "stdout"}: ${broken.message}`);
  const interrupted = stop.signal.aborted && !opts.follow && !broken && written !== opts.limit;
  const where = opts.output ?? "stdout";
  const range = first === undefined ? "" : ` (seq ${first}-${last})`;
  const skips = skipped > 0 ? `, ${skipped} skipped (not readable as events, see above)` : "";
  if (interrupted) {
    process.stderr.write(
      `threadline: interrupted after ${written} events${range}${skips}${target ? `; ${target} is incomplete` : ""}\n`,
    );
    return EXIT.failed;
  }
  if (target && !opts.follow && opts.output) renameSync(target, opts.output);
  process.stderr.write(`${written} events${range} to ${where}${skips}\n`);
  return EXIT.ok;
}

/** Parquet: typed columns (tools/tap/parquet.ts), written to FILE.partial and renamed once complete. */
async function writeParquet(
  nc: NatsConnection,
  selection: Selection,
  opts: TapFlags,
  codec: EventCodec,
  type: string,
): Promise<number> {
  const output = opts.output as string;
  const partial = `${output}.partial`;
  const file = new ParquetTap(partial, codec.contract(type).type);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let written = 0;
  let skipped = 0;
  try {
    for await (const m of selectMessages(nc, selection)) {
      if (stop.signal.aborted) break;
      try {
        file.add(await decodeMessage(codec, m));
      } catch (err) {
        skipped++;
        const reason = err instanceof ThreadlineError ? `${err.code}: ${err.message}` : String(err);
        process.stderr.write(`threadline: skipped seq=${m.seq} subject=${m.subject}: ${reason}\n`);
        continue;
      }
      if (++written === opts.limit) break;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const skips = skipped > 0 ? `, ${skipped} skipped (not readable as events, see above)` : "";
  if (stop.signal.aborted) {
    process.stderr.write(
      `threadline: interrupted after ${written} events${skips}; ${partial} is incomplete\n`,
    );
    return EXIT.failed;
  }
  file.finish();
  renameSync(partial, output);
  process.stderr.write(`${written} events to ${output} (Parquet)${skips}\n`);
  return EXIT.ok;
}

function printSummary(s: Selection, summary: SelectionSummary): void {
  const out = (l: string) => process.stdout.write(`${l}\n`);
  out(`dry run: ${summary.count} events in ${s.stream} match (nothing written)`);
  if (!summary.first || !summary.last) return;
  const row = (r: NonNullable<SelectionSummary["first"]>) =>
    `${String(r.seq).padStart(8)}  ${r.storedAt}  ${r.type.padEnd(42)}  ${r.key.padEnd(20)}  ${r.subject}`;
  out(`first: seq ${summary.first.seq} stored ${summary.first.storedAt}`);
  out(`last:  seq ${summary.last.seq} stored ${summary.last.storedAt}`);
  out(`${"SEQ".padStart(8)}  ${"STORED AT".padEnd(24)}  ${"TYPE".padEnd(42)}  ${"KEY".padEnd(20)}  SUBJECT`);
  for (const r of summary.sample) out(row(r));
}

/**
 * --sql: reads from after the tap's position (or the selection's start on its first run), and commits
 * rows with the position in batches (SqlTap.commit); a batch fills up to `batchRows` rows or what
 * `batchMs` brought. A failed commit stops the tap at once: nothing after it is committed, so the
 * position never passes a row that is not in the table.
 */
async function writeSql(
  nc: NatsConnection,
  selection: Selection,
  opts: TapFlags,
  db: SqlTap,
  table: string,
): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const position = await db.position();
  if (position && position.stream !== selection.stream)
    throw new CommandFailed(
      `tap ${db.name} reads stream ${position.stream}, this selection is in ${selection.stream}: give this one another --name`,
    );
  const resumed = position
    ? { ...selection, fromSequence: position.lastSeq + 1, since: undefined }
    : selection;
  if (position)
    say(
      `threadline: tap ${db.name} resumes after seq ${position.lastSeq}${
        selection.fromSequence !== undefined || selection.since
          ? " (--seq FROM and --since apply only to a tap's first run)"
          : ""
      }`,
    );
  const codec = await codecFor(nc);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let pending: TapRecord[] = [];
  let pendingLast: number | undefined;
  let committed = position?.lastSeq;
  let added = 0;
  let failure: unknown;
  let chain = Promise.resolve();
  const flush = () => {
    chain = chain.then(async () => {
      if (failure !== undefined || pendingLast === undefined) return;
      const rows = pending;
      const last = pendingLast;
      pending = [];
      pendingLast = undefined;
      try {
        const fresh = await db.commit(rows, selection.stream, last);
        added += fresh;
        committed = last;
        if (opts.follow)
          say(`threadline: committed ${rows.length} events (${fresh} new), position seq ${last}`);
      } catch (err) {
        failure = err;
        stop.abort();
      }
    });
    return chain;
  };
  const timer = setInterval(() => void flush(), SQL_TAP_DEFAULTS.batchMs);
  let read = 0;
  let skipped = 0;
  let first: number | undefined;
  let last: number | undefined;
  const pastEnd = position && selection.toSequence !== undefined && position.lastSeq >= selection.toSequence;
  try {
    const messages = pastEnd ? [] : selectMessages(nc, resumed, opts.follow ? { follow: stop.signal } : {});
    for await (const m of messages) {
      if (stop.signal.aborted) break;
      try {
        pending.push(tapRecord(await decodeMessage(codec, m)));
        first ??= m.seq;
        last = m.seq;
        read++;
      } catch (err) {
        skipped++;
        const reason = err instanceof ThreadlineError ? `${err.code}: ${err.message}` : String(err);
        say(`threadline: skipped seq=${m.seq} subject=${m.subject}: ${reason}`);
      }
      pendingLast = m.seq;
      if (pending.length >= SQL_TAP_DEFAULTS.batchRows) await flush();
      if (read === opts.limit) break;
    }
  } finally {
    clearInterval(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await flush();
  }
  if (failure !== undefined)
    throw new CommandFailed(
      `cannot write to ${table} in ${db.where}: ${(failure as Error).message ?? String(failure)}; ` +
        `committed up to seq ${committed ?? "(nothing)"}, a rerun continues from there`,
    );
  const range = first === undefined ? "" : ` (seq ${first}-${last})`;
  const skips = skipped > 0 ? `, ${skipped} skipped (not readable as events, see above)` : "";
  const summary =
    `${read} events${range} into ${table} in ${db.where}: ${added} new, ${read - added} already there${skips}; ` +
    `tap ${db.name} at seq ${committed ?? "(nothing yet)"}`;
  const interrupted = stop.signal.aborted && !opts.follow && read !== opts.limit;
  if (interrupted) {
    say(`threadline: interrupted: ${summary}; a rerun continues from there`);
    return EXIT.failed;
  }
  say(summary);
  return EXIT.ok;
}
