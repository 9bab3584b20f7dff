/**
 * The projection's writer: the consumers' handlers hand it events and wait; it writes them in batches
 * (one transaction per batch: a commit per event would cap ingest at the database's commit rate).
 *
 * A batch that fails is written again one event per transaction, so one event the database refuses
 * (a quantity out of range, a key too long) fails alone — its handler gets a permanent error and the
 * event goes to the dead-letter stream — while the rest of the batch commits. A database that does
 * not answer fails every handler with a retryable error: the events wait in the stream.
 *
 * Every transaction holds the shared side of SWITCH_LOCK: a rebuild's switch-over (schema.ts) takes it
 * alone, so no write lands in the schema being replaced after the rebuild caught up with it.
 *
 * Several replicas write one graph at once: a transaction the server aborts to break a deadlock with
 * another replica's (or a serialization failure) is run again at once, a few times, rather than
 * failing its whole batch back to the stream for a redelivery half a minute later.
 */
import type { Database } from "../../../../streams/src/index.js";
import { PermanentError, RetryableError } from "../../../../streams/src/index.js";
import { applyEvents, type ProjectedEvent } from "./projection.js";
import { SWITCH_LOCK } from "./schema.js";

export interface ProjectionWriterOptions {
  /** Events per transaction at most. @default 256 */
  readonly maxBatch?: number;
  /** How long the first event of a batch waits for others. @default 5 */
  readonly lingerMs?: number;
  /** Told of every batch committed (events applied now, events already there, ms). */
  readonly onBatch?: (applied: number, duplicates: number, ms: number) => void;
}

interface Pending {
  readonly event: ProjectedEvent;
  resolve(): void;
  reject(err: unknown): void;
}

/** SQLSTATE classes of data the database refuses (22: data exception, 23: integrity constraint). */
const REFUSED = /^(22|23)/;
/** SQLSTATEs of a transaction aborted only for running beside another: deadlock, serialization failure. */
const CONTENDED = new Set(["40P01", "40001"]);
/** Runs of one transaction that lost to another writer, at most, before its batch fails as unavailable. */
const CONTENDED_ATTEMPTS = 5;

export class ProjectionWriter {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(
    private readonly db: Database,
    /** The schema written; read on every batch, so a switch-over by name needs nothing here. */
    private readonly schema: string,
    private readonly options: ProjectionWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.lingerMs = options.lingerMs ?? 5;
  }

  /** Resolves once the event is in the graph (now or before); rejects with a Permanent or Retryable error. */
  write(event: ProjectedEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.lingerMs);
    });
  }

  /** Waits for what was handed over so far. */
  async drain(): Promise<void> {
    this.kick();
    await this.flushing;
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      while (this.queue.length > 0) await this.flush(this.queue.splice(0, this.maxBatch));
    });
  }

  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const applied = await this.commit(batch.map((p) => p.event));
      for (const p of batch) p.resolve();
      this.options.onBatch?.(applied, batch.length - applied, performance.now() - started);
      return;
    } catch (err) {
      if (!refusedByDatabase(err)) {
        for (const p of batch) p.reject(unavailable(err));
        return;
      }
    }
    // One of them is refused: find it by writing each alone.
    for (const p of batch) {
      try {
        const applied = await this.commit([p.event]);
        p.resolve();
        this.options.onBatch?.(applied, 1 - applied, 0);
      } catch (err) {
        p.reject(
          refusedByDatabase(err)
            ? new PermanentError(
                "GENEALOGY_EVENT_UNUSABLE",
                `${p.event.type} ${p.event.id} cannot be put in the lot graph: ${(err as Error).message}`,
                { cause: err },
              )
            : unavailable(err),
        );
      }
    }
  }

  private async commit(events: readonly ProjectedEvent[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          await tx.query("SELECT pg_advisory_xact_lock_shared($1)", [SWITCH_LOCK]);
          return (await applyEvents(tx, this.schema, events)).length;
        });
      } catch (err) {
        if (!contended(err) || attempt >= CONTENDED_ATTEMPTS) throw err;
        // A short random wait: the two losers of one deadlock do not meet again at once.
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }
}

function contended(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && CONTENDED.has(code);
}

/** True when the database refused the data (not when it is unreachable or busy). */
export function refusedByDatabase(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && REFUSED.test(code);
}

function unavailable(err: unknown): RetryableError {
  return new RetryableError(
    "GENEALOGY_DATABASE_UNAVAILABLE",
    `the genealogy database did not take the events: ${(err as Error).message || String(err)}`,
    { cause: err },
  );
}
