/**
 * Replay jobs: the publishing side of the replay channel (streams/src/replay.ts), what
 * `threadline replay --to` and `threadline dlq redrive` run.
 *
 * ```ts
 * const sel = parseSelection({ type: "mfg.production.production_reported.v1", since: "1h" });
 * await checkReplayTarget(nc, sel.stream, "odoo-connector-production-reported");
 * const r = await replayToDurable(nc, { selection: sel, durable: "odoo-connector-production-reported", job: "outage-0604" });
 * await waitForReplayChannel(nc, "odoo-connector-production-reported", { timeoutMs: 60_000 });
 * ```
 *
 * A job copies each selected message — original headers and bytes, so the same `ce-id` — to
 * `threadline.replay.<durable>` with `Nats-Msg-Id` `<job>:<original sequence>`, and keeps its position
 * (the last original sequence sent, and the end fixed when it first ran) in the KV bucket
 * THREADLINE_REPLAY_JOBS under the job id: stopped by an abort, Ctrl-C or a crash and run again, it
 * continues after that sequence, and a copy sent between the last saved position and the crash is
 * dropped by the stream's duplicate window. Each send is confirmed (PubAck) before the next.
 */
import {
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { ThreadlineError } from "../../contracts/src/index.js";
import { sleep } from "./backoff.js";
import { ConfigError } from "./errors.js";
import {
  NOT_REPLAYED,
  REPLAY_HEADERS,
  REPLAY_JOBS_BUCKET,
  REPLAY_STREAM,
  replayDurable,
  replaySubject,
} from "./replay.js";
import { type Selection, selectMessages } from "./selection.js";

/** The durable a replay or redrive names is missing, reads another stream, or has no replay channel. */
export class ReplayTargetError extends ThreadlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REPLAY_TARGET_MISSING", message, options);
  }
}

const isApi = (err: unknown, code: number) => err instanceof JetStreamApiError && err.code === code;

/** Where a durable stands: what `rewind` prints before it changes anything. */
export interface DurablePosition {
  readonly stream: string;
  readonly durable: string;
  /** Last stream sequence delivered to it. */
  readonly delivered: number;
  /** Every message up to here is acknowledged. */
  readonly ackFloor: number;
  /** Messages not yet delivered. */
  readonly pending: number;
  /** Delivered, not yet acknowledged. */
  readonly ackPending: number;
}

/**
 * The durable's position. A partitioned durable (`<durable>-p<i>` on the server) is as far as its
 * slowest partition: the lowest ack floor and delivered sequence, the most pending, every partition's
 * unacknowledged deliveries.
 * @throws ReplayTargetError when it does not exist on `stream`
 */
export async function durablePosition(
  nc: NatsConnection,
  stream: string,
  durable: string,
): Promise<DurablePosition> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let infos: ConsumerInfo[];
  try {
    infos = [await jsm.consumers.info(stream, durable)];
  } catch (err) {
    if (!isApi(err, JetStreamApiCodes.ConsumerNotFound) && !isApi(err, JetStreamApiCodes.StreamNotFound))
      throw err;
    infos = isApi(err, JetStreamApiCodes.ConsumerNotFound) ? await partitionsOf(jsm, stream, durable) : [];
    if (infos.length === 0)
      throw new ReplayTargetError(`consumer ${durable} does not exist on stream ${stream}`, { cause: err });
  }
  return {
    stream,
    durable,
    delivered: Math.min(...infos.map((ci) => ci.delivered.stream_seq)),
    ackFloor: Math.min(...infos.map((ci) => ci.ack_floor.stream_seq)),
    pending: Math.max(...infos.map((ci) => ci.num_pending)),
    ackPending: infos.reduce((n, ci) => n + ci.num_ack_pending, 0),
  };
}

/** The partitions of a partitioned durable on the server (none when it is not one). */
async function partitionsOf(jsm: JetStreamManager, stream: string, durable: string): Promise<ConsumerInfo[]> {
  const out: ConsumerInfo[] = [];
  for await (const ci of jsm.consumers.list(stream))
    if (ci.name.startsWith(`${durable}-p`) && /^\d+$/.test(ci.name.slice(durable.length + 2))) out.push(ci);
  return out;
}

/**
 * Checks that `durable` reads `stream` and has its replay channel.
 * @throws ReplayTargetError saying which is missing
 */
