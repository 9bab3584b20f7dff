/**
 * Redrive: each selected dead letter goes back to the ONE consumer that dead-lettered it, through
 * its replay channel (streams/src/replay.ts) — never to every consumer of the stream — as a delivery
 * of kind `redrive` carrying `Threadline-Redrive-Count` (previous + 1) and the dead letter's MFG_DLQ
 * sequence. The service settles it: handled, it removes that dead letter from MFG_DLQ, then acks;
 * failing for good, it dead-letters it again (with the new count) and removes the old one. So the
 * DLQ keeps exactly one dead letter per event still failing, and only the service, which knows the
 * outcome, deletes. A dead letter redriven `maxRedrives` times is skipped (listed), as are those no
 * durable can take back (a producer's refusal, a consumer without a replay channel).
 */
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sleep } from "./backoff.js";
import { readDeadLetter } from "./dead-letter.js";
import { ConfigError } from "./errors.js";
import { DLQ_STREAM } from "./names.js";
import { readMessages } from "./read.js";
import { REPLAY_HEADERS, REPLAY_STREAM, replayDurable, replaySubject } from "./replay.js";
import { replayHeaders } from "./replay-job.js";

/** Which dead letters. */
export interface DeadLetterFilter {
  /** The original stream (`MFG_PRODUCTION`). */
  readonly stream?: string;
  /** The durable that dead-lettered them. */
  readonly consumer?: string;
  /** `Threadline-Dlq-Code`. */
  readonly code?: string;
  /** `ce-type`. */
  readonly type?: string;
  /** Stored in MFG_DLQ at or after / before. */
  readonly since?: Date;
  readonly until?: Date;
  /** MFG_DLQ sequences, both ends included. */
  readonly fromSequence?: number;
  readonly toSequence?: number;
}

export interface RedriveOptions {
  readonly filter: DeadLetterFilter;
  /** @default 3 */
  readonly maxRedrives?: number;
  /** Count and list, deliver nothing. @default false */
  readonly dryRun?: boolean;
  /** The job id in the deliveries' headers. @default `redrive-<time>` */
  readonly job?: string;
  /** Dead letters per second at most. @default unlimited */
  readonly rate?: number;
}

/** One dead letter and what the redrive did with it. */
export interface RedriveItem {
  readonly dlqSequence: number;
  readonly stream: string;
  readonly sequence: number | undefined;
  readonly consumer: string;
  readonly code: string;
  readonly type: string;
  readonly eventId: string;
  /** Redrives before this one. */
  readonly redriveCount: number;
  readonly action: "redriven" | "would-redrive" | "skipped";
  /** Why it was skipped. */
  readonly reason?: string;
}

export interface RedriveResult {
  readonly job: string;
  readonly items: readonly RedriveItem[];
}

export const REDRIVE_DEFAULTS = { maxRedrives: 3 } as const;

/** The server-side filter of a DLQ read: `mfg.dlq.<stream>.<consumer>` with wildcards. */
function dlqFilter(f: DeadLetterFilter): string | undefined {
  if (!f.stream && !f.consumer) return undefined;
  return `mfg.dlq.${f.stream ?? "*"}.${f.consumer ?? "*"}`;
}

