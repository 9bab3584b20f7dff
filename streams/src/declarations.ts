/**
 * Streams as code: every JetStream stream, durable pull consumer and KV bucket Threadline needs, as
 * typed data. This file declares what is shared — the domain streams, the dead-letter stream, the
 * registry and the buckets every service may use; each service declares its own durables, buckets
 * and streams in its manifest (streams/src/manifest.ts), passed in as `manifests`. `threadline streams
 * plan/apply` (streams/src/plan.ts) and the Kubernetes resources in deploy/k8s
 * (tools/deploy/generate-k8s.ts) are both generated from {@link declarations} — one source of truth.
 * `docs/streams.md` explains the choices for readers who do not read TypeScript.
 *
 * Durations are written `<n><unit>` with unit ms, s, m, h or d (`"30d"`, `"2h"`); sizes are bytes, -1 for
 * unlimited. A declaration names only what we decide; whatever it leaves out is the server's default
 * and is never compared or changed by `apply`.
 */
import { z } from "zod";
import { type CatalogedErrorCode, ThreadlineError } from "../../contracts/src/index.js";
import type { ServiceManifest } from "./manifest.js";
import { AUDIT_STREAM, AUDIT_SUBJECTS, DLQ_STREAM } from "./names.js";
import { partitionDurables } from "./partitions.js";
import {
  REPLAY_DEFAULTS,
  REPLAY_JOBS_BUCKET,
  REPLAY_STREAM,
  replayDurable,
  replaySubject,
} from "./replay.js";

// ---------------------------------------------------------------------------------------------
// Types

/** `<n><unit>`: `"500ms"`, `"30s"`, `"10m"`, `"2h"`, `"30d"`. */
export type Duration = `${number}${"ms" | "s" | "m" | "h" | "d"}`;

/** A stream: the subjects it captures and how long / how much it keeps. */
export interface StreamDeclaration {
  readonly description: string;
  /** Subjects captured; must not overlap any other stream's. */
  readonly subjects: readonly string[];
  /** `limits`: kept until a limit removes them (replay needs this); `interest`/`workqueue`: removed once acked. */
  readonly retention: "limits" | "interest" | "workqueue";
  /** `file` survives restarts; `memory` does not. */
  readonly storage: "file" | "memory";
  /** Copies kept in a clustered JetStream (1–5); {@link PROFILES} sets it per environment. */
  readonly replicas: number;
  /** Messages older than this are removed; `"0s"` keeps them forever. */
  readonly maxAge: Duration;
  /** Size cap in bytes; -1 unlimited. The server reserves it against its store: it must fit. */
  readonly maxBytes: number;
  /** Largest message accepted, in bytes; -1 unlimited (the server's max_payload still applies). */
  readonly maxMsgSize: number;
  /** When full: `old` deletes the oldest messages, `new` refuses new ones (the publisher sees an error). */
  readonly discard: "old" | "new";
  /** How long the server remembers `Nats-Msg-Id`s to drop duplicates; at most maxAge. */
  readonly duplicateWindow: Duration;
  /** Messages kept per subject; -1 unlimited. @default not declared (server default: unlimited) */
  readonly maxMsgsPerSubject?: number;
  /** Free-form key/values shown by `nats stream info`. Needs nats-server 2.10+. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Store compression. Needs nats-server 2.10+. */
  readonly compression?: "s2" | "none";
  /** Rewrites incoming subjects before storing. Needs nats-server 2.10+. */
  readonly subjectTransform?: { readonly src: string; readonly dest: string };
  /** Honour per-message TTLs (`Nats-TTL` header). Needs nats-server 2.11+; cannot be turned off again. */
  readonly allowMsgTtl?: boolean;
}

