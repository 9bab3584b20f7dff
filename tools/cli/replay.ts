/**
 * `threadline replay`: past events again, for ops after an outage.
 *
 * - `replay --to <durable> [selection]`: the selection to ONE consumer's handlers, through its replay
 *   channel (streams/src/replay.ts), while its live durable keeps its position and keeps running.
 *   Resumable (`--job`, position in THREADLINE_REPLAY_JOBS), `--rate`, progress on stderr (a bar on a
 *   terminal, JSON lines otherwise), then waits (`--wait`) until the service acknowledged everything.
 * - `replay rewind <durable> --to-seq N | --to-time T --force`: moves a durable back (destructive).
 * - `replay copy --to-subject S | --to-server URL [selection]`: copies events keeping their ids.
 *
 * Every run that delivers or changes something is recorded in the audit trail. Exit codes: 0 done,
 * 1 failed / refused by the server / unknown durable / interrupted (run again to continue), 2 usage.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { credsAuthenticator, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  CE,
  checkReplayTarget,
  consumerConfigOf,
  deadLettersOfJob,
  dlqSubject,
  durablePosition,
  forServer,
  parseTime,
  type ReplayProgress,
  recordAudit,
  replayToDurable,
  type Selection,
  selectMessages,
  summarizeSelection,
  waitForReplayChannel,
} from "../../streams/src/index.js";
import { platformDeclarations } from "../manifests.js";
import { action, CommandFailed, EXIT, UsageError, withNats } from "./run.js";
import {
  addSelectionOptions,
  type SelectionFlags,
  selectionFlagsOf,
  selectionFrom,
} from "./selection-flags.js";

/** The defaults of `threadline replay`, in one place. */
export const REPLAY_CLI_DEFAULTS = {
  /** Seconds to wait for the service to acknowledge everything. */
  waitSeconds: 60,
  /** Rows of the dry run's sample. */
  sample: 5,
  /** Progress lines (not a TTY) at most this often. */
  progressEveryMs: 1_000,
} as const;

const out = (line = "") => process.stdout.write(`${line}\n`);
const serverOption = () =>
  new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)");
const positive = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number > 0`);
  return n;
};
const nonNegative = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number >= 0`);
  return n;
};

interface ReplayFlags extends SelectionFlags {
  server?: string;
  to?: string;
  job?: string;
  rate?: number;
  wait: number;
  dryRun?: boolean;
  json?: boolean;
}

/** `replay-<durable>-<hash of the selection flags>`: the same command again resumes the same job. */
export function defaultJobId(durable: string, flags: Record<string, string>): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([durable, flags]))
    .digest("hex")
    .slice(0, 12);
  return `replay-${durable}-${hash}`;
}

/** Progress on stderr: a one-line bar on a terminal, JSON lines otherwise. */
function progressReporter(): { report: (p: ReplayProgress) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    report: (p) => {
      const now = Date.now();
      const finished = p.sent >= p.total;
      if (!finished && now - last < (tty ? 100 : REPLAY_CLI_DEFAULTS.progressEveryMs)) return;
      last = now;
      const eta = p.etaSeconds === undefined ? undefined : Math.round(p.etaSeconds);
      if (tty) {
        const width = 30;
        const done = p.total > 0 ? Math.min(width, Math.round((p.sent / p.total) * width)) : width;
        const pct = p.total > 0 ? Math.floor((p.sent / p.total) * 100) : 100;
        process.stderr.write(
          `\r[${"#".repeat(done)}${".".repeat(width - done)}] ${p.sent}/${p.total} ${pct}% ETA ${eta === undefined ? "?" : `${eta}s`}   `,
        );
        drawn = true;
      } else {
        process.stderr.write(
          `${JSON.stringify({ progress: p.job, sent: p.sent, total: p.total, lastSequence: p.lastSequence, etaSeconds: eta ?? null })}\n`,
        );
      }
    },
    end: () => {
      if (drawn) process.stderr.write("\n");
    },
  };
}

/** Ctrl-C / SIGTERM abort the signal (the job saves its position) instead of killing the process. */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}

async function printDryRun(nc: NatsConnection, sel: Selection, what: string, json: boolean | undefined) {
  const s = await summarizeSelection(nc, sel, { sample: REPLAY_CLI_DEFAULTS.sample });
  if (json) {
    out(JSON.stringify({ dryRun: true, ...s }));
    return;
  }
  out(`dry run: ${s.count} event(s) of ${sel.stream} would be ${what}; nothing delivered`);
  if (s.first) out(`first: seq ${s.first.seq} ${s.first.storedAt} ${s.first.type} ${s.first.key}`);
  if (s.last) out(`last:  seq ${s.last.seq} ${s.last.storedAt} ${s.last.type} ${s.last.key}`);
  if (s.sample.length > 0) {
    out("sample:");
    out("  seq\tstored at\ttype\tkey\tid");
    for (const r of s.sample) out(`  ${r.seq}\t${r.storedAt}\t${r.type}\t${r.key}\t${r.id}`);
  }
}

