/**
 * `streams plan` / `streams apply`: the difference between the declarations (streams/src/declarations.ts)
 * and a live server, and applying it safely.
 *
 * - Only the fields a declaration states are compared; whatever the server fills in is left alone.
 * - Every change is classified: `create`, `update` (in place, nothing lost), `unchanged`, or
 *   `destructive` (something stored, captured or guaranteed is lost: a subject removed, a limit
 *   tightened, fewer replicas, a retention or storage change…). Some destructive changes the server
 *   cannot make in place; `apply --force` then deletes and recreates the resource.
 * - The whole plan is checked before anything is touched: a declaration that needs a newer server than
 *   the one connected (multiple filter subjects, metadata, compression… — see SERVER_FEATURES in server-features.ts) fails
 *   the plan, and `apply` refuses every destructive change unless forced. Nothing is ever half-planned.
 *
 * ```ts
 * const plan = await planChanges(jsm, declarations(), serverFacts(nc));
 * console.log(formatPlan(plan));
 * await applyPlan(jsm, plan, { force: false });
 * ```
 */
import {
  type ConsumerConfig,
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { ThreadlineError } from "../../contracts/src/index.js";
import {
  type ConsumerDeclaration,
  type Declarations,
  formatDuration,
  type KvDeclaration,
  parseDuration,
  type StreamDeclaration,
  StreamsErrorCode,
  validateDeclarations,
} from "./declarations.js";
import { forServer } from "./for-server.js";
import {
  atLeast,
  MIN_SERVER_VERSION,
  parseServerVersion,
  SERVER_FEATURES,
  type ServerFeature,
  type ServerVersion,
  serverHas,
} from "./server-features.js";

// ---------------------------------------------------------------------------------------------
// Server versions and features (the table is server-features.ts)

/** The features a declaration can ask for (plan refuses them on a server that lacks them). */
export type Feature = {
  [F in ServerFeature]: (typeof SERVER_FEATURES)[F]["declaration"] extends true ? F : never;
}[ServerFeature];

/** The features a declaration set uses, each with the declaration key that uses it. */
export function requiredFeatures(d: Declarations): { key: string; feature: Feature }[] {
  const out: { key: string; feature: Feature }[] = [];
  for (const [name, s] of Object.entries(d.streams)) {
    const key = `streams.${name}`;
    if (s.metadata) out.push({ key: `${key}.metadata`, feature: "streamMetadata" });
    if (s.subjectTransform) out.push({ key: `${key}.subjectTransform`, feature: "subjectTransform" });
    if (s.compression) out.push({ key: `${key}.compression`, feature: "compression" });
    if (s.allowMsgTtl) out.push({ key: `${key}.allowMsgTtl`, feature: "msgTtl" });
  }
  for (const [name, c] of Object.entries(d.consumers)) {
    const key = `consumers.${name}`;
    // With a floor filter a server without multiple filters gets that one instead (forServer).
    if (c.filterSubjects.length > 1 && c.floorFilterSubject === undefined)
      out.push({ key: `${key}.filterSubjects`, feature: "multipleFilterSubjects" });
    if (c.metadata) out.push({ key: `${key}.metadata`, feature: "consumerMetadata" });
    if (c.pauseUntil) out.push({ key: `${key}.pauseUntil`, feature: "consumerPause" });
    if (c.priorityGroups) out.push({ key: `${key}.priorityGroups`, feature: "priorityGroups" });
  }
  return out;
}

/** What the plan needs to know about the server besides its current resources. */
export interface PlanOptions {
  /** The server's version, e.g. `nc.info.version` ({@link serverFacts} reads it). */
  serverVersion: string;
  /**
   * Whether JetStream runs clustered. When `false`, declarations with replicas > 1 fail the plan
   * (a single server refuses to create them — and nats-server 2.9 silently *accepts* raising an
   * existing stream to R3 while still keeping one copy). @default undefined: not checked
   */
  clustered?: boolean;
}

/** The {@link PlanOptions} of the server `nc` is connected to. */
export function serverFacts(nc: NatsConnection): PlanOptions {
  const info = nc.info;
  if (!info) throw new Error("the connection has no server info yet");
  return { serverVersion: info.version, clustered: info.cluster !== undefined && info.cluster !== "" };
}

// ---------------------------------------------------------------------------------------------
// Errors

/** One declaration that needs a newer server. */
export interface FeatureProblem {
  readonly key: string;
  readonly feature: string;
  readonly since: string;
}

/** The declarations need a newer nats-server than the one connected: nothing was planned or applied. */
export class UnsupportedFeatureError extends ThreadlineError {
  constructor(
    readonly serverVersion: string,
    readonly problems: readonly FeatureProblem[],
  ) {
    super(
      StreamsErrorCode.FeatureUnsupported,
      `the declarations need a newer nats-server than ${serverVersion}; nothing was planned or applied: ${problems
        .map((p) => `${p.key} uses ${p.feature}, which needs nats-server ${p.since} or newer`)
        .join("; ")} (upgrade the server or remove the feature from streams/src/declarations.ts)`,
    );
  }
}

/** Replicas > 1 declared for a server that is not clustered: nothing was planned or applied. */
export class ReplicasUnavailableError extends ThreadlineError {
  constructor(readonly keys: readonly string[]) {
    super(
      StreamsErrorCode.ReplicasUnavailable,
      `${keys.join(", ")} declare more than one replica but the server is a single node (not clustered); nothing was planned or applied (use --replicas 1 or --profile local against a single server)`,
    );
  }
}

/** `apply` without `force` met destructive changes: nothing was changed. */
export class DestructiveChangesRefusedError extends ThreadlineError {
  constructor(readonly items: readonly PlanItem[]) {
    super(
      StreamsErrorCode.DestructiveRefused,
      `${items.length} destructive change(s) refused, nothing was changed: ${items
        .map((i) => `${i.kind} ${i.name}${i.recreate ? " (delete and recreate)" : ""}`)
        .join(
          ", ",
        )}. Review them with \`threadline streams plan\`, then run \`threadline streams apply --force\``,
    );
  }
}

/** The server refused one change in the middle of an apply. */
export class ApplyFailedError extends ThreadlineError {
  constructor(
    readonly failed: PlanItem,
    readonly applied: readonly PlanItem[],
    readonly notApplied: readonly PlanItem[],
    cause: unknown,
  ) {
    super(
      StreamsErrorCode.ApplyFailed,
      `${failed.action} ${failed.kind} ${failed.name} failed: ${(cause as Error)?.message ?? String(cause)}; ${
        applied.length
      } change(s) were applied before it (${applied.map((i) => `${i.kind} ${i.name}`).join(", ") || "none"}), ${
        notApplied.length
      } were not. Run \`threadline streams plan\` to see where the server stands`,
      { cause },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The plan

export type ResourceKind = "stream" | "consumer" | "kv";
export type PlanAction = "create" | "update" | "unchanged" | "destructive";

/** One field that differs between the server and the declaration. */
export interface FieldChange {
  /** The server's field name (`max_age`), or the KV option name for buckets (`history`). */
  readonly field: string;
  /** The server's value, rendered (`30d`, `1GiB`, `[a, b]`). */
  readonly from: string;
  /** The declared value, rendered. */
  readonly to: string;
  /** Why the change loses something; absent for a safe change. */
  readonly destructive?: string;
  /** The server cannot make this change in place: applying it deletes and recreates the resource. */
  readonly recreate?: boolean;
}

/** What apply sends for a stream. */
export interface StreamTarget {
  readonly kind: "stream";
  readonly config: Partial<StreamConfig> & { name: string };
}
/** What apply sends for a consumer. */
export interface ConsumerTarget {
  readonly kind: "consumer";
  readonly stream: string;
  readonly config: Partial<ConsumerConfig> & { durable_name: string };
}
/** What apply sends for a KV bucket (created through Kvm, updated through its backing stream). */
export interface KvTarget {
  readonly kind: "kv";
  readonly bucket: string;
  readonly stream: string;
  readonly options: Partial<KvOptions>;
  readonly config: Partial<StreamConfig>;
}

/** The planned action for one declared resource. */
export interface PlanItem {
  readonly kind: ResourceKind;
  /** `MFG_MACHINE`, `MFG_PRODUCTION/odoo-connector-production-reported`, `THREADLINE_SCHEMAS`. */
  readonly name: string;
  /** The declaration key: `streams.MFG_MACHINE`, `consumers.<durable>`, `kv.<bucket>`. */
  readonly key: string;
  readonly action: PlanAction;
  /** Field-by-field differences (update and destructive). */
  readonly changes: readonly FieldChange[];
  /** Destructive and not possible in place: apply --force deletes and recreates it. */
  readonly recreate: boolean;
  /** Extra facts a reviewer needs: what a recreate deletes, why a consumer is recreated… */
  readonly notes: readonly string[];
  readonly target: StreamTarget | ConsumerTarget | KvTarget;
}

/** A resource on the server that looks like ours but is not declared; apply never touches it. */
export interface UnmanagedResource {
  readonly kind: ResourceKind;
  readonly name: string;
}

export interface Plan {
  readonly serverVersion: string;
  /** Streams first, then KV buckets, then consumers: the order apply follows. */
  readonly items: readonly PlanItem[];
  readonly unmanaged: readonly UnmanagedResource[];
}

/** Counts per action. */
export function planSummary(plan: Plan): Record<PlanAction, number> {
  const out: Record<PlanAction, number> = { create: 0, update: 0, unchanged: 0, destructive: 0 };
  for (const i of plan.items) out[i.action]++;
  return out;
}

/** The destructive items of a plan (what `apply` refuses without force). */
export function destructiveItems(plan: Plan): PlanItem[] {
  return plan.items.filter((i) => i.action === "destructive");
}

// ---------------------------------------------------------------------------------------------
// Rendering values

const NS_PER_MS = 1_000_000;
const nanos = (duration: string) => parseDuration(duration) * NS_PER_MS;

function renderBytes(n: unknown): string {
  if (typeof n !== "number") return String(n);
  if (n < 0) return "unlimited";
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}B`;
}
function renderNanos(n: unknown): string {
  return typeof n === "number" ? formatDuration(Math.round(n / NS_PER_MS)) : String(n);
}
function renderAge(n: unknown): string {
  return n === 0 ? "forever" : renderNanos(n);
}
function renderCount(n: unknown): string {
  return typeof n === "number" && n < 0 ? "unlimited" : String(n);
}
function renderList(v: unknown): string {
  return Array.isArray(v) ? `[${v.join(", ")}]` : String(v);
}
function renderNanosList(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(renderNanos).join(", ")}]` : String(v);
}
function renderPlain(v: unknown): string {
  if (v === undefined || v === null) return "(none)";
  if (v === "") return '""';
  return typeof v === "string" ? (v.includes(" ") ? JSON.stringify(v) : v) : JSON.stringify(v);
}

/** `max_age 30d -> 90d, subjects [a, b] -> [a] (stops capturing b)` */
export function describeChanges(item: PlanItem): string {
  return item.changes
    .map((c) => `${c.field} ${c.from} -> ${c.to}${c.destructive ? ` (${c.destructive})` : ""}`)
    .join(", ");
}

// ---------------------------------------------------------------------------------------------
// Field comparison

interface Verdict {
  destructive?: string;
  recreate?: boolean;
}

/** One declared field: its live and desired values (normalised), how to show them, how to judge a change. */
interface Field {
  readonly name: string;
  readonly live: unknown;
  readonly desired: unknown;
  readonly render: (v: unknown) => string;
  readonly judge?: (live: unknown, desired: unknown) => Verdict | undefined;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function diff(fields: readonly Field[]): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of fields) {
    if (same(f.live, f.desired)) continue;
    const verdict = f.judge?.(f.live, f.desired) ?? {};
    out.push({
      field: f.name,
      from: f.render(f.live),
      to: f.render(f.desired),
      ...(verdict.destructive ? { destructive: verdict.destructive } : {}),
      ...(verdict.recreate ? { recreate: true } : {}),
    });
  }
  return out;
}

/** A limit (≤ 0 = unlimited) that gets smaller deletes what no longer fits, at once. */
function tighter(what: string) {
  return (live: unknown, desired: unknown): Verdict | undefined => {
    const lim = (v: unknown) => (typeof v === "number" && v > 0 ? v : Number.POSITIVE_INFINITY);
    return lim(desired) < lim(live) ? { destructive: what } : undefined;
  };
}

function fewerReplicas(live: unknown, desired: unknown): Verdict | undefined {
  return typeof live === "number" && typeof desired === "number" && desired < live
    ? {
        destructive: `fewer copies: survives the loss of ${Math.floor((desired - 1) / 2)} node(s) instead of ${Math.floor((live - 1) / 2)}`,
      }
    : undefined;
}

const sortedList = (v: readonly string[] | undefined) => [...(v ?? [])].sort();

/** Only the declared keys of `live`, in the declared order. */
function declaredMetadata(
  live: Record<string, string> | undefined,
  declared: Readonly<Record<string, string>>,
) {
  return Object.fromEntries(Object.keys(declared).map((k) => [k, live?.[k] ?? null]));
}

function streamConfigOf(name: string, d: StreamDeclaration): StreamTarget["config"] {
  const cfg: StreamTarget["config"] = {
    name,
    description: d.description,
    subjects: [...d.subjects],
    retention: d.retention,
    storage: d.storage,
    num_replicas: d.replicas,
    max_age: nanos(d.maxAge),
    max_bytes: d.maxBytes,
    max_msg_size: d.maxMsgSize,
    discard: d.discard,
    duplicate_window: nanos(d.duplicateWindow),
  };
  if (d.maxMsgsPerSubject !== undefined) cfg.max_msgs_per_subject = d.maxMsgsPerSubject;
  if (d.metadata) cfg.metadata = { ...d.metadata };
  if (d.compression) cfg.compression = d.compression;
  if (d.subjectTransform) cfg.subject_transform = { ...d.subjectTransform };
  if (d.allowMsgTtl !== undefined) cfg.allow_msg_ttl = d.allowMsgTtl;
  return cfg;
}

function streamFields(d: StreamDeclaration, live: StreamConfig, version: ServerVersion): Field[] {
  const want = streamConfigOf(live.name, d);
  const fields: Field[] = [
    { name: "description", live: live.description ?? "", desired: d.description, render: renderPlain },
    {
      name: "subjects",
      live: sortedList(live.subjects),
      desired: sortedList(d.subjects),
      render: renderList,
      judge: (a, b) => {
        const removed = (a as string[]).filter((s) => !(b as string[]).includes(s));
        return removed.length > 0
          ? {
              destructive: `stops capturing ${removed.join(", ")}; stored messages stay, new ones are not kept`,
            }
          : undefined;
      },
    },
    {
      name: "retention",
      live: live.retention,
      desired: d.retention,
      render: renderPlain,
      judge: (a, b) => ({
        destructive: `changes which stored messages are kept${b === "limits" ? "" : " (acked messages are deleted)"}`,
        recreate: !(serverHas(version, "retentionUpdate") && a !== "workqueue" && b !== "workqueue"),
      }),
    },
    {
      name: "storage",
      live: live.storage,
      desired: d.storage,
      render: renderPlain,
      judge: () => ({ destructive: "the server cannot change storage in place", recreate: true }),
    },
    {
      name: "num_replicas",
      live: live.num_replicas,
      desired: d.replicas,
      render: renderPlain,
      judge: fewerReplicas,
    },
    {
      name: "max_age",
      live: live.max_age,
      desired: want.max_age,
      render: renderAge,
      judge: tighter("stored messages older than the new limit are deleted at once"),
    },
    {
      name: "max_bytes",
      live: live.max_bytes,
      desired: d.maxBytes,
      render: renderBytes,
      judge: tighter("stored messages beyond the new size are deleted at once"),
    },
    { name: "max_msg_size", live: live.max_msg_size, desired: d.maxMsgSize, render: renderBytes },
    {
      name: "discard",
      live: live.discard,
      desired: d.discard,
      render: renderPlain,
      judge: (_a, b) =>
        b === "old"
          ? { destructive: "when full, the stream deletes its oldest messages instead of refusing new ones" }
          : undefined,
    },
    {
      name: "duplicate_window",
      live: live.duplicate_window,
      desired: want.duplicate_window,
      render: renderNanos,
    },
  ];
  if (d.maxMsgsPerSubject !== undefined)
    fields.push({
      name: "max_msgs_per_subject",
      live: live.max_msgs_per_subject,
      desired: d.maxMsgsPerSubject,
      render: renderCount,
      judge: tighter("older messages beyond the new per-subject count are deleted at once"),
    });
  if (d.metadata)
    fields.push({
      name: "metadata",
      live: declaredMetadata(live.metadata, d.metadata),
      desired: { ...d.metadata },
      render: renderPlain,
    });
  if (d.compression)
    fields.push({
      name: "compression",
      live: live.compression ?? "none",
      desired: d.compression,
      render: renderPlain,
    });
  if (d.subjectTransform)
    fields.push({
      name: "subject_transform",
      live: live.subject_transform
        ? { src: live.subject_transform.src, dest: live.subject_transform.dest }
        : null,
      desired: { src: d.subjectTransform.src, dest: d.subjectTransform.dest },
      render: renderPlain,
    });
  if (d.allowMsgTtl !== undefined)
    fields.push({
      name: "allow_msg_ttl",
      live: live.allow_msg_ttl ?? false,
      desired: d.allowMsgTtl,
      render: renderPlain,
      judge: (a, b) =>
        a === true && b === false
          ? { destructive: "the server cannot turn per-message TTL off in place", recreate: true }
          : undefined,
    });
  return fields;
}

/** The server configuration `streams apply` creates a declared durable with. */
export function consumerConfigOf(name: string, d: ConsumerDeclaration): ConsumerTarget["config"] {
  const cfg: ConsumerTarget["config"] = {
    durable_name: name,
    description: d.description,
    ack_policy: "explicit",
    deliver_policy: d.deliverPolicy ?? "all",
    replay_policy: "instant",
    ack_wait: nanos(d.ackWait),
    max_deliver: d.maxDeliver,
    backoff: d.backoff.map(nanos),
    max_ack_pending: d.maxAckPending,
  };
  if (d.filterSubjects.length === 1) cfg.filter_subject = d.filterSubjects[0];
  else cfg.filter_subjects = [...d.filterSubjects];
  if (d.metadata) cfg.metadata = { ...d.metadata };
  if (d.pauseUntil) cfg.pause_until = d.pauseUntil;
  if (d.priorityGroups) {
    cfg.priority_groups = [...d.priorityGroups.groups];
    cfg.priority_policy = d.priorityGroups.policy;
  }
  return cfg;
}

/**
 * The item that creates a durable. A new partition of a durable the server still has unpartitioned
 * (a service moving to `partitions`) starts after that durable's ack floor: what the old durable
 * acknowledged is not handled again. What it had delivered and not acknowledged yet is above the
 * floor and handled by the partitions (at-least-once; postings are idempotent). The old durable is
 * left alone (listed as unmanaged): delete it once no process of the previous version reads it.
 */
async function newConsumerItem(
  jsm: JetStreamManager,
  base: Pick<PlanItem, "kind" | "name" | "key"> & { readonly target: ConsumerTarget },
  decl: ConsumerDeclaration,
): Promise<PlanItem> {
  const created = { ...base, action: "create" as const, changes: [], recreate: false };
  const predecessor = decl.partitionOf?.durable;
  const old = predecessor ? await consumerInfo(jsm, decl.stream, predecessor) : undefined;
  if (!old) return { ...created, notes: [] };
  const start = old.ack_floor.stream_seq + 1;
  return {
    ...created,
    target: {
      ...base.target,
      config: { ...base.target.config, deliver_policy: "by_start_sequence", opt_start_seq: start },
    },
    notes: [
      `starts at stream sequence ${start}, after the ack floor of ${predecessor} (the durable before partitioning), so nothing it acknowledged is handled again; delete ${predecessor} once nothing of the previous version reads it`,
    ],
  };
}

const immutable = (what: string) => (): Verdict => ({
  destructive: `the server cannot change ${what} in place; the recreated consumer loses its position and redelivers from its deliver policy`,
  recreate: true,
});

function consumerFields(d: ConsumerDeclaration, live: ConsumerConfig): Field[] {
  const want = consumerConfigOf(live.durable_name ?? "", d);
  const liveFilters = live.filter_subjects?.length
    ? [...live.filter_subjects]
    : live.filter_subject
      ? [live.filter_subject]
      : [];
  const fields: Field[] = [
    { name: "description", live: live.description ?? "", desired: d.description, render: renderPlain },
    {
      name: liveFilters.length > 1 || d.filterSubjects.length > 1 ? "filter_subjects" : "filter_subject",
      live: [...liveFilters].sort(),
      desired: [...d.filterSubjects].sort(),
      render: (v) => (Array.isArray(v) && v.length === 1 ? String(v[0]) : renderList(v)),
    },
    {
      name: "deliver_policy",
      // A durable rewound by `threadline replay rewind` starts at a sequence or time: where it starts
      // matters only when it is created, so that is not a change to undo.
      live:
        live.deliver_policy === "by_start_sequence" || live.deliver_policy === "by_start_time"
          ? want.deliver_policy
          : live.deliver_policy,
      desired: want.deliver_policy,
      render: renderPlain,
      judge: immutable("deliver_policy"),
    },
    {
      name: "ack_policy",
      live: live.ack_policy,
      desired: want.ack_policy,
      render: renderPlain,
      judge: immutable("ack_policy"),
    },
    {
      name: "replay_policy",
      live: live.replay_policy,
      desired: want.replay_policy,
      render: renderPlain,
      judge: immutable("replay_policy"),
    },
    { name: "ack_wait", live: live.ack_wait, desired: want.ack_wait, render: renderNanos },
    { name: "backoff", live: live.backoff ?? [], desired: want.backoff, render: renderNanosList },
    { name: "max_deliver", live: live.max_deliver, desired: d.maxDeliver, render: renderCount },
    { name: "max_ack_pending", live: live.max_ack_pending, desired: d.maxAckPending, render: renderCount },
  ];
  if (d.metadata)
    fields.push({
      name: "metadata",
      live: declaredMetadata(live.metadata, d.metadata),
      desired: { ...d.metadata },
      render: renderPlain,
    });
  if (d.pauseUntil)
    fields.push({
      name: "pause_until",
      live: live.pause_until ? new Date(live.pause_until).toISOString() : null,
      desired: new Date(d.pauseUntil).toISOString(),
      render: renderPlain,
    });
  if (d.priorityGroups)
    fields.push({
      name: "priority_groups",
      live: { groups: live.priority_groups ?? [], policy: live.priority_policy ?? "none" },
      desired: { groups: [...d.priorityGroups.groups], policy: d.priorityGroups.policy },
      render: renderPlain,
    });
  return fields;
}

function kvOptionsOf(d: KvDeclaration): Partial<KvOptions> {
  const opts: Partial<KvOptions> = {
    description: d.description,
    history: d.history,
    max_bytes: d.maxBytes ?? -1,
    maxValueSize: d.maxValueSize ?? -1,
    storage: d.storage,
    replicas: d.replicas,
  };
  if (d.ttl) opts.ttl = parseDuration(d.ttl);
  return opts;
}

/** The backing-stream fields a KV declaration sets (what an in-place update sends). */
function kvStreamConfigOf(d: KvDeclaration): Partial<StreamConfig> {
  return {
    description: d.description,
    max_msgs_per_subject: d.history,
    max_age: d.ttl ? nanos(d.ttl) : 0,
    max_bytes: d.maxBytes ?? -1,
    max_msg_size: d.maxValueSize ?? -1,
    storage: d.storage,
    num_replicas: d.replicas,
  };
}

function kvFields(d: KvDeclaration, live: StreamConfig): Field[] {
  const want = kvStreamConfigOf(d);
  return [
    { name: "description", live: live.description ?? "", desired: d.description, render: renderPlain },
    {
      name: "history",
      live: live.max_msgs_per_subject,
      desired: want.max_msgs_per_subject,
      render: renderCount,
      judge: tighter("older revisions beyond the new history are deleted at once"),
    },
    {
      name: "ttl",
      live: live.max_age,
      desired: want.max_age,
      render: renderAge,
      judge: tighter("entries older than the new TTL are deleted at once"),
    },
    {
      name: "max_bytes",
      live: live.max_bytes,
      desired: want.max_bytes,
      render: renderBytes,
      judge: tighter("entries beyond the new size are deleted at once"),
    },
    { name: "max_value_size", live: live.max_msg_size, desired: want.max_msg_size, render: renderBytes },
    {
      name: "storage",
      live: live.storage,
      desired: want.storage,
      render: renderPlain,
      judge: () => ({ destructive: "the server cannot change storage in place", recreate: true }),
    },
    {
      name: "replicas",
      live: live.num_replicas,
      desired: want.num_replicas,
      render: renderPlain,
      judge: fewerReplicas,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Reading the server

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isNotFound(err, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw err;
  }
}

async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (err) {
    if (
      isNotFound(err, JetStreamApiCodes.ConsumerNotFound) ||
      isNotFound(err, JetStreamApiCodes.StreamNotFound)
    )
      return undefined;
    throw err;
  }
}

async function consumerNames(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const out: string[] = [];
  for await (const ci of jsm.consumers.list(stream)) out.push(ci.name);
  return out.sort();
}

function itemFrom(
  base: Pick<PlanItem, "kind" | "name" | "key" | "target">,
  changes: FieldChange[],
  notes: string[] = [],
): PlanItem {
  const destructive = changes.some((c) => c.destructive);
  return {
    ...base,
    action: changes.length === 0 ? "unchanged" : destructive ? "destructive" : "update",
    changes,
    recreate: changes.some((c) => c.recreate),
    notes,
  };
}

/** Fails the plan, before reading anything, when the server cannot hold the declarations. */
function checkServer(d: Declarations, version: ServerVersion, options: PlanOptions): void {
  const problems: FeatureProblem[] = [];
  if (!atLeast(version, MIN_SERVER_VERSION))
    problems.push({ key: "(all declarations)", feature: "streams plan/apply", since: MIN_SERVER_VERSION });
  for (const { key, feature } of requiredFeatures(d)) {
    const f = SERVER_FEATURES[feature];
    if (!atLeast(version, f.since)) problems.push({ key, feature: f.label, since: f.since });
  }
  if (problems.length > 0) throw new UnsupportedFeatureError(version.text, problems);
  if (options.clustered === false) {
    const keys = [
      ...Object.entries(d.streams)
        .filter(([, s]) => s.replicas > 1)
        .map(([n]) => `streams.${n}`),
      ...Object.entries(d.kv)
        .filter(([, k]) => k.replicas > 1)
        .map(([n]) => `kv.${n}`),
    ];
    if (keys.length > 0) throw new ReplicasUnavailableError(keys);
  }
}

/**
 * Compares the declarations with the server behind `jsm` and returns what `apply` would do. Reads only.
 * Throws {@link DeclarationError} (invalid declarations), {@link UnsupportedFeatureError} (the server is
 * too old for a declared feature) or {@link ReplicasUnavailableError} before reading anything.
 */
export async function planChanges(
  jsm: JetStreamManager,
  input: Declarations,
  options: PlanOptions,
): Promise<Plan> {
  const version = parseServerVersion(options.serverVersion);
  const valid = validateDeclarations(input);
  checkServer(valid, version, options);
  const d = forServer(valid, version);

  const streams: PlanItem[] = [];
  const kv: PlanItem[] = [];
  const consumers: PlanItem[] = [];
  const unmanaged: UnmanagedResource[] = [];
  /** Declared streams that will not exist with their current consumers after apply (created or recreated). */
  const fresh = new Map<string, string>();

  for (const [name, decl] of Object.entries(d.streams)) {
    const base = {
      kind: "stream" as const,
      name,
      key: `streams.${name}`,
      target: { kind: "stream" as const, config: streamConfigOf(name, decl) },
    };
    const info = await streamInfo(jsm, name);
    if (!info) {
      streams.push({ ...base, action: "create", changes: [], recreate: false, notes: [] });
      fresh.set(name, "created");
      continue;
    }
    const existing = await consumerNames(jsm, name);
    const declared = new Set(
      Object.entries(d.consumers)
        .filter(([, c]) => c.stream === name)
        .map(([n]) => n),
    );
    for (const c of existing)
      if (!declared.has(c)) unmanaged.push({ kind: "consumer", name: `${name}/${c}` });
    const item = itemFrom(base, diff(streamFields(decl, info.config, version)));
    if (item.recreate) {
      fresh.set(name, "recreated");
      streams.push({
        ...item,
        notes: [
          `apply --force deletes the stream with its ${info.state.messages} message(s)${
            existing.length > 0 ? ` and consumer(s) ${existing.join(", ")}` : ""
          }, then creates it empty`,
        ],
      });
    } else streams.push(item);
  }

  for (const [bucket, decl] of Object.entries(d.kv)) {
    const stream = `KV_${bucket}`;
    const base = {
      kind: "kv" as const,
      name: bucket,
      key: `kv.${bucket}`,
      target: {
        kind: "kv" as const,
        bucket,
        stream,
        options: kvOptionsOf(decl),
        config: kvStreamConfigOf(decl),
      },
    };
    const info = await streamInfo(jsm, stream);
    if (!info) {
      kv.push({ ...base, action: "create", changes: [], recreate: false, notes: [] });
      continue;
    }
    const item = itemFrom(base, diff(kvFields(decl, info.config)));
    kv.push(
      item.recreate
        ? {
            ...item,
            notes: [
              `apply --force deletes the bucket with its ${info.state.messages} entry revision(s), then creates it empty`,
            ],
          }
        : item,
    );
  }

  for (const [name, decl] of Object.entries(d.consumers)) {
    const base = {
      kind: "consumer" as const,
      name: `${decl.stream}/${name}`,
      key: `consumers.${name}`,
      target: { kind: "consumer" as const, stream: decl.stream, config: consumerConfigOf(name, decl) },
    };
    const streamFate = fresh.get(decl.stream);
    if (streamFate) {
      consumers.push({
        ...base,
        action: "create",
        changes: [],
        recreate: false,
        notes: streamFate === "recreated" ? [`created again with its stream ${decl.stream}`] : [],
      });
      continue;
    }
    const info = await consumerInfo(jsm, decl.stream, name);
    if (!info) {
      consumers.push(await newConsumerItem(jsm, base, decl));
      continue;
    }
    consumers.push(itemFrom(base, diff(consumerFields(decl, info.config))));
  }

  const declaredStreams = new Set([...Object.keys(d.streams), ...Object.keys(d.kv).map((b) => `KV_${b}`)]);
  for await (const name of jsm.streams.names()) {
    if (declaredStreams.has(name)) continue;
    if (name.startsWith("MFG_")) unmanaged.push({ kind: "stream", name });
    else if (name.startsWith("KV_THREADLINE_")) unmanaged.push({ kind: "kv", name: name.slice(3) });
  }
  unmanaged.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

  return { serverVersion: version.text, items: [...streams, ...kv, ...consumers], unmanaged };
}

// ---------------------------------------------------------------------------------------------
// Applying

export interface ApplyOptions {
  /** Apply destructive changes too (recreating what the server cannot change in place). @default false */
  force?: boolean;
}

export interface ApplyResult {
  /** The items that changed the server, in the order applied. */
  readonly applied: readonly PlanItem[];
  /** Items already as declared. */
  readonly unchanged: number;
}

async function applyStream(jsm: JetStreamManager, item: PlanItem, t: StreamTarget): Promise<void> {
  if (item.action === "create") {
    await jsm.streams.add(t.config);
    return;
  }
  if (item.recreate) {
    await jsm.streams.delete(t.config.name);
    await jsm.streams.add(t.config);
    return;
  }
  const { name, ...update } = t.config;
  if (update.metadata) {
    const live = (await jsm.streams.info(name)).config.metadata ?? {};
    update.metadata = { ...live, ...update.metadata };
  }
  await jsm.streams.update(name, update);
}

async function applyKv(jsm: JetStreamManager, item: PlanItem, t: KvTarget): Promise<void> {
  if (item.recreate) await jsm.streams.delete(t.stream);
  if (item.action === "create" || item.recreate) {
    await new Kvm(jsm.jetstream()).create(t.bucket, t.options);
    return;
  }
  // Kvm leaves the duplicate window at the server default (capped by the TTL); a shorter TTL must cap it
  // again or the server refuses the update.
  const config = { ...t.config };
  const live = (await jsm.streams.info(t.stream)).config;
  if (config.max_age && live.duplicate_window > config.max_age) config.duplicate_window = config.max_age;
  await jsm.streams.update(t.stream, config);
}

async function applyConsumer(jsm: JetStreamManager, item: PlanItem, t: ConsumerTarget): Promise<void> {
  if (item.action === "create") {
    await jsm.consumers.add(t.stream, t.config);
    return;
  }
  if (item.recreate) {
    await jsm.consumers.delete(t.stream, t.config.durable_name);
    await jsm.consumers.add(t.stream, t.config);
    return;
  }
  // jsm.consumers.update merges into the live config: clear the filter form we do not use.
  const { durable_name, ...update } = t.config;
  await jsm.consumers.update(t.stream, durable_name, {
    ...update,
    filter_subject: update.filter_subject,
    filter_subjects: update.filter_subjects,
  });
}

/**
 * Applies a plan: creates, updates in place and — only with `force` — makes destructive changes,
 * recreating what the server cannot change in place. Without `force`, any destructive item makes it throw
 * {@link DestructiveChangesRefusedError} before anything is changed. Applying the plan of an up-to-date
 * server changes nothing, so plan + apply can run on every deploy.
 */
export async function applyPlan(
  jsm: JetStreamManager,
  plan: Plan,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const destructive = destructiveItems(plan);
  if (destructive.length > 0 && !options.force) throw new DestructiveChangesRefusedError(destructive);
  const pending = plan.items.filter((i) => i.action !== "unchanged");
  const applied: PlanItem[] = [];
  for (const [index, item] of pending.entries()) {
    try {
      const t = item.target;
      if (t.kind === "stream") await applyStream(jsm, item, t);
      else if (t.kind === "kv") await applyKv(jsm, item, t);
      else await applyConsumer(jsm, item, t);
    } catch (cause) {
      throw new ApplyFailedError(item, applied, pending.slice(index + 1), cause);
    }
    applied.push(item);
  }
  return { applied, unchanged: plan.items.length - pending.length };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function createSummary(item: PlanItem): string {
  const t = item.target;
  if (t.kind === "stream")
    return `${renderList(t.config.subjects)}, ${t.config.retention}, max_age ${renderAge(t.config.max_age)}, max_bytes ${renderBytes(t.config.max_bytes)}, R${t.config.num_replicas}`;
  if (t.kind === "kv")
    return `history ${t.options.history}, ttl ${t.options.ttl ? formatDuration(t.options.ttl) : "forever"}, R${t.options.replicas}`;
  const filters = t.config.filter_subjects ?? [t.config.filter_subject];
  return `${renderList(filters)}, max_deliver ${t.config.max_deliver}, max_ack_pending ${t.config.max_ack_pending}`;
}

/**
 * The plan as a readable diff, one line per resource:
 *
 * ```
 * + create stream MFG_MACHINE ([mfg.machine.>], limits, max_age 7d, max_bytes 256MiB, R1)
 * ~ update stream MFG_QUALITY: max_age 30d -> 730d
 * = unchanged kv THREADLINE_SCHEMAS
 * ! destructive stream MFG_SHIPPING: subjects [a, b] -> [a] (stops capturing b; …)
 * ? unmanaged consumer MFG_PRODUCTION/old-report-poster (not declared; apply leaves it alone)
 *
 * 3 to create, 1 to update, 10 unchanged, 1 destructive (nats-server 2.9.10)
 * ```
 */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const item of plan.items) {
    const what = `${item.kind} ${item.name}`;
    if (item.action === "create") lines.push(`+ create ${what} (${createSummary(item)})`);
    else if (item.action === "unchanged") lines.push(`= unchanged ${what}`);
    else if (item.action === "update") lines.push(`~ update ${what}: ${describeChanges(item)}`);
    else lines.push(`! destructive ${what}${item.recreate ? " (recreate)" : ""}: ${describeChanges(item)}`);
    for (const note of item.notes) lines.push(`    ${note}`);
  }
  for (const u of plan.unmanaged)
    lines.push(`? unmanaged ${u.kind} ${u.name} (not declared; apply leaves it alone)`);
  const s = planSummary(plan);
  lines.push("");
  lines.push(
    `${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged, ${s.destructive} destructive (nats-server ${plan.serverVersion})`,
  );
  return lines.join("\n");
}