/** A durable pull consumer (`durable_name` = its key in {@link Declarations.consumers}). */
export interface ConsumerDeclaration {
  /** The stream it reads; must be declared. */
  readonly stream: string;
  readonly description: string;
  /** Subjects it receives; each must lie inside the stream's subjects. More than one needs nats-server 2.10+. */
  readonly filterSubjects: readonly string[];
  /**
   * With several `filterSubjects`: the one filter the durable gets instead on a server without
   * multiple filter subjects (before 2.10, the 2.9 floor). It must cover every one of them; the
   * consumer then also receives what lies between (acknowledged without a handler). Without it, such
   * a server refuses the plan.
   */
  readonly floorFilterSubject?: string;
  /** Where a new consumer starts. @default "all" */
  readonly deliverPolicy?: "all" | "new";
  /**
   * How long a delivered message may stay unacked before it is redelivered. When `backoff` is set the
   * server replaces ack_wait by `backoff[0]`, so the two must agree (validation checks it).
   */
  readonly ackWait: Duration;
  /** Redelivery delays after each unacked delivery; deliveries beyond the list reuse the last one. */
  readonly backoff: readonly Duration[];
  /** Deliveries before the server gives up (the SDK dead-letters the message); more than backoff.length. */
  readonly maxDeliver: number;
  /** Messages delivered and not yet acked, across every replica of the service: the back-pressure bound. */
  readonly maxAckPending: number;
  /** Needs nats-server 2.10+. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Create paused until this ISO time. Needs nats-server 2.11+. */
  readonly pauseUntil?: string;
  /** Priority groups (overflow / pinned client). Needs nats-server 2.11+. */
  readonly priorityGroups?: {
    readonly groups: readonly string[];
    readonly policy: "overflow" | "pinned_client";
  };
  /**
   * Set on the durables a manifest's `partitions` makes (`<durable>-p<i>`, streams/src/partitions.ts):
   * which partitioned durable this one is a partition of. `streams apply` creates a new partition
   * after the ack floor of a durable of that name when one exists (a service that had the durable
   * unpartitioned does not handle the stream again from its start).
   */
  readonly partitionOf?: { readonly durable: string; readonly index: number; readonly count: number };
}

/**
 * A durable as a manifest declares it: with `partitions: P` it is P durables `<durable>-p0`..`-p<P-1>`
 * on the same stream and filter, consumed as one partitioned consumer (streams/src/partitioned-consumer.ts)
 * whose per-key order holds across replicas.
 */
export type ManifestConsumerDeclaration = Omit<ConsumerDeclaration, "partitionOf"> & {
  /** Partitions of the key space (1–64), one owner each at a time. @default none: one durable */
  readonly partitions?: number;
};

/** A KV bucket (backed by the stream `KV_<bucket>`). */
export interface KvDeclaration {
  readonly description: string;
  /** Revisions kept per key (1–64). */
  readonly history: number;
  /** Entries older than this expire; absent = kept forever. */
  readonly ttl?: Duration;
  /** Size cap in bytes; -1 unlimited. @default -1 */
  readonly maxBytes?: number;
  /** Largest value in bytes; -1 unlimited. @default -1 */
  readonly maxValueSize?: number;
  readonly storage: "file" | "memory";
  readonly replicas: number;
}

/** Everything `streams apply` manages, keyed by name (stream name, durable name, bucket name). */
export interface Declarations {
  readonly streams: Readonly<Record<string, StreamDeclaration>>;
  readonly consumers: Readonly<Record<string, ConsumerDeclaration>>;
  readonly kv: Readonly<Record<string, KvDeclaration>>;
}

// ---------------------------------------------------------------------------------------------
// Environment profiles

/**
 * Per-environment defaults. `local` is a developer laptop, CI or the demo: one nats-server whose file
 * store is small (the test harness gives it 1 GiB), so stream size caps are small too — the server
 * reserves every stream's max_bytes up front and refuses a stream that does not fit. `production` is
 * the 3-node cluster: R3 survives the loss of one node, sizes are real.
 */
export const PROFILES = {
  local: { replicas: 1 },
  production: { replicas: 3 },
} as const;
export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** A size in bytes that differs per environment: `{ production: 5 * GiB, local: 32 * MiB }`. */
export type SizeByProfile = Readonly<Record<ProfileName, number>>;

