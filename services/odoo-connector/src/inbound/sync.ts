/**
 * The inbound sync: reads what changed in Odoo, model by model, and publishes what it means.
 *
 *     const sync = new InboundSync({ client, publisher, kv, js, db, site, lineByWorkcenter });
 *     sync.start();                       // a pass per model now, then every pollIntervalMs
 *     sync.trigger("mrp.production");     // a webhook said something changed: re-read soon
 *     await sync.stop();                  // waits for the passes under way (they stop between pages)
 *
 * A pass of a model (see cursor.ts for the reading itself): load the cursor, read from the cursor
 * minus the overlap, skip record versions already handled, map each page (mapping/*.ts), publish its
 * events (per key in order, up to maxInFlight at once), and once JetStream acknowledged them all,
 * write the page's per-record state (order snapshots), then the cursor. A crash anywhere re-reads the
 * page: its events get the same ids and the stream drops the copies. Records a mapping refuses are
 * logged, counted and dead-lettered to MFG_DLQ (dead-letters.ts); a dead letter MFG_DLQ does not take
 * waits in the state bucket, written before the cursor, and is tried again at the start of the next pass.
 *
 * Scheduling: one pass per model at a time; a trigger or a poll during a pass queues exactly one more,
 * and a trigger also asks for a follow-up pass triggerFollowUpMs later (Odoo 17 sends webhooks before
 * its transaction commits).
 * A failing model backs off (pollIntervalMs doubling up to maxBackoffMs) without holding the others;
 * while the Odoo client's circuit breaker is open, rounds are skipped.
 */

import { PayloadInvalidError } from "../../../../contracts/src/index.js";
import { backoffDelay, deadLetterRefused, type Logger, sleep } from "../../../../streams/src/index.js";
import { odooFields } from "../fields.js";
import { type ConnectorMetrics, connectorMetrics } from "../metrics.js";
import { isCircuitOpen, OdooError } from "../odoo/errors.js";
import { addMs, Cursor, CursorConflictError, digestOf, readChanges, secondOf, toSecond } from "./cursor.js";
import { DeadLetterBacklog, letterOf, type RefusalLetter, refusedMessage } from "./dead-letters.js";
import { SOURCES } from "./mapping/index.js";
import { type InboundSyncOptions, parseInboundOptions, type ResolvedInboundOptions } from "./options.js";
import {
  type Emission,
  eventIdFor,
  type InboundSource,
  type MappingContext,
  type Refusal,
  type StateWrite,
  sourceName,
  stateKeyFor,
  syncedModel,
} from "./source.js";
import { RelatedRecords } from "./values.js";

/** What one pass of one model did. */
export interface PassReport {
  readonly model: string;
  /** Records read (the overlap re-reads included). */
  read: number;
  /** Record versions not handled before, mapped. */
  handled: number;
  /** Events stored by JetStream. */
  published: number;
  /** Events the stream already had (same id): re-derived after a lost cursor update. */
  duplicates: number;
  /** Events whose payload did not fit the contract: logged and skipped until the record changes. */
  invalid: number;
  /**
   * Records refused by their mapping (master data of an unknown shape, a zero unit ratio, a BoM
   * cycle): logged with the reason, counted in threadline_odoo_masterdata_refused_total, dead-lettered
   * to mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound, never published.
   */
  refused: number;
  /**
   * Dead letters MFG_DLQ stored in this pass: of this pass's refusals and of earlier ones that had to
   * wait. A refusal it already had (the same record version, for the same reason) is not counted.
   */
  deadLettered: number;
  /** Dead letters of refusals MFG_DLQ has not stored yet, after the pass: kept, tried again next pass. */
  deadLettersPending: number;
  /** Why the pass did not run. */
  skipped?: "circuit-open" | "stopped";
  /** Why it failed (it runs again after a backoff). */
  error?: string;
}

/** Where a model's sync stands, for health checks and tests. */
export interface SourceStatus {
  readonly model: string;
  /** Passes finished (successful or not). */
  readonly passes: number;
  readonly lastSuccessAt: Date | undefined;
  /** Message of the last failure, cleared by a successful pass. */
  readonly lastError: string | undefined;
  /** Consecutive failed passes. */
  readonly failures: number;
  readonly running: boolean;
}

type SyncState = "idle" | "running" | "stopping" | "stopped";