export async function checkReplayTarget(nc: NatsConnection, stream: string, durable: string): Promise<void> {
  await durablePosition(nc, stream, durable);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  try {
    await jsm.consumers.info(REPLAY_STREAM, replayDurable(durable));
  } catch (err) {
    if (isApi(err, JetStreamApiCodes.ConsumerNotFound) || isApi(err, JetStreamApiCodes.StreamNotFound))
      throw new ReplayTargetError(
        `consumer ${durable} has no replay channel (${replayDurable(durable)} on ${REPLAY_STREAM}): declare it with threadline streams apply`,
        { cause: err },
      );
    throw err;
  }
}

/** The headers of a replayed copy: the original's (not `Nats-*`, nor earlier replay or dead-letter headers) plus the replay headers. */
export function replayHeaders(
  original: MsgHdrs | undefined,
  origin: {
    readonly kind: "replay" | "redrive";
    readonly job: string;
    readonly stream: string;
    readonly sequence: number;
    readonly subject: string;
    readonly redriveCount?: number;
    readonly dlqSequence?: number;
  },
): MsgHdrs {
  const h = natsHeaders();
  for (const k of original?.keys() ?? []) {
    if (NOT_REPLAYED.test(k)) continue;
    for (const v of original?.values(k) ?? []) h.append(k, v);
  }
  h.set(REPLAY_HEADERS.kind, origin.kind);
  h.set(REPLAY_HEADERS.job, origin.job);
  h.set(REPLAY_HEADERS.stream, origin.stream);
  h.set(REPLAY_HEADERS.sequence, String(origin.sequence));
  h.set(REPLAY_HEADERS.subject, origin.subject);
  if (origin.redriveCount !== undefined) h.set(REPLAY_HEADERS.redriveCount, String(origin.redriveCount));
  if (origin.dlqSequence !== undefined) h.set(REPLAY_HEADERS.dlqSequence, String(origin.dlqSequence));
  return h;
}

/** A job's saved position. */
export interface ReplayJobState {
  /** The last original sequence sent (0: none yet). */
  readonly last: number;
  /** The last sequence of the selection, fixed when the job first ran. */
  readonly end: number;
  /** Copies sent so far, over every run. */
  readonly sent: number;
  readonly durable: string;
  readonly stream: string;
  readonly done: boolean;
}

export interface ReplayProgress {
  readonly job: string;
  /** Sent over every run of the job. */
  readonly sent: number;
  /** What the whole job sends (sent before this run + what this run selects). */
  readonly total: number;
  readonly lastSequence: number;
  /** Seconds left at this run's pace; undefined until it has a pace. */
  readonly etaSeconds: number | undefined;
}

export interface ReplayJobOptions {
  readonly selection: Selection;
  /** The live durable whose handlers get the events. */
  readonly durable: string;
  /** The job id (KV key): letters, digits, `-`, `_`, `.`. */
  readonly job: string;
  /** Events per second at most. @default unlimited */
  readonly rate?: number;
  /** Stops the job after the current copy; its position is saved. */
  readonly signal?: AbortSignal;
  /** Known total of what this run selects (e.g. from a dry run), for the progress. @default counted first */
  readonly total?: number;
  /** Called after each copy (and at the end). */
  readonly onProgress?: (p: ReplayProgress) => void;
}

export interface ReplayJobResult {
  readonly job: string;
  /** Sent by this run. */
  readonly sent: number;
  /** Sent over every run of the job. */
  readonly sentTotal: number;
  readonly lastSequence: number;
  /** False when stopped by the signal. */
  readonly complete: boolean;
  /** The job had finished before this run: nothing was sent. */
  readonly alreadyDone: boolean;
}

const JOB_RE = /^[A-Za-z0-9_.-]+$/;

/** Opens the jobs bucket (created by streams apply; created here when missing, for a fresh test server). */
async function jobsBucket(nc: NatsConnection) {
  const kvm = new Kvm(nc);
  try {
    return await kvm.open(REPLAY_JOBS_BUCKET);
  } catch {
    return await kvm.create(REPLAY_JOBS_BUCKET, { history: 5 });
  }
}

/** The saved position of a job, if it ran before. */
export async function replayJobState(nc: NatsConnection, job: string): Promise<ReplayJobState | undefined> {
  const e = await (await jobsBucket(nc)).get(job);
  if (e?.operation !== "PUT" || e.value.length === 0) return undefined;
  return e.json<ReplayJobState>();
}

/**
 * Runs (or resumes) a replay job: copies the selection, from after the saved position to the end
 * fixed at the first run, into `durable`'s replay channel. Call {@link checkReplayTarget} first.
 */