async function replayTo(opts: ReplayFlags): Promise<number> {
  const durable = opts.to as string;
  const sel = selectionFrom(opts);
  const flags = selectionFlagsOf(opts);
  const job = opts.job ?? defaultJobId(durable, flags);
  return withNats(opts, async (nc) => {
    await checkReplayTarget(nc, sel.stream, durable);
    if (opts.dryRun) {
      await printDryRun(nc, sel, `replayed to ${durable}`, opts.json);
      return EXIT.ok;
    }
    const progress = progressReporter();
    const { signal, dispose } = interruptible();
    const audit = (outcome: "done" | "failed" | "interrupted", details: Record<string, unknown>) =>
      recordAudit(nc, {
        action: "replay",
        selection: flags,
        outcome,
        details: { to: durable, job, ...details },
      });
    let result: Awaited<ReturnType<typeof replayToDurable>>;
    try {
      result = await replayToDurable(nc, {
        selection: sel,
        durable,
        job,
        ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
        signal,
        onProgress: progress.report,
      });
    } catch (err) {
      progress.end();
      await audit("failed", { error: (err as Error).message }).catch(() => undefined);
      throw err;
    } finally {
      dispose();
    }
    progress.end();
    if (!result.complete) {
      await audit("interrupted", { sent: result.sentTotal, lastSequence: result.lastSequence });
      throw new CommandFailed(
        `interrupted after seq ${result.lastSequence} (${result.sentTotal} sent in job ${job}); run the same command again to continue`,
      );
    }
    let left = { pending: 0, ackPending: 0 };
    if (opts.wait > 0) left = await waitForReplayChannel(nc, durable, { timeoutMs: opts.wait * 1000 });
    const failed = (await deadLettersOfJob(nc, job, dlqSubject(sel.stream, durable))).length;
    const waiting = left.pending + left.ackPending;
    const summary = {
      job,
      to: durable,
      stream: sel.stream,
      sent: result.sent,
      sentTotal: result.sentTotal,
      alreadyDone: result.alreadyDone,
      lastSequence: result.lastSequence,
      handled: opts.wait > 0 ? Math.max(0, result.sentTotal - failed - waiting) : undefined,
      deadLettered: failed,
      stillQueued: waiting,
    };
    await audit(waiting > 0 ? "interrupted" : "done", summary);
    if (opts.json) out(JSON.stringify(summary));
    else if (result.alreadyDone)
      out(
        `job ${job} was already done (${result.sentTotal} event(s) sent to ${durable}); nothing sent (use another --job to replay again)`,
      );
    else
      out(
        `replayed ${result.sentTotal} event(s) of ${sel.stream} to ${durable} (job ${job}): ` +
          (opts.wait > 0
            ? `${summary.handled} handled, ${failed} dead-lettered, ${waiting} still queued`
            : "not waiting for the service (--wait 0)"),
      );
    if (waiting > 0)
      throw new CommandFailed(
        `${waiting} replayed event(s) not yet acknowledged by ${durable} after ${opts.wait}s (is the service running? its replay channel is ${durable}-replay)`,
      );
    return failed > 0 ? EXIT.failed : EXIT.ok;
  });
}

interface RewindFlags {
  server?: string;
  stream?: string;
  toSeq?: number;
  toTime?: string;
  force?: boolean;
}

/** The stream a durable reads: `--stream`, else its declaration. */
function streamOfDurable(durable: string, given: string | undefined): string {
  if (given) return given;
  const consumers = platformDeclarations().consumers;
  // A partitioned durable is declared as its partitions (`<durable>-p<i>`), on its stream.
  const decl = consumers[durable] ?? Object.values(consumers).find((c) => c.partitionOf?.durable === durable);
  if (!decl) throw new UsageError(`${durable} is not a declared durable: name its stream with --stream`);
  return decl.stream;
}