interface Runtime {
  readonly source: InboundSource;
  /** Resolves when the last requested pass is over. */
  tail: Promise<unknown>;
  /** The pass requested and not started yet (every request meanwhile shares it). */
  queued: Promise<PassReport> | undefined;
  running: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The pass a trigger schedules after the immediate one (triggerFollowUpMs). */
  followUp: NodeJS.Timeout | undefined;
  failures: number;
  passes: number;
  lastStart: number;
  lastSuccess: number | undefined;
  lastError: string | undefined;
}

const noop = () => undefined;

export class InboundSync {
  private readonly o: ResolvedInboundOptions;
  private readonly log: Logger;
  private readonly metrics: ConnectorMetrics;
  private readonly runtimes: Runtime[];
  private abort = new AbortController();
  /** model → every field name fields_get listed (for sources' optional fields). */
  private readonly serverFields = new Map<string, Set<string>>();
  /** model → the dead letters of its refusals not stored yet (loaded from the state bucket once). */
  private readonly backlogs = new Map<string, DeadLetterBacklog>();
  private state: SyncState = "idle";
  private ageTicker: NodeJS.Timeout | undefined;

  constructor(options: InboundSyncOptions) {
    this.o = parseInboundOptions(options);
    this.log = this.o.logger.child({ component: "inbound-sync", db: this.o.db });
    this.metrics = connectorMetrics(this.o.registry);
    this.runtimes = SOURCES.filter((s) => this.o.models.includes(syncedModel(s))).map((source) => ({
      source,
      tail: Promise.resolve(),
      queued: undefined,
      running: false,
      timer: undefined,
      followUp: undefined,
      failures: 0,
      passes: 0,
      lastStart: 0,
      lastSuccess: undefined,
      lastError: undefined,
    }));
  }

  /** The Odoo models synced. */
  get models(): string[] {
    return this.runtimes.map((r) => sourceName(r.source));
  }

  /** Starts a pass of every model now, then polls each every pollIntervalMs. */
  start(): void {
    if (this.state !== "idle") throw new Error(`InboundSync.start(): the sync is ${this.state}, not idle`);
    this.state = "running";
    this.log.info(
      { models: this.models, pollIntervalMs: this.o.pollIntervalMs, overlapMs: this.o.overlapMs },
      "inbound sync started",
    );
    this.ageTicker = setInterval(() => this.updateAges(), 1_000);
    this.ageTicker.unref();
    for (const rt of this.runtimes) void this.request(rt);
  }

  /**
   * Re-reads, soon, every source a change of `model` concerns (a webhook's `_model`). Returns the
   * models whose pass was requested; empty for a model the sync does not follow. Never throws.
   */
  trigger(model: string): string[] {
    if (this.state === "stopping" || this.state === "stopped") return [];
    const hit = this.runtimes.filter((rt) => rt.source.triggeredBy.includes(model));
    for (const rt of hit) {
      // A failing model keeps its backoff: the webhook will be followed by the next attempt anyway.
      if (rt.failures > 0 && !rt.running) continue;
      void this.request(rt);
      if (this.o.triggerFollowUpMs > 0 && !rt.followUp) {
        rt.followUp = setTimeout(() => {
          rt.followUp = undefined;
          void this.request(rt);
        }, this.o.triggerFollowUpMs);
        rt.followUp.unref();
      }
    }
    return hit.map((rt) => sourceName(rt.source));
  }

  /**
   * Runs a pass of `model` (or of every model) now — after the one under way, if any — and resolves
   * with the reports. Works before start() too (a one-off sync).
   */
  async syncNow(model?: string): Promise<PassReport[]> {
    const rts =
      model === undefined ? this.runtimes : this.runtimes.filter((r) => syncedModel(r.source) === model);
    if (model !== undefined && rts.length === 0)
      throw new Error(`InboundSync.syncNow(): ${model} is not synced`);
    const reports: PassReport[] = [];
    for (const rt of rts) {
      await rt.tail;
      reports.push(await this.request(rt));
    }
    return reports;
  }

  status(): SourceStatus[] {
    return this.runtimes.map((rt) => ({
      model: sourceName(rt.source),
      passes: rt.passes,
      lastSuccessAt: rt.lastSuccess === undefined ? undefined : new Date(rt.lastSuccess),
      lastError: rt.lastError,
      failures: rt.failures,
      running: rt.running,
    }));
  }