export async function replayToDurable(nc: NatsConnection, o: ReplayJobOptions): Promise<ReplayJobResult> {
  if (!JOB_RE.test(o.job))
    throw new ConfigError("--job", `must be letters, digits, -, _ or . (got ${o.job})`);
  if (o.rate !== undefined && !(o.rate > 0)) throw new ConfigError("--rate", `must be > 0 (got ${o.rate})`);
  const kv = await jobsBucket(nc);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const saved = await replayJobState(nc, o.job);
  if (saved && (saved.durable !== o.durable || saved.stream !== o.selection.stream))
    throw new ConfigError(
      "--job",
      `${o.job} is a job of ${saved.durable} on ${saved.stream}: choose another job id`,
    );
  if (saved?.done)
    return {
      job: o.job,
      sent: 0,
      sentTotal: saved.sent,
      lastSequence: saved.last,
      complete: true,
      alreadyDone: true,
    };
  const end =
    saved?.end ??
    Math.min(
      o.selection.toSequence ?? Number.MAX_SAFE_INTEGER,
      (await jsm.streams.info(o.selection.stream)).state.last_seq,
    );
  // Resumed: after the last sequence sent (stored times only grow, so `since` is already met).
  const sel: Selection =
    saved && saved.last > 0
      ? { ...o.selection, since: undefined, fromSequence: saved.last + 1, toSequence: end }
      : { ...o.selection, toSequence: end };
  let state: ReplayJobState = saved ?? {
    last: 0,
    end,
    sent: 0,
    durable: o.durable,
    stream: o.selection.stream,
    done: false,
  };
  const save = async () => {
    await kv.put(o.job, JSON.stringify(state));
  };
  await save();
  let total = o.total;
  if (total === undefined) {
    total = 0;
    if (end >= (sel.fromSequence ?? 1))
      for await (const _ of selectMessages(nc, sel, { headersOnly: true })) total++;
  }
  const grandTotal = state.sent + total;
  const started = Date.now();
  let sent = 0;
  let savedAt = Date.now();
  const progress = () => {
    const elapsed = (Date.now() - started) / 1000;
    const left = grandTotal - state.sent;
    o.onProgress?.({
      job: o.job,
      sent: state.sent,
      total: grandTotal,
      lastSequence: state.last,
      etaSeconds: sent > 0 && elapsed > 0 ? left / (sent / elapsed) : undefined,
    });
  };
  let complete = true;
  if (end >= (sel.fromSequence ?? 1) && !o.signal?.aborted) {
    for await (const m of selectMessages(nc, sel)) {
      if (o.signal?.aborted) {
        complete = false;
        break;
      }
      await js.publish(replaySubject(o.durable), m.data, {
        headers: replayHeaders(m.headers, {
          kind: "replay",
          job: o.job,
          stream: o.selection.stream,
          sequence: m.seq,
          subject: m.subject,
        }),
        msgID: `${o.job}:${m.seq}`,
        expect: { streamName: REPLAY_STREAM },
      });
      sent++;
      state = { ...state, last: m.seq, sent: state.sent + 1 };
      if (Date.now() - savedAt >= 1_000) {
        await save();
        savedAt = Date.now();
      }
      progress();
      if (o.rate !== undefined) {
        const due = started + (sent / o.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now(), o.signal).catch(() => undefined);
      }
    }
    if (o.signal?.aborted) complete = false;
  }
  state = { ...state, done: complete };
  await save();
  progress();
  return { job: o.job, sent, sentTotal: state.sent, lastSequence: state.last, complete, alreadyDone: false };
}

/** What the replay channel of a durable has left to do. */
export interface ReplayChannelState {
  /** Not yet delivered. */
  readonly pending: number;
  /** Delivered, not yet acknowledged (running, or waiting for a retry). */
  readonly ackPending: number;
}

/**
 * Waits until `durable`'s replay channel has acknowledged everything (a work queue: nothing pending
 * nor unacknowledged), or the timeout. Returns what is left (zeros when done).
 */
export async function waitForReplayChannel(
  nc: NatsConnection,
  durable: string,
  o: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<ReplayChannelState> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const ci = await jsm.consumers.info(REPLAY_STREAM, replayDurable(durable));
    const left = { pending: ci.num_pending, ackPending: ci.num_ack_pending };
    if ((left.pending === 0 && left.ackPending === 0) || Date.now() >= deadline || o.signal?.aborted)
      return left;
    await sleep(Math.min(o.intervalMs ?? 250, Math.max(0, deadline - Date.now())), o.signal).catch(
      () => undefined,
    );
  }
}
