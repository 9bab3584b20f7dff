/**
 * Replays from the console, through the same functions as `threadline replay --to` (streams/src/
 * replay-job.ts): a preview (the dry run: how many events, the first, the last, a sample, and that the
 * durable has its replay channel), a job started in the background with its progress, and a stop. The
 * job's position is saved as it goes, so a stopped job (or one whose console stopped) resumes where it
 * was when started again with the same id. Every start, stop and end is in the audit trail.
 *
 * A stop may reach any replica: it is written to the sessions bucket (`replay-stop.<job>`), which every
 * replica watches, and the one running the job stops it.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENT_TYPES } from "../../../../contracts/src/index.js";
import {
  ConfigError,
  checkReplayTarget,
  deadLettersOfJob,
  dlqSubject,
  domainStream,
  type Logger,
  parseSelection,
  REPLAY_JOBS_BUCKET,
  REPLAY_STREAM,
  type ReplayProgress,
  ReplayTargetError,
  recordAudit,
  replayDurable,
  replayJobState,
  replayToDurable,
  type Selection,
  type SelectionInput,
  summarizeSelection,
} from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";

export interface ReplayRequest extends SelectionInput {
  readonly stream: string;
  /** The live durable whose handlers get the events (through its replay channel). */
  readonly durable: string;
  /** Events per second at most. */
  readonly rate?: number | undefined;
  /** A job of this console to resume from its saved position (same selection). @default a new job */
  readonly job?: string | undefined;
}

export interface ReplayJobView {
  readonly job: string;
  readonly stream: string;
  readonly durable: string;
  readonly selection: SelectionInput;
  readonly who: string;
  readonly startedAt: string;
  readonly state: "running" | "done" | "stopped" | "failed";
  readonly sent: number;
  readonly total: number | null;
  readonly lastSequence: number;
  readonly etaSeconds: number | null;
  readonly endedAt: string | null;
  readonly error: string | null;
  /** Of the events sent, how many the durable dead-lettered (counted at the end). */
  readonly deadLettered: number | null;
}

/** A job known only by its saved position: done, or running on another replica, or stopped there. */
export interface SavedJobView {
  readonly job: string;
  readonly stream: string;
  readonly durable: string;
  readonly state: "done" | "elsewhere";
  readonly sent: number;
  readonly lastSequence: number;
  readonly endSequence: number;
}

const STOP_PREFIX = "replay-stop";
/** The streams a durable may read: one per domain of the catalogue (`mfg.<domain>.…` → MFG_<DOMAIN>). */
const DOMAIN_STREAMS = [...new Set(EVENT_TYPES.map((t) => domainStream(t.split(".")[1]!)))];
/** Finished jobs kept in the list. */
const KEEP = 50;