  /**
   * Stops polling until start() again: this replica lost the lease that makes it the one syncing the
   * database (main.ts). Passes under way end after their current page. What it keeps from the state
   * bucket (the waiting dead letters) is read again on the next start: the other replica changed it.
   */
  async pause(): Promise<void> {
    if (this.state !== "running") return;
    await this.halt();
    this.abort = new AbortController();
    this.backlogs.clear();
    this.state = "idle";
    this.log.info("inbound sync paused: another replica syncs this database");
  }

  /** Stops polling; passes under way end after their current page. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const wasRunning = this.state === "running";
    await this.halt();
    this.state = "stopped";
    if (wasRunning) this.log.info("inbound sync stopped");
  }

  /** Ends polling and waits for the passes under way (they stop after their current page). */
  private async halt(): Promise<void> {
    this.state = "stopping";
    this.abort.abort();
    clearInterval(this.ageTicker);
    for (const rt of this.runtimes) {
      clearTimeout(rt.timer);
      clearTimeout(rt.followUp);
      rt.timer = undefined;
      rt.followUp = undefined;
    }
    await Promise.all(this.runtimes.map((rt) => rt.tail));
  }

  // ------------------------------------------------------------------ scheduling

  private request(rt: Runtime): Promise<PassReport> {
    if (rt.queued) return rt.queued;
    const queued = rt.tail.then(() => {
      rt.queued = undefined;
      return this.runPass(rt);
    });
    rt.queued = queued;
    rt.tail = queued.then(noop, noop);
    return queued;
  }

  private async runPass(rt: Runtime): Promise<PassReport> {
    const model = sourceName(rt.source);
    const empty: PassReport = {
      model,
      read: 0,
      handled: 0,
      published: 0,
      duplicates: 0,
      invalid: 0,
      refused: 0,
      deadLettered: 0,
      deadLettersPending: 0,
    };
    if (this.stopping) return { ...empty, skipped: "stopped" };
    clearTimeout(rt.timer);
    rt.timer = undefined;
    const wait = rt.lastStart + this.o.minPassIntervalMs - Date.now();
    if (wait > 0) await sleep(wait, this.abort.signal);
    if (this.stopping) return { ...empty, skipped: "stopped" };
    rt.lastStart = Date.now();
    rt.running = true;
    let report: PassReport = empty;
    try {
      report = await this.pass(rt.source, empty);
      if (!report.skipped) {
        rt.failures = 0;
        rt.lastSuccess = Date.now();
        rt.lastError = undefined;
      }
    } catch (err) {
      if (isCircuitOpen(err)) {
        // Refused by the breaker half-way (another caller holds the probe, or it opened): not this
        // model's failure; the next pass waits for the breaker (nextDelay).
        report = { ...report, skipped: "circuit-open" };
        return report;
      }
      rt.failures++;
      rt.lastError = (err as Error)?.message ?? String(err);
      report = { ...report, error: rt.lastError };
      const transient =
        (err instanceof OdooError && err.kind === "transient") || err instanceof CursorConflictError;
      this.log[transient ? "warn" : "error"](
        { model, err, failures: rt.failures, ...counts(report) },
        `sync of ${model} failed; trying again after a backoff`,
      );
    } finally {
      rt.running = false;
      rt.passes++;
      this.updateAges();
      if (this.state === "running" && !rt.queued) {
        rt.timer = setTimeout(() => void this.request(rt), this.nextDelay(rt));
        rt.timer.unref();
      }
    }
    return report;
  }

  private nextDelay(rt: Runtime): number {
    const poll = rt.source.referenceData ? this.o.referencePollIntervalMs : this.o.pollIntervalMs;
    if (rt.failures > 0)
      return backoffDelay(
        { initialDelayMs: poll, maxDelayMs: Math.max(poll, this.o.maxBackoffMs), multiplier: 2, jitter: 0.2 },
        rt.failures,
      );
    return this.o.client.breaker.state === "open" ? Math.max(poll, this.o.client.breaker.retryInMs) : poll;
  }

  private get stopping(): boolean {
    return this.state === "stopping" || this.state === "stopped";
  }

  private updateAges(): void {
    const now = Date.now();
    for (const rt of this.runtimes)
      if (rt.lastSuccess !== undefined)
        this.metrics.syncAge.set(
          { model: sourceName(rt.source) },
          Math.max(0, (now - rt.lastSuccess) / 1000),
        );
  }

  // ------------------------------------------------------------------ one pass