export interface DeclarationOptions {
  /** @default "local" */
  profile?: ProfileName;
  /**
   * The services whose durables, buckets and streams are declared with the shared streams and
   * buckets (tools/manifests.ts gathers Threadline's own). @default none: the shared declarations only
   */
  manifests?: readonly ServiceManifest[];
  /** Replicas of every stream and bucket. @default the profile's (1 local, 3 production) */
  replicas?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * The declarations for an environment, validated.
 *
 * ```ts
 * declarations()                                   // local: R1, small caps
 * declarations({ profile: "production" })          // R3, production sizes
 * declarations({ profile: "production", replicas: 5 })
 * ```
 */
export function declarations(options: DeclarationOptions = {}): Declarations {
  const profile = options.profile ?? "local";
  if (!(profile in PROFILES))
    throw new DeclarationError([{ key: "profile", message: `must be one of ${PROFILE_NAMES.join(", ")}` }]);
  const replicas = options.replicas ?? PROFILES[profile].replicas;
  /** A size that differs per environment (production, local). */
  const size = (production: number, local: number) => (profile === "production" ? production : local);
  const shared: Record<string, StreamDeclaration> = {
    // Telemetry (batched tag samples) and machine states: the biggest and fastest stream, useful for
    // days, not years — consumers (OEE, the analytics tap) project what they need into their own
    // stores. 7 days covers a long weekend of a stopped consumer plus time to replay. When full the
    // OLDEST samples go (`discard: old`): the newest telemetry matters most and the plant must never
    // be refused. Messages up to 512 KiB (a batch of samples). Duplicate window 2 h: the machine
    // bridge re-publishes its local buffer with the same ids after a restart or a WAN outage of the
    // plant leaf node; 2 h covers that, and the window is held in server memory (roughly 100 bytes
    // per message id), so at telemetry rates a 24 h window would cost gigabytes.
    MFG_MACHINE: {
      description: "Machine states, downtime and telemetry from the plants (large, short-lived)",
      subjects: ["mfg.machine.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "7d",
      maxBytes: size(100 * GiB, 256 * MiB),
      maxMsgSize: 512 * KiB,
      discard: "old",
      duplicateWindow: "2h",
    },
    // Production orders and reports: small, and the trail the ERP postings are made from. Kept 400
    // days (a fiscal year plus a month's margin to replay it at the year-end audit); when full the
    // stream REFUSES new messages (`discard: new`) rather than silently deleting acked history —
    // publishers fail loudly and the alerts fire. Duplicate window 24 h: a plant reconnecting after a
    // shift-long outage, or the Odoo connector re-syncing a day, re-publishes with the same ids.
    MFG_PRODUCTION: {
      description: "Production orders, reports and ERP postings (small, kept for audit and replay)",
      subjects: ["mfg.production.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "400d",
      maxBytes: size(20 * GiB, 128 * MiB),
      maxMsgSize: 256 * KiB,
      discard: "new",
      duplicateWindow: "24h",
    },
    // Lots, consumption and goods movements: the genealogy is rebuilt by replaying this stream, so it
    // is kept as long as production (400 days) with the same "refuse rather than forget" policy.
    MFG_INVENTORY: {
      description: "Lots, material consumption and goods movements (genealogy is rebuilt from it)",
      subjects: ["mfg.inventory.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "400d",
      maxBytes: size(20 * GiB, 128 * MiB),
      maxMsgSize: 256 * KiB,
      discard: "new",
      duplicateWindow: "24h",
    },
    // Inspections, SPC, holds and nonconformances: the smallest volume and the longest audit need
    // (customer and ISO 9001 record requirements). 2 years in the stream for replay; the archive of
    // record is the SQL tap. Refuses rather than forgets, like production.
    MFG_QUALITY: {
      description: "Inspections, SPC violations, quality holds and nonconformances (kept 2 years)",
      subjects: ["mfg.quality.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "730d",
      maxBytes: size(10 * GiB, 128 * MiB),
      maxMsgSize: 256 * KiB,
      discard: "new",
      duplicateWindow: "24h",
    },
    // Shipment requests and gate decisions: they matter until delivery and the customer's claim window;
    // Odoo keeps the delivery record. 180 days.
    MFG_SHIPPING: {
      description: "Shipment requests and quality-gate decisions",
      subjects: ["mfg.shipping.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "180d",
      maxBytes: size(5 * GiB, 64 * MiB),
      maxMsgSize: 256 * KiB,
      discard: "new",
      duplicateWindow: "24h",
    },
    // Dead letters (`mfg.dlq.<stream>.<consumer>`): kept 30 days — long enough for ops to notice,
    // fix and replay after a holiday. Refuses when full (a dead letter that cannot be written stays
    // unacked in its source stream, never lost). Messages up to 1 MiB: any domain message plus the
    // dead-letter headers must fit. Duplicate window 24 h so a re-tried dead-lettering is not stored twice.
    [DLQ_STREAM]: {
      description: "Dead letters: poison messages with the reason and their original stream/sequence",
      subjects: ["mfg.dlq.>"],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "30d",
      maxBytes: size(10 * GiB, 128 * MiB),
      maxMsgSize: 1 * MiB,
      discard: "new",
      duplicateWindow: "24h",
    },
    // The audit trail of ops actions (`threadline.audit.<action>`, streams/src/audit.ts): every replay,
    // rewind, copy, redrive and purge, one small JSON record each. Kept 400 days like production (a
    // year-end audit asks who replayed what into the ERP); refuses when full rather than forgetting
    // (an ops action whose record cannot be stored reports the failure). A few hundred records a day at
    // most: small sizes; 64 KiB per record holds any selection and its details.
    [AUDIT_STREAM]: {
      description:
        "Audit trail of ops actions: replay, rewind, copy, redrive, purge (who, when, what, outcome)",
      subjects: [AUDIT_SUBJECTS],
      retention: "limits",
      storage: "file",
      replicas,
      maxAge: "400d",
      maxBytes: size(1 * GiB, 16 * MiB),
      maxMsgSize: 64 * KiB,
      discard: "new",
      duplicateWindow: "2m",
    },
    // Replayed and redriven deliveries addressed to one durable (`threadline.replay.<durable>`,
    // streams/src/replay.ts): a work queue, so a delivery leaves once its service acked it and what
    // is left is what is still to do. 7 days for a service that is down while a replay is queued;
    // refuses when full (the replay command sees the error and can be resumed). Duplicate window 24 h:
    // each copy's id is job + original sequence, so a resumed job never delivers one twice.
    [REPLAY_STREAM]: {
      description:
        "Replayed and redriven deliveries, one subject per durable (threadline replay, dlq redrive)",
      subjects: ["threadline.replay.>"],
      retention: "workqueue",
      storage: "file",
      replicas,
      maxAge: "7d",
      maxBytes: size(10 * GiB, 64 * MiB),
      maxMsgSize: 1 * MiB,
      discard: "new",
      duplicateWindow: "24h",
    },
  };
  const fromManifests = gatherManifests(options.manifests ?? [], { profile, replicas, shared });

  return fromManifests.explain(() =>
    validateDeclarations({
      streams: { ...shared, ...fromManifests.streams },
      consumers: fromManifests.consumers,
      kv: {
        // The schema registry (contracts/src/registry.ts opens it with the same history and description).
        THREADLINE_SCHEMAS: {
          description: "Threadline schema registry: subjects and schemas by fingerprint",
          history: 10,
          storage: "file",
          replicas,
        },
        // Connector cursors (last Odoo write_date synced, last OPC UA sequence…); a few revisions to see
        // where a connector was before an incident.
        THREADLINE_CONNECTOR_STATE: {
          description: "Connector cursors: where each connector resumes after a restart",
          history: 5,
          storage: "file",
          replicas,
        },
        // Event ids whose side effect is done (ERP postings…). TTL 30 days = the DLQ's retention: anything
        // ops can still replay is still recognised as done. When full, writes fail (the handler retries)
        // rather than forgetting ids.
        THREADLINE_IDEMPOTENCY: {
          description: "Event ids whose side effects are applied (replays and redeliveries skip them)",
          history: 1,
          ttl: "30d",
          maxBytes: size(5 * GiB, 64 * MiB),
          storage: "file",
          replicas,
        },
        // Replay jobs: the last original sequence each job sent, so a job stopped by Ctrl-C or a crash
        // continues where it was. Kept 30 days (the DLQ's retention, for redrives).
        [REPLAY_JOBS_BUCKET]: {
          description: "Replay jobs: where each threadline replay job resumes",
          history: 5,
          ttl: "30d",
          storage: "file",
          replicas,
        },
        ...fromManifests.kv,
      },
    }),
  );
}

/** What {@link gatherManifests} needs besides the manifests. */
interface GatherContext {
  readonly profile: ProfileName;
  readonly replicas: number;
  /** The streams `streams/` declares: a manifest cannot claim them. */
  readonly shared: Readonly<Record<string, StreamDeclaration>>;
}

/**
 * The durables, buckets and streams of the manifests; a name two services (or a service and
 * `streams/`) claim is an error. Owned buckets and streams get the profile's replicas, an owned
 * stream's `maxBytes` the profile's size. `explain(validate)` runs the validation and adds to each
 * problem about a manifest's declaration whose manifest it is (the fix is there, not in this file).
 */
function gatherManifests(manifests: readonly ServiceManifest[], ctx: GatherContext) {
  const streams: Record<string, StreamDeclaration> = {};
  const consumers: Record<string, ConsumerDeclaration> = {};
  const kv: Record<string, KvDeclaration> = {};
  const owner = new Map<string, string>([
    ...SHARED_BUCKETS.map((b) => [`kv.${b}`, SHARED_OWNER] as const),
    ...Object.keys(ctx.shared).map((s) => [`streams.${s}`, SHARED_OWNER] as const),
  ]);
  const problems: DeclarationProblem[] = [];
  const claim = (key: string, service: string) => {
    const first = owner.get(key);
    if (first)
      problems.push({ key, message: `declared by ${service} and by ${first}: a name has one owner` });
    owner.set(key, service);
    return !first;
  };
  for (const m of manifests) {
    for (const [name, s] of Object.entries(m.streams ?? {}))
      if (claim(`streams.${name}`, m.service))
        streams[name] = { ...s, replicas: ctx.replicas, maxBytes: bytesFor(s.maxBytes, ctx.profile) };
    for (const [name, declared] of Object.entries(m.consumers ?? {})) {
      if (!claim(`consumers.${name}`, m.service)) continue;
      const { partitions, ...c } = declared;
      if (partitions === undefined) consumers[name] = c;
      // The partitioned durable's name stays claimed (its replay channel and dead letters carry it);
      // the server gets its partitions.
      else
        for (const [index, durable] of partitionDurables(name, partitions).entries())
          if (claim(`consumers.${durable}`, m.service))
            consumers[durable] = {
              ...c,
              description: `${c.description} (partition ${index} of ${partitions})`,
              partitionOf: { durable: name, index, count: partitions },
            };
      // Its replay channel (streams/src/replay.ts), with the durable's own redelivery policy.
      const replay = replayDurable(name);
      if (claim(`consumers.${replay}`, m.service))
        consumers[replay] = {
          stream: REPLAY_STREAM,
          description: `Replayed and redriven deliveries for ${name} (threadline replay --to ${name})`,
          filterSubjects: [replaySubject(name)],
          ackWait: c.ackWait,
          backoff: c.backoff,
          maxDeliver: c.maxDeliver,
          maxAckPending: REPLAY_DEFAULTS.maxAckPending,
        };
    }
    for (const [name, b] of Object.entries(m.kv ?? {}))
      if (claim(`kv.${name}`, m.service)) kv[name] = { ...b, replicas: ctx.replicas };
  }
  if (problems.length > 0) throw new DeclarationError(problems);

  /** The service whose declaration a problem's key (`streams.MFG_X.subjects[0]`) is about, if any. */
  const ownerOf = (key: string) => {
    for (const [declared, service] of owner)
      if (
        service !== SHARED_OWNER &&
        (key === declared || key.startsWith(`${declared}.`) || key.startsWith(`${declared}[`))
      )
        return service;
    return undefined;
  };
  const explain = <T>(validate: () => T): T => {
    try {
      return validate();
    } catch (err) {
      if (!(err instanceof DeclarationError)) throw err;
      throw new DeclarationError(
        err.problems.map((p) => {
          const service = ownerOf(p.key);
          return service ? { key: p.key, message: `${p.message}; in the manifest of ${service}` } : p;
        }),
      );
    }
  };
  return { streams, consumers, kv, explain };
}

/** A size that may differ per environment, for `profile`. */
function bytesFor(maxBytes: number | SizeByProfile, profile: ProfileName): number {
  return typeof maxBytes === "number" ? maxBytes : maxBytes[profile];
}

const SHARED_OWNER = "streams/ (shared)";

/** The buckets `streams/` declares for every service. */
const SHARED_BUCKETS = [
  "THREADLINE_SCHEMAS",
  "THREADLINE_CONNECTOR_STATE",
  "THREADLINE_IDEMPOTENCY",
  REPLAY_JOBS_BUCKET,
] as const;

// ---------------------------------------------------------------------------------------------
// Errors

/** Error codes raised by streams-as-code. Codes are stable: never reuse a retired one. */
export const StreamsErrorCode = {
  DeclarationInvalid: "DECLARATION_INVALID",
  FeatureUnsupported: "STREAMS_FEATURE_UNSUPPORTED",
  ReplicasUnavailable: "STREAMS_REPLICAS_UNAVAILABLE",
  DestructiveRefused: "STREAMS_DESTRUCTIVE_REFUSED",
  ApplyFailed: "STREAMS_APPLY_FAILED",
} as const satisfies Record<string, CatalogedErrorCode>;
export type StreamsErrorCode = (typeof StreamsErrorCode)[keyof typeof StreamsErrorCode];

/** One thing wrong with the declarations, named by its key (`streams.MFG_MACHINE.subjects[0]`). */
export interface DeclarationProblem {
  readonly key: string;
  readonly message: string;
}

/** The declarations are wrong: nothing is planned or applied. Lists every problem, each with its key. */
export class DeclarationError extends ThreadlineError {
  constructor(readonly problems: readonly DeclarationProblem[]) {
    super(
      StreamsErrorCode.DeclarationInvalid,
      `invalid stream declarations (fix streams/src/declarations.ts or the service's manifest): ${problems.map((p) => `${p.key}: ${p.message}`).join("; ")}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Durations and subjects

const DURATION_RE = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `"2h"` -> 7200000 (milliseconds). Throws on anything else. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text)} is not a duration like 30s, 10m, 2h or 30d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** 7200000 -> `"2h"`: the largest unit that divides it exactly; 0 -> `"0s"`. */
export function formatDuration(ms: number): Duration {
  if (ms === 0) return "0s";
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

const TOKEN_RE = /^[^\s.*>]+$/;

/** Why `subject` is not a valid subject or wildcard pattern, or undefined when it is. */
export function subjectProblem(subject: string): string | undefined {
  if (subject.length === 0) return "is empty";
  const tokens = subject.split(".");
  for (const [i, t] of tokens.entries()) {
    if (t === "") return `has an empty token in ${JSON.stringify(subject)}`;
    if (t === ">" && i !== tokens.length - 1)
      return `has '>' before its last token in ${JSON.stringify(subject)}`;
    if (t !== "*" && t !== ">" && !TOKEN_RE.test(t))
      return `has an invalid token ${JSON.stringify(t)} (no whitespace; '*' and '>' only as whole tokens)`;
  }
  return undefined;
}

/** True when some subject matches both patterns (`mfg.>` and `mfg.machine.*`, `a.*.c` and `a.b.*`). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return false;
    if (p === ">" || q === ">") return true;
    if (p !== "*" && q !== "*" && p !== q) return false;
  }
  return true;
}

/** True when every subject `inner` matches is matched by `outer` (`mfg.a.>` is inside `mfg.>`). */
export function subjectWithin(inner: string, outer: string): boolean {
  const x = inner.split(".");
  const y = outer.split(".");
  for (let i = 0; i < x.length; i++) {
    const p = x[i] as string;
    const q = y[i];
    if (q === undefined) return false;
    if (q === ">") return true;
    if (p === ">") return false;
    if (q === "*") continue;
    if (p !== q) return false;
  }
  return x.length === y.length;
}

// ---------------------------------------------------------------------------------------------
// Validation

const duration = z.string().regex(DURATION_RE, "must be a duration like 30s, 10m, 2h or 30d");
const size = z.number().int().min(-1);
const replicas = z.number().int().min(1).max(5);
const metadata = z.record(z.string().min(1), z.string());

const StreamSchema = z.strictObject({
  description: z.string().min(1),
  subjects: z.array(z.string()).min(1),
  retention: z.enum(["limits", "interest", "workqueue"]),
  storage: z.enum(["file", "memory"]),
  replicas,
  maxAge: duration,
  maxBytes: size,
  maxMsgSize: size,
  discard: z.enum(["old", "new"]),
  duplicateWindow: duration,
  maxMsgsPerSubject: size.optional(),
  metadata: metadata.optional(),
  compression: z.enum(["s2", "none"]).optional(),
  subjectTransform: z.strictObject({ src: z.string().min(1), dest: z.string().min(1) }).optional(),
  allowMsgTtl: z.boolean().optional(),
});

const ConsumerSchema = z.strictObject({
  stream: z.string().min(1),
  description: z.string().min(1),
  filterSubjects: z.array(z.string()).min(1, "needs at least one subject"),
  floorFilterSubject: z.string().min(1).optional(),
  deliverPolicy: z.enum(["all", "new"]).optional(),
  ackWait: duration,
  backoff: z.array(duration),
  maxDeliver: z.number().int().min(1),
  maxAckPending: z.number().int().min(1),
  metadata: metadata.optional(),
  pauseUntil: z.iso.datetime().optional(),
  priorityGroups: z
    .strictObject({
      groups: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, "is 1-16 of A-Z a-z 0-9 _ -")).min(1),
      policy: z.enum(["overflow", "pinned_client"]),
    })
    .optional(),
  partitionOf: z
    .strictObject({
      durable: z.string().min(1),
      index: z.number().int().min(0),
      count: z.number().int().min(1),
    })
    .optional(),
});

const KvSchema = z.strictObject({
  description: z.string().min(1),
  history: z.number().int().min(1).max(64),
  ttl: duration.optional(),
  maxBytes: size.optional(),
  maxValueSize: size.optional(),
  storage: z.enum(["file", "memory"]),
  replicas,
});

const DeclarationsSchema = z.strictObject({
  streams: z.record(z.string(), StreamSchema),
  consumers: z.record(z.string(), ConsumerSchema),
  kv: z.record(z.string(), KvSchema),
});

/** `["streams", "MFG_A", "subjects", 0]` -> `streams.MFG_A.subjects[0]` */
function keyOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out || "declarations";
}

const STREAM_NAME_RE = /^[A-Z][A-Z0-9_]*$/;
const CONSUMER_NAME_RE = /^[a-z][a-z0-9-]*[a-z0-9]$/;

/**
 * Checks declarations (typically built by hand in a test or a tool) and returns them typed. Collects
 * every problem — shape, names, subject syntax, streams whose subjects overlap, consumer filters
 * outside their stream, server rules such as duplicate window ≤ max age — and throws one
 * {@link DeclarationError} naming each offending key.
 */
export function validateDeclarations(input: unknown): Declarations {
  const parsed = DeclarationsSchema.safeParse(input);
  if (!parsed.success) {
    throw new DeclarationError(parsed.error.issues.map((i) => ({ key: keyOf(i.path), message: i.message })));
  }
  const d = parsed.data as Declarations;
  const problems: DeclarationProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ key, message });

  // Streams: names, subjects, limits.
  /** Every captured subject with the declaration that owns it (a stream, or a bucket's backing stream). */
  const owners: { owner: string; key: string; subject: string }[] = [];
  for (const [name, s] of Object.entries(d.streams)) {
    const key = `streams.${name}`;
    if (!STREAM_NAME_RE.test(name))
      problem(
        key,
        "stream names are upper-case letters, digits and _ starting with a letter (e.g. MFG_MACHINE)",
      );
    else if (name.startsWith("KV_"))
      problem(key, "stream names starting with KV_ are reserved for KV buckets");
    for (const [i, subject] of s.subjects.entries()) {
      const bad = subjectProblem(subject);
      if (bad) problem(`${key}.subjects[${i}]`, `subject ${bad}`);
      else owners.push({ owner: key, key: `${key}.subjects[${i}]`, subject });
    }
    const maxAge = parseDuration(s.maxAge);
    if (maxAge > 0 && parseDuration(s.duplicateWindow) > maxAge)
      problem(
        `${key}.duplicateWindow`,
        `${s.duplicateWindow} is longer than maxAge ${s.maxAge} (the server refuses it)`,
      );
    if (s.subjectTransform) {
      const bad = subjectProblem(s.subjectTransform.src);
      if (bad) problem(`${key}.subjectTransform.src`, `subject ${bad}`);
    }
  }
  for (const bucket of Object.keys(d.kv)) {
    const key = `kv.${bucket}`;
    if (!STREAM_NAME_RE.test(bucket))
      problem(
        key,
        "bucket names are upper-case letters, digits and _ starting with a letter (e.g. THREADLINE_SCHEMAS)",
      );
    else owners.push({ owner: key, key, subject: `$KV.${bucket}.>` });
  }
  // Two streams capturing the same subject: the server refuses the second; say which ones.
  for (let i = 0; i < owners.length; i++) {
    for (let j = i + 1; j < owners.length; j++) {
      const a = owners[i] as (typeof owners)[number];
      const b = owners[j] as (typeof owners)[number];
      if (a.owner === b.owner) continue; // checked below, within one stream
      if (subjectsOverlap(a.subject, b.subject))
        problem(
          b.key,
          `subject ${b.subject} overlaps ${a.subject} of ${a.key} (a subject belongs to one stream)`,
        );
    }
  }
  // Within one stream, overlapping subjects are a mistake (one of them is redundant).
  for (const [name, s] of Object.entries(d.streams)) {
    for (let i = 0; i < s.subjects.length; i++) {
      for (let j = i + 1; j < s.subjects.length; j++) {
        const a = s.subjects[i] as string;
        const b = s.subjects[j] as string;
        if (!subjectProblem(a) && !subjectProblem(b) && subjectsOverlap(a, b))
          problem(`streams.${name}.subjects[${j}]`, `subject ${b} overlaps ${a} of the same stream`);
      }
    }
  }

  // Consumers: names, stream, filters, redelivery rules the server enforces.
  for (const [name, c] of Object.entries(d.consumers)) {
    const key = `consumers.${name}`;
    if (!CONSUMER_NAME_RE.test(name))
      problem(
        key,
        "durable names are lower-case letters, digits and - (e.g. odoo-connector-production-reported)",
      );
    const stream = d.streams[c.stream];
    if (!stream) problem(`${key}.stream`, `stream ${c.stream} is not declared`);
    for (const [i, f] of c.filterSubjects.entries()) {
      const bad = subjectProblem(f);
      if (bad) {
        problem(`${key}.filterSubjects[${i}]`, `subject ${bad}`);
        continue;
      }
      if (stream && !stream.subjects.some((s) => subjectWithin(f, s)))
        problem(
          `${key}.filterSubjects[${i}]`,
          `${f} is not inside the subjects of stream ${c.stream} (${stream.subjects.join(", ")})`,
        );
      for (const [j, g] of c.filterSubjects.entries()) {
        if (j > i && !subjectProblem(g) && subjectsOverlap(f, g))
          problem(
            `${key}.filterSubjects[${j}]`,
            `${g} overlaps ${f} (filters of one consumer must not overlap)`,
          );
      }
    }
    if (c.floorFilterSubject !== undefined) {
      const floor = c.floorFilterSubject;
      const bad = subjectProblem(floor);
      if (bad) problem(`${key}.floorFilterSubject`, `subject ${bad}`);
      else if (c.filterSubjects.length < 2)
        problem(`${key}.floorFilterSubject`, "is only for a durable with more than one filter subject");
      else if (stream && !stream.subjects.some((s) => subjectWithin(floor, s)))
        problem(
          `${key}.floorFilterSubject`,
          `${floor} is not inside the subjects of stream ${c.stream} (${stream.subjects.join(", ")})`,
        );
      else
        for (const f of c.filterSubjects)
          if (!subjectWithin(f, floor))
            problem(`${key}.floorFilterSubject`, `${floor} does not cover the filter subject ${f}`);
    }
    if (c.backoff.length > 0) {
      if (c.maxDeliver <= c.backoff.length)
        problem(
          `${key}.maxDeliver`,
          `must be more than the ${c.backoff.length} backoff steps (the server refuses it), got ${c.maxDeliver}`,
        );
      if (parseDuration(c.backoff[0] as string) !== parseDuration(c.ackWait))
        problem(
          `${key}.ackWait`,
          `must equal backoff[0] (${c.backoff[0]}): the server replaces ack_wait by the first backoff step`,
        );
    }
  }

  // The DLQ must accept a dead letter of any stream's largest message.
  const dlq = d.streams[DLQ_STREAM];
  if (dlq && dlq.maxMsgSize !== -1) {
    for (const [name, s] of Object.entries(d.streams)) {
      if (name !== DLQ_STREAM && (s.maxMsgSize === -1 || s.maxMsgSize > dlq.maxMsgSize))
        problem(
          `streams.${DLQ_STREAM}.maxMsgSize`,
          `${dlq.maxMsgSize} is smaller than ${name}'s maxMsgSize ${s.maxMsgSize}: its dead letters would be refused`,
        );
    }
  }

  if (problems.length > 0) throw new DeclarationError(problems);
  return d;
}