async function rewind(durable: string, opts: RewindFlags): Promise<number> {
  if ((opts.toSeq === undefined) === (opts.toTime === undefined))
    throw new UsageError("give one of --to-seq <n> or --to-time <time>");
  const at = opts.toTime !== undefined ? parseTime("--to-time", opts.toTime) : undefined;
  const stream = streamOfDurable(durable, opts.stream);
  return withNats(opts, async (nc) => {
    const before = await durablePosition(nc, stream, durable);
    const where = opts.toSeq !== undefined ? `sequence ${opts.toSeq}` : `time ${at?.toISOString()}`;
    const position = `${stream}/${durable}: delivered ${before.delivered}, ack floor ${before.ackFloor}, pending ${before.pending}, unacknowledged ${before.ackPending}`;
    out(`position: ${position}`);
    if (!opts.force) {
      process.stderr.write(
        `threadline: rewinding ${durable} to ${where} redelivers everything after it to the service; refused without --force (nothing changed)\n`,
      );
      return EXIT.usage;
    }
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const live = await jsm.consumers.info(stream, durable);
    // The declared configuration as streams apply creates it on this server (a partition durable
    // pinned to its owner from 2.11, one filter before 2.10), else the live one.
    const decl = forServer(platformDeclarations(), nc.info?.version ?? "0.0.0").consumers[durable];
    const base: Partial<ConsumerConfig> = decl ? consumerConfigOf(durable, decl) : { ...live.config };
    const config: Partial<ConsumerConfig> = { ...base, durable_name: durable };
    delete config.opt_start_seq;
    delete config.opt_start_time;
    if (opts.toSeq !== undefined) {
      config.deliver_policy = DeliverPolicy.StartSequence;
      config.opt_start_seq = opts.toSeq;
    } else {
      config.deliver_policy = DeliverPolicy.StartTime;
      config.opt_start_time = at?.toISOString() as string;
    }
    // nats-server 2.9 has no consumer reset: delete and create. A running service notices the
    // deletion and may recreate the durable at its own ack floor first: then again, a few times.
    let done = false;
    for (let i = 0; i < 5 && !done; i++) {
      await jsm.consumers.delete(stream, durable).catch((err) => {
        if (!(err instanceof JetStreamApiError)) throw err;
      });
      try {
        await jsm.consumers.add(stream, config);
      } catch (err) {
        if (!(err instanceof JetStreamApiError)) throw err;
        continue;
      }
      const now = await jsm.consumers.info(stream, durable);
      done =
        now.config.deliver_policy === config.deliver_policy &&
        (opts.toSeq === undefined || now.config.opt_start_seq === opts.toSeq);
    }
    const details = { durable, stream, to: where, before };
    if (!done) {
      await recordAudit(nc, { action: "rewind", selection: { durable, stream }, outcome: "failed", details });
      throw new CommandFailed(
        `could not rewind ${durable}: something recreated it each time (a running service?)`,
      );
    }
    await recordAudit(nc, { action: "rewind", selection: { durable, stream }, outcome: "done", details });
    out(`rewound ${stream}/${durable} to ${where}: it delivers from there again (was: ${position})`);
    return EXIT.ok;
  });
}

interface CopyFlags extends SelectionFlags {
  server?: string;
  toSubject?: string;
  toServer?: string;
  toCreds?: string;
  toUser?: string;
  toPassword?: string;
  rate?: number;
  dryRun?: boolean;
  json?: boolean;
}

async function connectTarget(opts: CopyFlags): Promise<NatsConnection> {
  if (opts.toUser !== undefined && opts.toCreds !== undefined)
    throw new UsageError("--to-user cannot be combined with --to-creds");
  return connect({
    servers: (opts.toServer as string).split(","),
    name: "threadline-cli-copy",
    ...(opts.toCreds ? { authenticator: credsAuthenticator(readFileSync(opts.toCreds)) } : {}),
    ...(opts.toUser !== undefined ? { user: opts.toUser, pass: opts.toPassword ?? "" } : {}),
  });
}