  private async pass(source: InboundSource, report: PassReport): Promise<PassReport> {
    const { client, kv, overlapMs, maxSeen } = this.o;
    if (client.breaker.state === "open") return { ...report, skipped: "circuit-open" };
    await this.detectFields(source);
    const ctx = this.context(new RelatedRecords(client));
    const name = sourceName(source);
    const backlog = await this.backlogOf(name, ctx);
    await this.retryLetters(name, backlog, report);
    const cursor = await Cursor.load(kv, ctx.stateKey(name), source.cursorField);
    const from = cursor.position ? addMs(cursor.position, -overlapMs) : toSecond(this.o.since);
    const field = source.cursorField;
    let capped = 0;
    await readChanges(
      client,
      {
        model: source.model,
        field,
        domain: source.domain(ctx),
        fields: source.fields(ctx),
        pageSize: this.o.pageSize,
        from,
        stopped: () => this.stopping,
      },
      async (rows) => {
        report.read += rows.length;
        const versions = rows.map((row) => ({
          row,
          second: secondOf(row, field),
          id: row.id,
          digest: digestOf(row),
        }));
        const fresh = versions.filter((v) => !cursor.handled(v.second, v.id, v.digest));
        if (fresh.length > 0) {
          const page = await source.map(
            fresh.map((v) => v.row),
            this.context(new RelatedRecords(client)),
          );
          await this.publishAll(page.events, report);
          await this.refuse(name, page.refusals ?? [], report, backlog);
          await this.applyWrites(page.writes);
          // The letters MFG_DLQ did not take are kept before the cursor moves past their records.
          await backlog.save(kv);
          cursor.record(fresh);
          report.handled += fresh.length;
          this.metrics.syncedRecords.inc({ model: name }, fresh.length);
        }
        for (const v of versions) cursor.advance(v.second);
        capped += cursor.prune(overlapMs, maxSeen);
        await cursor.save(kv);
      },
    );
    report.deadLettersPending = backlog.size;
    this.metrics.deadLettersPending.set({ model: name }, backlog.size);
    if (capped > 0)
      this.log.warn(
        { model: name, forgotten: capped, maxSeen },
        "more record versions in the overlap window than maxSeen: the oldest are deduplicated by event id only",
      );
    const level =
      report.published > 0 || report.invalid > 0 || report.refused > 0 || report.deadLettered > 0
        ? "info"
        : "debug";
    this.log[level]({ model: name, from, to: cursor.position, ...counts(report) }, `synced ${name}`);
    return report;
  }

