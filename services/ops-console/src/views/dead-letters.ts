/**
 * Dead letters as the console shows and works them, through the same functions as `threadline dlq`
 * (streams/src/dlq.ts, redrive.ts): a filtered list, one letter with its reason, headers and decoded
 * payload, and redrive and purge, each with a dry run that says exactly what would happen. Every redrive
 * and purge is written to the ops audit trail with the signed-in user.
 */

import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../../contracts/src/index.js";
import {
  ConfigError,
  type DeadLetterEntry,
  DLQ_STREAM,
  deadLetterEntry,
  deadLetterHeaders,
  deadLetterSummary,
  deadLettersOfJob,
  decodeDeadLetter,
  isNoMessage,
  listDeadLetters,
  parseDlqFilter,
  purgeDeadLetters,
  REDRIVE_DEFAULTS,
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

  async list(query: DeadLetterQuery) {
    const found = await listDeadLetters(this.nc, this.#filter(query));
    const text = query.text?.toLowerCase();
    const matching = text
      ? found.filter((d) =>
          [d.key, d.letter.message, d.letter.subject, d.letter.code].some((v) =>
            v?.toLowerCase().includes(text),
          ),
        )
      : found;
    return {
      total: matching.length,
      items: matching.slice(-LIST_LIMIT).reverse().map(deadLetterSummary),
    };
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
    const items = [];
    const jobs: string[] = [];
    for (const seq of sequences) {
      const result = await redriveDeadLetters(this.nc, {
        filter: { fromSequence: seq, toSequence: seq },
        dryRun: o.dryRun,
        maxRedrives: REDRIVE_DEFAULTS.maxRedrives,
      });
      if (result.items.length === 0)
        throw new ConsoleError(
          ConsoleErrorCode.NotFound,
          `dead letter ${seq} is not in ${DLQ_STREAM} (redriven or purged meanwhile?)`,
        );
      items.push(...result.items);
      jobs.push(result.job);
    }
    if (o.dryRun) return { dryRun: true, items };
    const redriven = items.filter((i) => i.action === "redriven").map((i) => i.dlqSequence);
    const stillWaiting =
      redriven.length > 0 ? await waitForRedriven(this.nc, redriven, { timeoutMs: o.waitMs }) : [];
    const failedAgain = (await Promise.all(jobs.map((j) => deadLettersOfJob(this.nc, j)))).flat();
    const handled = redriven.filter((s) => !stillWaiting.includes(s)).length - failedAgain.length;
    await recordAudit(
      this.nc,
      {
        action: "redrive",
        selection: { sequences: [...sequences], via: "ops-console" },
        outcome: stillWaiting.length > 0 || failedAgain.length > 0 ? "failed" : "done",
        details: {
          jobs,
          redriven,
          skipped: items
            .filter((i) => i.action === "skipped")
            .map((i) => ({ dlqSequence: i.dlqSequence, reason: i.reason })),
          stillInDlq: stillWaiting,
          deadLetteredAgain: failedAgain,
        },
      },
      { who: o.who },
    );
    return { dryRun: false, items, handled, failedAgain, stillWaiting };
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
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    const stored = await jsm.streams.getMessage(DLQ_STREAM, { seq }).catch((err: unknown) => {
      if (isNoMessage(err)) return null;
      throw err;
    });
    if (!stored)
      throw new ConsoleError(ConsoleErrorCode.NotFound, `dead letter ${seq} is not in ${DLQ_STREAM}`);
    try {
      return deadLetterEntry({
        seq: stored.seq,
        subject: stored.subject,
        headers: stored.header,
        data: stored.data,
        timestampNanos: BigInt(stored.time.getTime()) * 1_000_000n,
      });
    } catch (err) {
      throw new ConsoleError(
        ConsoleErrorCode.NotFound,
        `message ${seq} of ${DLQ_STREAM} is not a dead letter: ${(err as Error).message}`,
      );
    }
  }
}