export class Replays {
  readonly #jobs = new Map<string, ReplayJobView & { abort?: AbortController }>();
  readonly #stopWatch: AbortController = new AbortController();
  /** The running jobs' ends (their last audit record written), awaited by {@link close}. */
  readonly #running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  /** Watches the stop requests of every replica. */
  async start(): Promise<void> {
    const watch = await this.kv.watch({ key: `${STOP_PREFIX}.>` });
    this.#stopWatch.signal.addEventListener("abort", () => watch.stop());
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== "PUT") continue;
        const job = e.key.slice(STOP_PREFIX.length + 1);
        this.#jobs.get(job)?.abort?.abort();
      }
    })().catch((err: unknown) => this.logger.warn({ err }, "replay stop watch ended"));
  }

  /** The durables a replay can go to: those with a replay channel, by the stream they read. */
  async targets(): Promise<{ stream: string; durable: string }[]> {
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    const channels: string[] = [];
    for await (const ci of jsm.consumers.list(REPLAY_STREAM))
      if (ci.name.endsWith("-replay")) channels.push(ci.name.slice(0, -"-replay".length));
    const out: { stream: string; durable: string }[] = [];
    for (const durable of channels.sort())
      for (const stream of DOMAIN_STREAMS)
        if (
          await jsm.consumers.info(stream, durable).then(
            () => true,
            () => false,
          )
        ) {
          out.push({ stream, durable });
          break;
        }
    return out;
  }

  /** The dry run: what would be replayed, and that the durable can take it. Nothing is delivered. */
  async preview(request: ReplayRequest) {
    const selection = await this.#checked(request);
    const summary = await summarizeSelection(this.nc, selection, { sample: 5, cleanup: "expire" });
    return {
      stream: request.stream,
      durable: request.durable,
      channel: replayDurable(request.durable),
      ...summary,
    };
  }

  /** Starts the job in the background; resolves once it runs, with its id. */
  async begin(request: ReplayRequest, who: string): Promise<ReplayJobView> {
    const selection = await this.#checked(request);
    const job = request.job ?? `console-${request.durable}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    if (this.#jobs.get(job)?.state === "running")
      throw new ConsoleError(ConsoleErrorCode.RequestInvalid, `replay ${job} is running already`);
    const abort = new AbortController();
    const flags = selectionFlags(request);
    const view = {
      job,
      stream: request.stream,
      durable: request.durable,
      selection: flags,
      who,
      startedAt: new Date().toISOString(),
      state: "running" as const,
      sent: 0,
      total: null,
      lastSequence: 0,
      etaSeconds: null,
      endedAt: null,
      error: null,
      deadLettered: null,
      abort,
    };
    this.#jobs.set(job, view);
    this.#trim();
    const audit = (
      outcome: "started" | "done" | "failed" | "interrupted",
      details: Record<string, unknown>,
    ) =>
      recordAudit(
        this.nc,
        {
          action: "replay",
          selection: { ...flags, via: "ops-console" },
          outcome,
          details: { to: request.durable, job, ...details },
        },
        { who },
      ).catch((err: unknown) =>
        this.logger.error({ err, job }, "replay: the audit record could not be written"),
      );
    const update = (p: Partial<ReplayJobView>) => this.#jobs.set(job, { ...this.#jobs.get(job)!, ...p });
    // Written before anything is sent: a replay the trail does not know of never starts.
    try {
      await recordAudit(
        this.nc,
        {
          action: "replay",
          selection: { ...flags, via: "ops-console" },
          outcome: "started",
          details: { to: request.durable, job, ...(request.rate ? { rate: request.rate } : {}) },
        },
        { who },
      );
    } catch (err) {
      this.#jobs.delete(job);
      throw new ConsoleError(
        ConsoleErrorCode.UpstreamFailed,
        `the replay was not started: its audit record could not be written (${(err as Error).message})`,
        { cause: err },
      );
    }
    const running = replayToDurable(this.nc, {
      selection,
      durable: request.durable,
      job,
      ...(request.rate ? { rate: request.rate } : {}),
      signal: abort.signal,
      onProgress: (p: ReplayProgress) =>
        update({
          sent: p.sent,
          total: p.total,
          lastSequence: p.lastSequence,
          etaSeconds: p.etaSeconds ?? null,
        }),
    }).then(
      async (result) => {
        // Counted for the page; a count that cannot be made leaves it unknown, never the record unwritten.
        const deadLettered = await deadLettersOfJob(
          this.nc,
          job,
          dlqSubject(request.stream, request.durable),
        ).then(
          (seqs) => seqs.length,
          () => null,
        );
        update({
          state: result.complete ? "done" : "stopped",
          sent: result.sentTotal,
          lastSequence: result.lastSequence,
          endedAt: new Date().toISOString(),
          etaSeconds: null,
          deadLettered,
        });
        await audit(result.complete ? "done" : "interrupted", {
          sent: result.sentTotal,
          lastSequence: result.lastSequence,
          deadLettered,
        });
        this.logger.info({ job, sent: result.sentTotal, complete: result.complete }, "console replay ended");
      },
      async (err: unknown) => {
        update({
          state: "failed",
          error: (err as Error).message,
          endedAt: new Date().toISOString(),
          etaSeconds: null,
        });
        this.logger.error({ err, job }, "console replay failed");
        await audit("failed", { error: (err as Error).message });
      },
    );
    this.#running.set(
      job,
      running.finally(() => this.#running.delete(job)),
    );
    return this.#view(job)!;
  }

  /** Asks the replica running `job` to stop it (its position is saved). */
  async stop(job: string, who: string): Promise<{ stopping: true }> {
    const here = this.#jobs.get(job);
    if (here && here.state !== "running")
      throw new ConsoleError(ConsoleErrorCode.RequestInvalid, `replay ${job} is not running (${here.state})`);
    if (!here && !(await replayJobState(this.nc, job)))
      throw new ConsoleError(ConsoleErrorCode.NotFound, `no replay job ${job}`);
    await recordAudit(
      this.nc,
      { action: "replay", selection: { job, via: "ops-console" }, outcome: "stopping", details: { job } },
      { who },
    );
    await this.kv.put(`${STOP_PREFIX}.${job}`, JSON.stringify({ who, at: new Date().toISOString() }));
    here?.abort?.abort();
    this.logger.info({ job, who }, "console replay stop requested");
    return { stopping: true };
  }

  /**
   * The console's jobs, newest first: those this replica runs or ran, with their progress, and from the
   * jobs bucket those of the other replicas (and of earlier runs), with their saved position.
   */
  async list(): Promise<(ReplayJobView | SavedJobView)[]> {
    const here = [...this.#jobs.keys()].reverse().map((j) => this.#view(j)!);
    const known = new Set(here.map((j) => j.job));
    const saved: SavedJobView[] = [];
    const bucket = await new Kvm(this.nc).open(REPLAY_JOBS_BUCKET);
    for await (const key of await bucket.keys()) {
      if (!key.startsWith("console-") || known.has(key)) continue;
      const state = await replayJobState(this.nc, key).catch(() => undefined);
      if (state)
        saved.push({
          job: key,
          stream: state.stream,
          durable: state.durable,
          state: state.done ? "done" : "elsewhere",
          sent: state.sent,
          lastSequence: state.last,
          endSequence: state.end,
        });
    }
    saved.sort((a, b) => (a.job < b.job ? 1 : -1));
    return [...here, ...saved.slice(0, KEEP)];
  }

  /** One job: this replica's view, else its saved position. */
  async get(job: string): Promise<ReplayJobView | { job: string; saved: unknown }> {
    const here = this.#view(job);
    if (here) return here;
    const saved = await replayJobState(this.nc, job);
    if (!saved) throw new ConsoleError(ConsoleErrorCode.NotFound, `no replay job ${job}`);
    return { job, saved };
  }

  /**
   * Stops the running jobs and waits (up to `waitMs`) until each saved its position and wrote its
   * audit record: started again with the same id, a job resumes where it stopped.
   */
  async close(waitMs = 5_000): Promise<void> {
    this.#stopWatch.abort();
    for (const j of this.#jobs.values()) j.abort?.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.#running.values()),
      new Promise((r) => {
        timer = setTimeout(r, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #view(job: string): ReplayJobView | undefined {
    const j = this.#jobs.get(job);
    if (!j) return undefined;
    const { abort: _abort, ...view } = j;
    return view;
  }

  #trim(): void {
    const finished = [...this.#jobs.entries()].filter(([, j]) => j.state !== "running");
    for (const [job] of finished.slice(0, Math.max(0, finished.length - KEEP))) this.#jobs.delete(job);
  }

  async #checked(request: ReplayRequest): Promise<Selection> {
    let selection: Selection;
    try {
      selection = parseSelection(request);
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConsoleError(ConsoleErrorCode.RequestInvalid, `body.${err.message.replace(/^--/, "")}`);
      throw err;
    }
    try {
      await checkReplayTarget(this.nc, selection.stream, request.durable);
    } catch (err) {
      if (err instanceof ReplayTargetError)
        throw new ConsoleError(ConsoleErrorCode.RequestInvalid, err.message);
      throw err;
    }
    return selection;
  }
}

function selectionFlags(r: ReplayRequest): SelectionInput {
  const { durable: _d, rate: _r, job: _j, ...flags } = r;
  return Object.fromEntries(
    Object.entries(flags).filter(([, v]) => v !== undefined && v !== ""),
  ) as SelectionInput;
}