  /** Publishes a page's events: per key one after the other, up to maxInFlight at once. */
  private async publishAll(events: readonly Emission[], report: PassReport): Promise<void> {
    const lastOfKey = new Map<string, Promise<void>>();
    const window = new Set<Promise<void>>();
    const all: Promise<void>[] = [];
    for (const e of events) {
      while (window.size >= this.o.maxInFlight) await Promise.race(window);
      // A failed event fails the later events of its key too: they are never stored out of order.
      const p = (lastOfKey.get(e.key) ?? Promise.resolve()).then(() => this.publishOne(e, report));
      lastOfKey.set(e.key, p);
      all.push(p);
      const slot: Promise<void> = p.then(noop, noop).finally(() => window.delete(slot));
      window.add(slot);
    }
    const failed = (await Promise.allSettled(all)).find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private async publishOne(e: Emission, report: PassReport): Promise<void> {
    try {
      const published = await this.o.publisher.publish(e.type, e.payload, {
        site: this.o.site,
        line: e.line,
        key: e.key,
        id: e.id,
        time: e.time,
      });
      if (published.ack.duplicate) report.duplicates++;
      else {
        report.published++;
        this.metrics.emitted.inc({ event_type: e.type });
      }
    } catch (err) {
      if (!(err instanceof PayloadInvalidError)) throw err;
      // Odoo data the contract cannot carry: publishing it again would fail the same way, so the
      // record is skipped until it changes in Odoo (then it is read again).
      report.invalid++;
      this.log.error({ err, eventType: e.type, key: e.key, eventId: e.id }, "event skipped: payload invalid");
    }
  }

  /**
   * Records the mapping refused: each is logged with its code and reason, counted, and dead-lettered
   * (dead-letters.ts); nothing was published for it, so readers keep its last valid version. It is
   * read again when it changes. A dead letter MFG_DLQ does not take waits in `backlog`.
   */
  private async refuse(
    model: string,
    refusals: readonly Refusal[],
    report: PassReport,
    backlog: DeadLetterBacklog,
  ): Promise<void> {
    if (refusals.length === 0) return;
    const at = new Date();
    const letters = refusals.map((r) => {
      report.refused++;
      this.metrics.refused.inc({ model: r.model, code: r.code });
      this.log.error(
        { model, record: `${r.model}:${r.odooId}`, code: r.code, reason: r.reason },
        `record refused: ${r.message}`,
      );
      return letterOf(r, this.o.db, at);
    });
    const failure = await this.sendLetters(letters, backlog, report);
    if (failure !== undefined)
      this.log.error(
        { model, err: failure, pending: backlog.size },
        "dead letters of refused records not stored in MFG_DLQ: kept, tried again on the next pass",
      );
  }

  /** Tries again the dead letters of earlier refusals that MFG_DLQ did not take. */
  private async retryLetters(model: string, backlog: DeadLetterBacklog, report: PassReport): Promise<void> {
    if (backlog.size === 0) return;
    const before = report.deadLettered;
    const failure = await this.sendLetters(backlog.letters(), backlog, report);
    await backlog.save(this.o.kv);
    this.metrics.deadLettersPending.set({ model }, backlog.size);
    if (failure !== undefined)
      this.log.warn(
        { model, err: failure, pending: backlog.size },
        "dead letters of refused records still not stored in MFG_DLQ: tried again on the next pass",
      );
    else
      this.log.info(
        { model, stored: report.deadLettered - before },
        "dead letters of earlier refusals stored in MFG_DLQ",
      );
  }

  /**
   * Publishes the letters one after the other; the one MFG_DLQ does not take waits in `backlog`, and so
   * do the rest (each would wait for the same timeout). Returns the failure, if any.
   */
  private async sendLetters(
    letters: readonly RefusalLetter[],
    backlog: DeadLetterBacklog,
    report: PassReport,
  ): Promise<unknown> {
    let failure: unknown;
    for (const letter of letters) {
      if (failure === undefined) {
        try {
          const { duplicate } = await deadLetterRefused(this.o.js, refusedMessage(letter, this.o), {
            registry: this.o.registry,
          });
          if (!duplicate) report.deadLettered++;
          backlog.stored(letter.id);
          continue;
        } catch (err) {
          failure = err ?? new Error("dead-letter publish failed");
        }
      }
      backlog.keep(letter);
    }
    return failure;
  }

  /** The backlog of a model's dead letters: loaded from the state bucket on its first pass. */
  private async backlogOf(model: string, ctx: MappingContext): Promise<DeadLetterBacklog> {
    let backlog = this.backlogs.get(model);
    if (!backlog) {
      backlog = await DeadLetterBacklog.load(this.o.kv, ctx.stateKey(model, "dead-letters"));
      this.backlogs.set(model, backlog);
      this.metrics.deadLettersPending.set({ model }, backlog.size);
    }
    return backlog;
  }

  private async applyWrites(writes: readonly StateWrite[]): Promise<void> {
    const { kv } = this.o;
    await Promise.all(
      writes.map((w) => (w.value === null ? kv.delete(w.key) : kv.put(w.key, JSON.stringify(w.value)))),
    );
  }

  /** Learns once which optional fields the server has (installed modules differ). */
  private async detectFields(source: InboundSource): Promise<void> {
    for (const model of Object.keys(source.optionalFields ?? {})) {
      if (this.serverFields.has(model)) continue;
      const all = await this.o.client.call<Record<string, unknown>>(model, "fields_get", {
        attributes: ["type"],
      });
      this.serverFields.set(model, new Set(Object.keys(all ?? {})));
    }
  }

  private context(related: RelatedRecords): MappingContext {
    const { db, kv } = this.o;
    return {
      site: this.o.site,
      db,
      fields: odooFields(this.o.client.version.major),
      client: this.o.client,
      related,
      lineByWorkcenter: this.o.lineByWorkcenter,
      state: {
        async get<T>(key: string): Promise<T | undefined> {
          const entry = await kv.get(key);
          return entry && entry.operation === "PUT" && entry.length > 0 ? entry.json<T>() : undefined;
        },
      },
      has: (model, field) => this.serverFields.get(model)?.has(field) ?? false,
      stateKey: (...parts) => stateKeyFor(db, parts),
      eventId: (...parts) => eventIdFor(db, parts),
    };
  }
}

function counts(r: PassReport) {
  return {
    read: r.read,
    handled: r.handled,
    published: r.published,
    duplicates: r.duplicates,
    invalid: r.invalid,
    refused: r.refused,
    deadLettered: r.deadLettered,
    deadLettersPending: r.deadLettersPending,
  };
}