async function copy(opts: CopyFlags): Promise<number> {
  if (!opts.toSubject && !opts.toServer)
    throw new UsageError("give --to-subject <subject> or --to-server <url>");
  if (opts.toSubject !== undefined && /[\s*>]/.test(opts.toSubject))
    throw new UsageError("--to-subject must be a subject without wildcards or spaces");
  const sel = selectionFrom(opts);
  const flags = selectionFlagsOf(opts);
  return withNats(opts, async (nc) => {
    if (opts.dryRun) {
      await printDryRun(nc, sel, `copied to ${opts.toSubject ?? opts.toServer}`, opts.json);
      return EXIT.ok;
    }
    const target = opts.toServer ? await connectTarget(opts) : nc;
    const { signal, dispose } = interruptible();
    const js = jetstream(target);
    let copied = 0;
    let duplicates = 0;
    const started = Date.now();
    const details = () => ({ toSubject: opts.toSubject, toServer: opts.toServer, copied, duplicates });
    try {
      for await (const m of selectMessages(nc, sel)) {
        if (signal.aborted) break;
        const h = natsHeaders();
        for (const k of m.headers?.keys() ?? []) {
          if (/^nats-/i.test(k)) continue;
          for (const v of m.headers?.values(k) ?? []) h.append(k, v);
        }
        // The event keeps its id: the copy's dedup id is the original's (or its ce-id).
        const id = m.headers?.get("Nats-Msg-Id") || m.headers?.get(CE.id) || `${sel.stream}:${m.seq}`;
        const ack = await js.publish(opts.toSubject ?? m.subject, m.data, { headers: h, msgID: id });
        if (ack.duplicate) duplicates++;
        else copied++;
        if (opts.rate !== undefined) {
          const due = started + ((copied + duplicates) / opts.rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      }
    } catch (err) {
      await recordAudit(nc, {
        action: "copy",
        selection: flags,
        outcome: "failed",
        details: { ...details(), error: (err as Error).message },
      }).catch(() => undefined);
      throw err;
    } finally {
      dispose();
      if (target !== nc) await target.close();
    }
    const outcome = signal.aborted ? "interrupted" : "done";
    await recordAudit(nc, { action: "copy", selection: flags, outcome, details: details() });
    const summary = { ...details(), stream: sel.stream, outcome };
    if (opts.json) out(JSON.stringify(summary));
    else
      out(
        `copied ${copied} event(s) of ${sel.stream} to ${opts.toSubject ?? "the same subjects"}${opts.toServer ? ` on ${opts.toServer}` : ""}, ids kept${duplicates > 0 ? `; ${duplicates} already there` : ""}`,
      );
    return signal.aborted ? EXIT.failed : EXIT.ok;
  });
}

export function replayCommand(): Command {
  const cmd = new Command("replay").description(
    "replay past events to one consumer beside its live durable (threadline replay --to <durable> …), rewind a durable, or copy events elsewhere",
  );
  // The default subcommand: `threadline replay --to <durable> …` (its own options, apart from rewind's and copy's).
  const to = cmd
    .command("run", { isDefault: true })
    .description(
      "(the default) replay the selection to one durable's handlers through its replay channel; its service keeps running: threadline replay --to <durable> [selection]",
    )
    .addOption(serverOption())
    .option("--to <durable>", "the durable whose handlers get the events (its service keeps running)")
    .option(
      "--job <id>",
      "job id: running it again continues where it stopped (default: from --to and the selection)",
    )
    .option("--rate <events/s>", "events per second at most", positive("--rate"))
    .option(
      "--wait <seconds>",
      "wait until the service acknowledged everything (0: do not wait)",
      nonNegative("--wait"),
      REPLAY_CLI_DEFAULTS.waitSeconds,
    )
    .option("--dry-run", "count and show the selection; deliver nothing")
    .option("--json", "print the summary as JSON");
  addSelectionOptions(to);
  to.action(
    action(async (opts: ReplayFlags) => {
      if (!opts.to) throw new UsageError("--to <durable> is required (or use replay rewind / replay copy)");
      return replayTo(opts);
    }),
  );

  cmd
    .command("rewind")
    .description(
      "move a durable back to a sequence or time (destructive: refused without --force; prints where it was)",
    )
    .argument("<durable>", "the durable to rewind")
    .addOption(serverOption())
    .option("--stream <name>", "its stream (default: the declared durable's)")
    .option("--to-seq <n>", "deliver again from this stream sequence", (v) => {
      if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError("--to-seq must be a sequence >= 1");
      return Number(v);
    })
    .option("--to-time <time>", "deliver again from this stored time (ISO-8601 or relative: 2h)")
    .option("--force", "do it")
    .action(action(async (durable: string, opts: RewindFlags) => rewind(durable, opts)));

  const copyCmd = cmd
    .command("copy")
    .description("copy the selection to another subject or server, keeping each event's id and headers")
    .addOption(serverOption())
    .option("--to-subject <subject>", "publish every copy on this subject")
    .option("--to-server <url>", "publish on the same subjects on another server (a test environment)")
    .option("--to-creds <file>", "credentials file for --to-server")
    .option("--to-user <user>", "user for --to-server")
    .option("--to-password <password>", "password for --to-server")
    .option("--rate <events/s>", "events per second at most", positive("--rate"))
    .option("--dry-run", "count and show the selection; copy nothing")
    .option("--json", "print the summary as JSON");
  addSelectionOptions(copyCmd);
  copyCmd.action(action(async (opts: CopyFlags) => copy(opts)));
  return cmd;
}