/** Redrives (or, dry, lists) the dead letters the filter selects. */
export async function redriveDeadLetters(nc: NatsConnection, o: RedriveOptions): Promise<RedriveResult> {
  const max = o.maxRedrives ?? REDRIVE_DEFAULTS.maxRedrives;
  if (!Number.isInteger(max) || max < 0)
    throw new ConfigError("--max-redrives", `must be an integer >= 0 (got ${max})`);
  if (o.rate !== undefined && !(o.rate > 0)) throw new ConfigError("--rate", `must be > 0 (got ${o.rate})`);
  const f = o.filter;
  const job = o.job ?? `redrive-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const channels = new Map<string, boolean>();
  const hasChannel = async (consumer: string) => {
    let ok = channels.get(consumer);
    if (ok === undefined) {
      try {
        await jsm.consumers.info(REPLAY_STREAM, replayDurable(consumer));
        ok = true;
      } catch (err) {
        if (!(err instanceof JetStreamApiError)) throw err;
        if (err.code !== JetStreamApiCodes.ConsumerNotFound && err.code !== JetStreamApiCodes.StreamNotFound)
          throw err;
        ok = false;
      }
      channels.set(consumer, ok);
    }
    return ok;
  };
  const items: RedriveItem[] = [];
  const filter = dlqFilter(f);
  const started = Date.now();
  let sent = 0;
  for await (const m of readMessages(nc, {
    stream: DLQ_STREAM,
    ...(filter ? { filter } : {}),
    ...(f.fromSequence !== undefined ? { fromSequence: f.fromSequence } : {}),
    ...(f.toSequence !== undefined ? { toSequence: f.toSequence } : {}),
    ...(f.since ? { since: f.since } : {}),
    ...(f.until ? { until: f.until } : {}),
  })) {
    let letter: ReturnType<typeof readDeadLetter>;
    try {
      letter = readDeadLetter(m);
    } catch {
      continue; // not a dead letter: nothing to give back
    }
    if (f.code !== undefined && letter.code !== f.code) continue;
    const type = letter.headers.get("ce-type") ?? "";
    if (f.type !== undefined && type !== f.type) continue;
    const count = Number(m.headers?.get(REPLAY_HEADERS.redriveCount) || "0") || 0;
    const base = {
      dlqSequence: m.seq,
      stream: letter.stream,
      sequence: letter.sequence,
      consumer: letter.consumer,
      code: letter.code,
      type,
      eventId: letter.headers.get("ce-id") ?? "",
      redriveCount: count,
    };
    if (letter.sequence === undefined) {
      items.push({
        ...base,
        action: "skipped",
        reason: "a producer's refusal: no durable to give it back to",
      });
      continue;
    }
    if (count >= max) {
      items.push({
        ...base,
        action: "skipped",
        reason: `redriven ${count} time(s) already (--max-redrives ${max})`,
      });
      continue;
    }
    if (!(await hasChannel(letter.consumer))) {
      items.push({
        ...base,
        action: "skipped",
        reason: `${letter.consumer} has no replay channel (threadline streams apply)`,
      });
      continue;
    }
    if (o.dryRun) {
      items.push({ ...base, action: "would-redrive" });
      continue;
    }
    await js.publish(replaySubject(letter.consumer), m.data, {
      headers: replayHeaders(letter.headers, {
        kind: "redrive",
        job,
        stream: letter.stream,
        sequence: letter.sequence,
        subject: letter.subject,
        redriveCount: count + 1,
        dlqSequence: m.seq,
      }),
      // One redrive per dead letter: running the command again does not deliver it twice.
      msgID: `redrive:${DLQ_STREAM}:${m.seq}`,
      expect: { streamName: REPLAY_STREAM },
    });
    sent++;
    items.push({ ...base, action: "redriven" });
    if (o.rate !== undefined) {
      const due = started + (sent / o.rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  return { job, items };
}

/**
 * Waits until the redriven dead letters left MFG_DLQ (their deliveries settled), or the timeout.
 * Returns the MFG_DLQ sequences still there.
 */
export async function waitForRedriven(
  nc: NatsConnection,
  dlqSequences: readonly number[],
  o: { timeoutMs: number; intervalMs?: number },
): Promise<number[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const deadline = Date.now() + o.timeoutMs;
  let left = [...dlqSequences];
  for (;;) {
    const still: number[] = [];
    for (const seq of left) {
      try {
        // nats.js answers null for a message that is gone.
        if (await jsm.streams.getMessage(DLQ_STREAM, { seq })) still.push(seq);
      } catch (err) {
        if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.NoMessageFound) throw err;
      }
    }
    left = still;
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(Math.min(o.intervalMs ?? 250, Math.max(0, deadline - Date.now())));
  }
}

/**
 * The dead letters a replay or redrive job produced (its deliveries that failed for good), as MFG_DLQ
 * sequences; `subject` narrows the read (`mfg.dlq.<stream>.<durable>`).
 */
export async function deadLettersOfJob(nc: NatsConnection, job: string, subject?: string): Promise<number[]> {
  const seqs: number[] = [];
  for await (const m of readMessages(nc, {
    stream: DLQ_STREAM,
    ...(subject ? { filter: subject } : {}),
    headersOnly: true,
    ifMissing: "empty",
  }))
    if (m.headers?.get(REPLAY_HEADERS.job) === job) seqs.push(m.seq);
  return seqs;
}
