/**
 * Dead letters as the console shows and works them, through the same functions as `threadline dlq`
 * (streams/src/dlq.ts, redrive.ts): a filtered list, one letter with its reason, headers and decoded
 * payload, and redrive and purge, each with a dry run that says exactly what would happen. Every redrive
 * and purge is written to the ops audit trail with the signed-in user.
 */

import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../../contracts/src/index.js";
import {
  ConfigError,
  type DeadLetterEntry,
  DLQ_STREAM,
  deadLetterAt,
  deadLetterHeaders,
  deadLetterSummary,
  deadLettersOfJob,
  decodeDeadLetter,
  parseDlqFilter,
  purgeDeadLetters,
  REDRIVE_DEFAULTS,
  type RedriveItem,
  readDeadLetters,
  recordAudit,
  redriveDeadLetters,
  waitForRedriven,
} from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";

/** The list's filter as the API takes it (strings, like `threadline dlq list`'s flags). */
export interface DeadLetterQuery {
  readonly stream?: string | undefined;
  readonly consumer?: string | undefined;
  readonly code?: string | undefined;
  readonly type?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  /** Free text in the key, the reason's message or the subject. */
  readonly text?: string | undefined;
}

/** The newest this many are listed; the answer says how many matched in all. */
export const LIST_LIMIT = 500;

export class DeadLetters {
  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: EventCodec,
  ) {}

  /**
   * The newest {@link LIST_LIMIT} matching dead letters and how many matched: read one at a time, only
   * their summaries kept (never their payloads), so a dead-letter stream of gigabytes is listed in the
   * memory of a few hundred.
   */
  async list(query: DeadLetterQuery) {
    const text = query.text?.toLowerCase();
    const newest: ReturnType<typeof deadLetterSummary>[] = [];
    let total = 0;
    for await (const d of readDeadLetters(this.nc, this.#filter(query), { cleanup: "expire" })) {
      if (
        text &&
        ![d.key, d.letter.message, d.letter.subject, d.letter.code].some((v) =>
          v?.toLowerCase().includes(text),
        )
      )
        continue;
      total++;
      newest.push(deadLetterSummary(d));
      if (newest.length > LIST_LIMIT) newest.shift();
    }
    return { total, items: newest.reverse() };
  }

  /** One dead letter, whole: its reason, headers, and payload decoded (or why it does not decode). */
  async show(seq: number) {
    const d = await this.#get(seq);
    return {
      ...deadLetterSummary(d),
      headers: deadLetterHeaders(d),
      payload: await decodeDeadLetter(this.codec, d),
    };
  }

  /**
   * Redrives the given dead letters to the consumers that dead-lettered them; dry, says which would go
   * and which would be skipped (and why). Waits up to `waitMs` for the service to handle them, then
   * audits the outcome: handled, failed again (back in MFG_DLQ), or still waiting.
   */
  async redrive(sequences: readonly number[], o: { dryRun: boolean; waitMs: number; who: string }) {
    // One job for the request: its deliveries are found again with one scan, and audited together.
    const job = `console-redrive-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const items: (RedriveItem | { dlqSequence: number; action: "skipped"; reason: string })[] = [];
    let outcome: "done" | "failed" = "failed";
    let stillWaiting: number[] = [];
    let failedAgain: number[] = [];
    let error: string | undefined;
    try {
      for (const seq of sequences) {
        const result = await redriveDeadLetters(this.nc, {
          filter: { fromSequence: seq, toSequence: seq },
          dryRun: o.dryRun,
          maxRedrives: REDRIVE_DEFAULTS.maxRedrives,
          job,
        });
        // Gone meanwhile (redriven or purged by someone else): said, and the others still go.
        if (result.items.length === 0)
          items.push({
            dlqSequence: seq,
            action: "skipped",
            reason: `not in ${DLQ_STREAM} any more (redriven or purged meanwhile)`,
          });
        else items.push(...result.items);
      }
      if (o.dryRun) return { dryRun: true, items };
      const redriven = items.filter((i) => i.action === "redriven").map((i) => i.dlqSequence);
      if (redriven.length > 0) {
        stillWaiting = await waitForRedriven(this.nc, redriven, { timeoutMs: o.waitMs });
        failedAgain = await deadLettersOfJob(this.nc, job);
      }
      const handled = redriven.length - stillWaiting.length - failedAgain.length;
      outcome = stillWaiting.length > 0 || failedAgain.length > 0 ? "failed" : "done";
      return { dryRun: false, job, items, handled: Math.max(0, handled), failedAgain, stillWaiting };
    } catch (err) {
      error = (err as Error).message;
      throw err;
    } finally {
      // Whatever happened once a delivery may have gone out is in the audit trail.
      if (!o.dryRun)
        await recordAudit(
          this.nc,
          {
            action: "redrive",
            selection: { sequences: [...sequences], via: "ops-console" },
            outcome,
            details: {
              job,
              redriven: items.filter((i) => i.action === "redriven").map((i) => i.dlqSequence),
              skipped: items
                .filter((i) => i.action === "skipped")
                .map((i) => ({ dlqSequence: i.dlqSequence, reason: i.reason })),
              stillInDlq: stillWaiting,
              deadLetteredAgain: failedAgain,
              ...(error ? { error } : {}),
            },
          },
          { who: o.who },
        );
    }
  }

  /** Deletes the given dead letters (audited); dry, lists them. */
  async purge(sequences: readonly number[], o: { dryRun: boolean; who: string }) {
    const found: DeadLetterEntry[] = [];
    for (const seq of sequences) found.push(await this.#get(seq));
    if (o.dryRun) return { dryRun: true, items: found.map(deadLetterSummary) };
    const result = await purgeDeadLetters(this.nc, found, {
      selection: { sequences: [...sequences], via: "ops-console" },
      who: o.who,
    });
    if (result.failure)
      throw new ConsoleError(
        ConsoleErrorCode.UpstreamFailed,
        `purge stopped after ${result.deleted} of ${result.matched}: ${result.failure.message} (recorded in the audit trail)`,
      );
    return { dryRun: false, deleted: result.deleted, alreadyGone: result.alreadyGone };
  }

  #filter(query: DeadLetterQuery) {
    try {
      return parseDlqFilter(query);
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConsoleError(ConsoleErrorCode.RequestInvalid, `query.${err.message.replace(/^--/, "")}`);
      throw err;
    }
  }

  async #get(seq: number): Promise<DeadLetterEntry> {
    let found: DeadLetterEntry | undefined;
    try {
      found = await deadLetterAt(this.nc, seq);
    } catch (err) {
      throw new ConsoleError(
        ConsoleErrorCode.NotFound,
        `message ${seq} of ${DLQ_STREAM} is not a dead letter: ${(err as Error).message}`,
      );
    }
    if (!found)
      throw new ConsoleError(ConsoleErrorCode.NotFound, `dead letter ${seq} is not in ${DLQ_STREAM}`);
    return found;
  }
}
