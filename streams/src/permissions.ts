/**
 * Least-privilege NATS permissions per service, derived from what the service does — the streams and
 * durables it consumes, the events it publishes, the KV buckets it reads and writes — and validated
 * against the declarations (streams/src/declarations.ts), so a typo is an error naming it, never a
 * silently useless permission.
 *
 * ```ts
 * const perms = servicePermissions(manifestAccess(odooConnectorManifest), platformDeclarations());
 * renderAuthorization([renderUserConfig(perms, { user: "odoo-connector" })]);
 * ```
 *
 * The subjects are exactly those the runtime SDK (runService, EventPublisher, createEventConsumer, the
 * read-only SchemaRegistry) and nats.js KV use — each {@link PermissionGrant} says why it is there;
 * docs/security.md has the table. `threadline streams permissions [service|access file]` prints them as a
 * nats-server `authorization` block or Helm values.
 */
import { stringify as toYaml } from "yaml";
import { z } from "zod";
import { EVENT_TYPES, type EventType, REGISTRY_BUCKET, ThreadlineError } from "../../contracts/src/index.js";
import { type Declarations, subjectWithin } from "./declarations.js";
import { AUDIT_STREAM, DLQ_STREAM, dlqSubject } from "./names.js";
import { PARTITION_OWNER_GROUP } from "./partitions.js";
import { REPLAY_JOBS_BUCKET, REPLAY_STREAM, replayDurable, replaySubject } from "./replay.js";

// ---------------------------------------------------------------------------------------------
// Types

/** A durable the service pulls from. */
export interface ConsumeAccess {
  /** The stream the durable reads; must be declared. */
  readonly stream: string;
  /** The durable; must be declared on that stream. */
  readonly durable: string;
  /**
   * Grant the create subject the SDK uses to recreate the durable when it was deleted while running
   * (`recreateDeleted`, on by default). For a durable with at most one filter subject the create
   * subject carries that filter (`$JS.API.CONSUMER.CREATE.<stream>.<durable>[.<filter>]`) and the server
   * refuses a config whose filter differs, so the grant cannot widen what the service reads; with
   * several filters nats.js uses `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`, which pins
   * nothing: the service could re-create its durable over the whole stream.
   * @default true with at most one filter subject, false with several
   */
  readonly recreate?: boolean;
}

/** What a service does on NATS; everything else is refused by the server. */
export interface ServiceAccess {
  /** The service name (`runService({ name })`): the default NATS user and inbox prefix. */
  readonly service: string;
  /** Durables it consumes with the SDK (info, pull, ack, dead letters). */
  readonly consumes?: readonly ConsumeAccess[];
  /** Event types it publishes with EventPublisher: `mfg.<domain>.<event>.>` each (all majors share it). */
  readonly publishes?: readonly EventType[];
  /**
   * Streams whose messages it reads one at a time (`jsm.streams.getMessage`, e.g. the last message
   * of a subject to resume from, as the machine bridge does); must be declared.
   */
  readonly readsLast?: readonly string[];
  /**
   * Streams it reads through, once, with the stream reader (`readMessages`, `readEvents`,
   * `readStream` in streams/src/read.ts, cleanup "expire"): an ephemeral ordered consumer pinned to
   * one subject filter; must be declared.
   */
  readonly reads?: readonly StreamReadAccess[];
  /**
   * Dead letters of what it refuses before publishing (not of a durable: those come with `consumes`),
   * e.g. the Odoo records the Odoo connector's inbound sync cannot vouch for: exactly
   * `mfg.dlq.<stream>.<producer>` each ({@link DeadLetterAccess}).
   */
  readonly deadLetters?: readonly DeadLetterAccess[];
  /** KV buckets it reads (get, keys, watch, history); must be declared. */
  readonly kvRead?: readonly string[];
  /** KV buckets it writes (put, create, update, delete, purge of keys) and reads; must be declared. */
  readonly kvWrite?: readonly string[];
  /**
   * Prefix of its reply subjects (nats.js `inboxPrefix`); must be `_INBOX_<something>`.
   * @default `_INBOX_<service>`, what runService sets
   */
  readonly inboxPrefix?: string;
  /** It reads the schema registry (runService always opens it, read-only). @default true */
  readonly registry?: boolean;
  /**
   * `$JS.API.INFO` (account limits and usage): needed by `jetstreamManager(nc)` without
   * `checkAPI: false` and by `new Kvm(nc).create(bucket)` (which calls it before binding). The SDK
   * itself never calls it. @default false
   */
  readonly accountInfo?: boolean;
  /**
   * Command subjects it may send to (streams/src/machine-commands.ts: core NATS requests), e.g.
   * `threadline.cmd.machine.>`; each within `threadline.cmd.>`. Only a service declaring it may
   * command a machine.
   */
  readonly commands?: readonly string[];
  /**
   * Command subjects it serves (the machine bridge): subscribes to them and may answer exactly the
   * requests it received (nats-server `allow_responses`, one reply each, within
   * {@link COMMAND_RESPONSE_WINDOW}); each within `threadline.cmd.>`.
   */
  readonly servesCommands?: readonly string[];
  /**
   * It acts for ops (the ops console): besides its own grants, those of the ops user
   * ({@link explainOpsPermissions}): read any stream, show, redrive and purge dead letters, replay,
   * write the audit trail. @default false
   */
  readonly ops?: boolean;
}

/** Where commands live: `threadline.cmd.<kind>.…`. */
export const COMMAND_SUBJECTS = "threadline.cmd.>";

/**
 * How a command server may answer (nats-server `allow_responses`): one reply per request received,
 * within a minute — longer than the bridge takes (attempts × (write + confirmation window)) and than
 * a sender waits (20 s by default).
 */
export const COMMAND_RESPONSE_WINDOW = { max: 1, expires: "1m" } as const;

/**
 * Where a producer dead-letters what it refused before publishing it (streams/src/dead-letter.ts,
 * `deadLetterRefused`): `mfg.dlq.<stream>.<producer>`.
 */
export interface DeadLetterAccess {
  /** The stream the refused messages would have gone to; must be declared. */
  readonly stream: string;
  /**
   * The producer's token in the consumer's place: `<service>-<name>`, never a declared durable (a
   * durable's dead-letter subject is its consumer's).
   */
  readonly producer: string;
}

/** A stream read from a point to its end (reconciliation, reports). */
export interface StreamReadAccess {
  readonly stream: string;
  /** The one subject filter its readers use; the create subject pins it. */
  readonly filter: string;
}

/** A nats-server user's permissions, as `authorization.users[].permissions` spells them. */
export interface NatsPermissions {
  /** `deny` wins over `allow` (nats-server); only the analyst user has one (streams/src/accounts.ts). */
  readonly publish: { readonly allow: string[]; readonly deny?: string[] };
  readonly subscribe: { readonly allow: string[] };
  /** Replies to the requests it received, whatever their reply subject (only with a `respond` grant). */
  readonly allow_responses?: { readonly max: number; readonly expires: string };
}

/**
 * One allowed subject and the reason it is there. `respond`: it answers the requests it receives
 * on `subject` (rendered as `allow_responses`, which nats-server grants per user, not per subject).
 */
export interface PermissionGrant {
  readonly direction: "publish" | "subscribe" | "respond";
  readonly subject: string;
  readonly why: string;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** One thing wrong with an access description, named by its key (`consumes[0].durable`). */
export interface AccessProblem {
  readonly key: string;
  readonly message: string;
}

/** The access description names something that is not declared, or is malformed. Lists every problem. */
export class PermissionsError extends ThreadlineError {
  constructor(
    readonly service: string,
    readonly problems: readonly AccessProblem[],
  ) {
    super(
      "PERMISSIONS_INVALID",
      `cannot derive NATS permissions for ${service || "(no service)"}: ${problems.map((p) => `${p.key}: ${p.message}`).join("; ")}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Derivation

const SERVICE_RE = /^[a-z][a-z0-9-]*$/;
const INBOX_RE = /^_INBOX_[A-Za-z0-9_-]+$/;
const PRODUCER_RE = /^[a-z][a-z0-9-]*[a-z0-9]$/;

/** The reply-subject prefix runService gives a service's connection: `_INBOX_<service>`. */
export function defaultInboxPrefix(service: string): string {
  return `_INBOX_${service}`;
}

const list = (names: readonly string[]) => (names.length > 0 ? names.join(", ") : "none");

/** Subjects a reader of bucket `b` needs with nats.js KV, whichever way it opened the bucket. */
function kvReadGrants(b: string, who: string): PermissionGrant[] {
  const s = `KV_${b}`;
  const pub = (subject: string, why: string): PermissionGrant => ({ direction: "publish", subject, why });
  return [
    pub(
      `$JS.API.STREAM.INFO.${s}`,
      `${who}: kvm.create() of the existing bucket and kv.status() read its config`,
    ),
    pub(
      `$JS.API.STREAM.MSG.GET.${s}`,
      `${who}: kv.get() on a bucket opened with kvm.open() (no direct gets)`,
    ),
    pub(
      `$JS.API.DIRECT.GET.${s}.$KV.${b}.>`,
      `${who}: kv.get(key) on a bucket opened with kvm.create() (direct get of the key's last value)`,
    ),
    pub(`$JS.API.DIRECT.GET.${s}`, `${who}: kv.get(key, { revision }) with direct gets`),
    pub(
      `$JS.API.CONSUMER.CREATE.${s}.*.$KV.${b}.>`,
      `${who}: kv.keys()/watch()/history() create an ephemeral ordered consumer filtered to the bucket`,
    ),
    pub(`$JS.API.CONSUMER.INFO.${s}.*`, `${who}: kv.keys() reads that consumer's pending count`),
    pub(`$JS.FC.${s}.>`, `${who}: flow-control replies of that ordered consumer`),
  ];
}

/**
 * Every subject the service may use, with the reason, validated against `decls`. Throws
 * {@link PermissionsError} listing every undeclared stream, durable, bucket or unknown event type.
 */
export function explainPermissions(access: ServiceAccess, decls: Declarations): PermissionGrant[] {
  const problems: AccessProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ key, message });
  const grants: PermissionGrant[] = [];
  const pub = (subject: string, why: string) => grants.push({ direction: "publish", subject, why });
  const sub = (subject: string, why: string) => grants.push({ direction: "subscribe", subject, why });

  const service = access.service;
  if (typeof service !== "string" || !SERVICE_RE.test(service))
    problem(
      "service",
      `must be lower-case letters, digits and - (e.g. order-progress), got ${JSON.stringify(service)}`,
    );

  // Replies: JetStream API responses, PubAcks, pull deliveries, KV listings — all on the service's own inbox.
  const inbox = access.inboxPrefix ?? defaultInboxPrefix(service);
  if (!INBOX_RE.test(inbox))
    problem(
      "inboxPrefix",
      `must be one token _INBOX_<name> (not the shared _INBOX, whose subscribers see every client's replies), got ${JSON.stringify(inbox)}`,
    );
  sub(
    `${inbox}.>`,
    "replies to its requests (JetStream API, PubAcks, KV gets), pull deliveries and KV key listings: nats.js inboxes under inboxPrefix",
  );

  const streams = Object.keys(decls.streams);
  for (const [i, c] of (access.consumes ?? []).entries()) {
    const key = `consumes[${i}]`;
    const { stream: s, durable: d } = c;
    // A partitioned durable is its partitions on the server (`<durable>-p<i>`); its dead letters and
    // replay channel keep its own name.
    const partitions = Object.entries(decls.consumers).filter(([, x]) => x.partitionOf?.durable === d);
    const declared = decls.consumers[d] ?? partitions[0]?.[1];
    if (!decls.streams[s]) {
      problem(`${key}.stream`, `stream ${s} is not declared (declared: ${list(streams)})`);
      continue;
    }
    if (!declared) {
      const onStream = Object.entries(decls.consumers)
        .filter(([, x]) => x.stream === s)
        .map(([n]) => n);
      problem(`${key}.durable`, `consumer ${d} is not declared (declared on ${s}: ${list(onStream)})`);
      continue;
    }
    if (declared.stream !== s) {
      problem(`${key}.stream`, `consumer ${d} reads stream ${declared.stream}, not ${s}`);
      continue;
    }
    if (!decls.streams[DLQ_STREAM]) problem(key, `the dead-letter stream ${DLQ_STREAM} is not declared`);
    const pulled = decls.consumers[d] ? [d] : partitions.map(([n]) => n);
    for (const p of pulled) {
      const who = p === d ? `consumer ${s}/${d}` : `partition ${s}/${p} of ${d}`;
      pub(
        `$JS.API.CONSUMER.INFO.${s}.${p}`,
        `${who}: start() checks the durable, js.consumers.get(), lag refresh every infoIntervalMs, checks after a failed pull${p === d ? "" : ", a new owner waits for the previous owner's deliveries"}`,
      );
      pub(`$JS.API.CONSUMER.MSG.NEXT.${s}.${p}`, `${who}: pull requests (fetch)`);
      pub(`$JS.ACK.${s}.${p}.>`, `${who}: ack, nak with delay, +WPI (working), +TERM of its deliveries`);
      pub(
        `$JS.API.CONSUMER.PAUSE.${s}.${p}`,
        `${who}: a pause policy pauses the durable on the server (2.11+, a renewed lease) and resumes it`,
      );
      if (p !== d) {
        pub(
          `$JS.API.CONSUMER.RESET.${s}.${p}`,
          `${who}: a new owner resets it to its ack floor when deliveries the previous owner never received are outstanding (2.14+)`,
        );
        pub(
          `$JS.API.CONSUMER.UNPIN.${s}.${p}`,
          `${who}: a new owner unpins the previous owner's pull requests (priority group ${PARTITION_OWNER_GROUP}, 2.11+)`,
        );
      }
      const filters = declared.filterSubjects;
      const recreate = c.recreate ?? filters.length <= 1;
      if (recreate) {
        const why = `${who}: recreates the durable if it was deleted (recreateDeleted)`;
        if (filters.length === 0) pub(`$JS.API.CONSUMER.CREATE.${s}.${p}`, why);
        else if (filters.length === 1)
          pub(`$JS.API.CONSUMER.CREATE.${s}.${p}.${filters[0]}`, `${why}; the subject pins its filter`);
        else pub(`$JS.API.CONSUMER.DURABLE.CREATE.${s}.${p}`, `${why}; several filters: nothing pins them`);
      }
    }
    pub(dlqSubject(s, d), `consumer ${s}/${d}: dead letters to ${DLQ_STREAM}`);
    // Its replay channel (streams/src/replay.ts): the same pulls on `<durable>-replay`, and the removal
    // of a dead letter once its redriven delivery is settled.
    const r = replayDurable(d);
    if (decls.consumers[r]?.stream === REPLAY_STREAM) {
      const rwho = `replay channel ${REPLAY_STREAM}/${r} of ${d}`;
      pub(`$JS.API.CONSUMER.INFO.${REPLAY_STREAM}.${r}`, `${rwho}: start() checks the durable, lag refresh`);
      pub(`$JS.API.CONSUMER.MSG.NEXT.${REPLAY_STREAM}.${r}`, `${rwho}: pull requests (fetch)`);
      pub(
        `$JS.ACK.${REPLAY_STREAM}.${r}.>`,
        `${rwho}: ack, nak with delay, +WPI, +TERM of replayed deliveries`,
      );
      pub(`$JS.API.CONSUMER.PAUSE.${REPLAY_STREAM}.${r}`, `${rwho}: paused with the service's pause policy`);
      pub(
        `$JS.API.STREAM.MSG.DELETE.${DLQ_STREAM}`,
        `${rwho}: removes a redriven dead letter once its delivery is handled or dead-lettered again`,
      );
    }
  }

  for (const [i, d] of (access.deadLetters ?? []).entries()) {
    const key = `deadLetters[${i}]`;
    if (!decls.streams[d.stream]) {
      problem(`${key}.stream`, `stream ${d.stream} is not declared (declared: ${list(streams)})`);
      continue;
    }
    if (!decls.streams[DLQ_STREAM]) problem(key, `the dead-letter stream ${DLQ_STREAM} is not declared`);
    if (
      typeof d.producer !== "string" ||
      !PRODUCER_RE.test(d.producer) ||
      !d.producer.startsWith(`${service}-`)
    ) {
      problem(
        `${key}.producer`,
        `must be ${service}-<name> (lower-case letters, digits and -), got ${JSON.stringify(d.producer)}`,
      );
      continue;
    }
    if (
      decls.consumers[d.producer] ||
      Object.values(decls.consumers).some((x) => x.partitionOf?.durable === d.producer)
    ) {
      problem(
        `${key}.producer`,
        `${d.producer} is a declared durable: its dead letters are its consumer's (consumes), pick a name no durable has`,
      );
      continue;
    }
    pub(
      dlqSubject(d.stream, d.producer),
      `dead letters to ${DLQ_STREAM} of what it refused before publishing to ${d.stream} (${d.producer} takes the consumer's place)`,
    );
  }

  const known = new Set<string>(EVENT_TYPES);
  for (const [i, type] of (access.publishes ?? []).entries()) {
    const key = `publishes[${i}]`;
    const m = /^mfg\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.v[1-9][0-9]*$/.exec(type);
    if (!known.has(type) || !m) {
      problem(key, `${JSON.stringify(type)} is not an event type of the catalog (contracts/schemas)`);
      continue;
    }
    const subject = `mfg.${m[1]}.${m[2]}.>`;
    if (!Object.values(decls.streams).some((s) => s.subjects.some((x) => subjectWithin(subject, x))))
      problem(key, `no declared stream captures ${subject}: its publishes would fail`);
    pub(subject, `EventPublisher: ${type} to mfg.${m[1]}.${m[2]}.<site>[.<line>[.<machine>]]`);
  }

  for (const [i, s] of (access.readsLast ?? []).entries()) {
    if (!decls.streams[s]) {
      problem(`readsLast[${i}]`, `stream ${s} is not declared (declared: ${list(streams)})`);
      continue;
    }
    pub(
      `$JS.API.STREAM.MSG.GET.${s}`,
      `reads single messages of ${s} (last message per subject: where it resumes)`,
    );
  }

  for (const [i, r] of (access.reads ?? []).entries()) {
    const key = `reads[${i}]`;
    const s = decls.streams[r.stream];
    if (!s) {
      problem(`${key}.stream`, `stream ${r.stream} is not declared (declared: ${list(streams)})`);
      continue;
    }
    if (typeof r.filter !== "string" || !s.subjects.some((x) => subjectWithin(r.filter, x))) {
      problem(
        `${key}.filter`,
        `${JSON.stringify(r.filter)} is not within ${r.stream}'s subjects (${list(s.subjects)})`,
      );
      continue;
    }
    const who = `reads ${r.stream} (${r.filter})`;
    pub(`$JS.API.STREAM.INFO.${r.stream}`, `${who}: an ordered consumer checks the stream first`);
    pub(
      `$JS.API.CONSUMER.CREATE.${r.stream}.*.${r.filter}`,
      `${who}: creates an ephemeral ordered consumer; the subject pins its filter`,
    );
    // Pulls are by consumer name, which is random: any consumer of the stream, so it could pull from
    // another service's durable; what it would see it may read anyway. No DELETE: that would let it
    // delete other services' durables, so its readers expire (inactive threshold) instead.
    pub(`$JS.API.CONSUMER.MSG.NEXT.${r.stream}.*`, `${who}: pulls from that consumer`);
  }

  const buckets = Object.keys(decls.kv);
  const checkBucket = (key: string, b: string) => {
    if (decls.kv[b]) return true;
    problem(key, `bucket ${b} is not declared (declared: ${list(buckets)})`);
    return false;
  };
  for (const [i, b] of (access.kvRead ?? []).entries())
    if (checkBucket(`kvRead[${i}]`, b)) grants.push(...kvReadGrants(b, `reads ${b}`));
  for (const [i, b] of (access.kvWrite ?? []).entries()) {
    if (!checkBucket(`kvWrite[${i}]`, b)) continue;
    grants.push(...kvReadGrants(b, `writes ${b}`));
    pub(`$KV.${b}.>`, `writes ${b}: put, create, update (compare-and-set), delete and purge of keys`);
  }

  if (access.registry ?? true) {
    const r = REGISTRY_BUCKET;
    const s = `KV_${r}`;
    if (checkBucket("registry", r)) {
      pub(`$JS.API.STREAM.INFO.${s}`, "schema registry: the read-only open checks that the bucket exists");
      pub(`$JS.API.STREAM.MSG.GET.${s}`, "schema registry: reads subjects.<type> and schemas.<fingerprint>");
      pub(
        `$JS.API.CONSUMER.CREATE.${s}.*.$KV.${r}.>`,
        "schema registry: looking up an unknown writer schema lists the subjects (kv.keys(): an ephemeral ordered consumer)",
      );
      pub(`$JS.API.CONSUMER.INFO.${s}.*`, "schema registry: kv.keys() reads that consumer's pending count");
      pub(`$JS.FC.${s}.>`, "schema registry: flow-control replies of that consumer");
    }
  }

  if (access.accountInfo)
    pub("$JS.API.INFO", "account info: jetstreamManager() / new Kvm(nc).create() call it first");

  const commandSubject = (key: string, subject: unknown): subject is string => {
    if (typeof subject === "string" && /^[^\s]+$/.test(subject) && subjectWithin(subject, COMMAND_SUBJECTS))
      return true;
    problem(key, `must be a subject within ${COMMAND_SUBJECTS}, got ${JSON.stringify(subject)}`);
    return false;
  };
  for (const [i, subject] of (access.commands ?? []).entries())
    if (commandSubject(`commands[${i}]`, subject))
      pub(subject, "sends commands (core NATS requests; the replies come to its inbox)");
  for (const [i, subject] of (access.servesCommands ?? []).entries())
    if (commandSubject(`servesCommands[${i}]`, subject)) {
      sub(subject, "receives the commands it serves");
      grants.push({
        direction: "respond",
        subject,
        why: `answers each command it received, once, within ${COMMAND_RESPONSE_WINDOW.expires} (allow_responses: no publish grant on the senders' inboxes)`,
      });
    }

  if (access.ops) grants.push(...opsGrants(decls, problem));

  if (problems.length > 0) throw new PermissionsError(service, problems);
  // One grant per subject (the first reason; later ones appended), publish then subscribe, sorted; for
  // ops, a grant inside a wider one of the same direction (the registry's reads inside "any stream") goes.
  const merged = new Map<string, PermissionGrant>();
  for (const g of access.ops ? withoutNarrower(grants) : grants) {
    const k = `${g.direction} ${g.subject}`;
    const seen = merged.get(k);
    if (!seen) merged.set(k, g);
    else if (!seen.why.includes(g.why)) merged.set(k, { ...seen, why: `${seen.why}; ${g.why}` });
  }
  return [...merged.values()].sort(byDirectionAndSubject);
}

const DIRECTION_ORDER = { publish: 0, subscribe: 1, respond: 2 } as const;

/** Publish grants first, then subscribe, then respond; by subject within each. */
export function byDirectionAndSubject(a: PermissionGrant, b: PermissionGrant): number {
  if (a.direction !== b.direction) return DIRECTION_ORDER[a.direction] - DIRECTION_ORDER[b.direction];
  return a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0;
}

/** The grants without those inside a wider one of the same direction. */
export function withoutNarrower(grants: readonly PermissionGrant[]): PermissionGrant[] {
  return grants.filter(
    (g) =>
      !grants.some(
        (w) =>
          w !== g &&
          w.direction === g.direction &&
          w.subject !== g.subject &&
          subjectWithin(g.subject, w.subject),
      ),
  );
}

/** The NATS user of ops (`threadline streams permissions ops`): who runs `threadline dlq`, `replay`, `audit`. */
export const OPS_USER = "ops";
/** Where replay and redrive jobs are handed to running services (streams/src/replay…): `threadline.replay.>`. */
export const REPLAY_SUBJECTS = "threadline.replay.>";

/**
 * The least-privilege user of ops: the `threadline dlq`, `replay`, `audit` commands and nothing else.
 * Its connection sets `NATS_INBOX_PREFIX=_INBOX_ops`. Each grant says why it exists; what it does NOT
 * get: publishing on `mfg.>` (no domain event, no dead letter of its own), KV writes (the registry is
 * read-only to it), stream create/update/delete/purge, and `$JS.API.STREAM.MSG.DELETE` of any stream
 * but MFG_DLQ. A `replay --copy` to another server connects with that server's credentials.
 */
export function explainOpsPermissions(decls: Declarations): PermissionGrant[] {
  return explainPermissions({ service: OPS_USER, accountInfo: true, ops: true }, decls);
}

/** What ops do beyond a service's own grants: read any stream, work MFG_DLQ, audit, replay. */
function opsGrants(decls: Declarations, problem: (key: string, message: string) => void): PermissionGrant[] {
  const grants: PermissionGrant[] = [];
  const pub = (subject: string, why: string) => grants.push({ direction: "publish", subject, why });
  if (!decls.streams[DLQ_STREAM]) problem("ops", `${DLQ_STREAM} is not declared`);
  if (!decls.streams[AUDIT_STREAM]) problem("ops", `${AUDIT_STREAM} is not declared`);
  pub(
    "$JS.API.STREAM.INFO.*",
    "reads any stream (replay, tap, dlq list): an ordered consumer checks the stream first; plan-style checks of a --stream",
  );
  pub(
    "$JS.API.CONSUMER.CREATE.*.*",
    "reads a whole stream through an ephemeral ordered consumer (no filter: nats.js uses the subject without one)",
  );
  pub(
    "$JS.API.CONSUMER.CREATE.*.*.>",
    "reads a stream through an ephemeral ordered consumer with one subject filter (the subject carries it); rewind re-creates a durable at a new start",
  );
  pub(
    "$JS.API.CONSUMER.MSG.NEXT.*.*",
    "pulls from its ordered consumers (their names are random, so by wildcard)",
  );
  pub(
    "$JS.API.CONSUMER.INFO.*.*",
    "an ordered read's pending count; rewind reads a durable's position and config first",
  );
  pub(
    "$JS.API.CONSUMER.DELETE.*.*",
    "deletes its ordered consumers when a read ends; rewind deletes the durable it re-creates at the new position (the server cannot move a durable's start): destructive, so `replay rewind` refuses without --force and audits",
  );
  pub(`$JS.API.STREAM.MSG.GET.${DLQ_STREAM}`, "dlq show: reads one dead letter by its sequence");
  pub(
    `$JS.API.STREAM.MSG.DELETE.${DLQ_STREAM}`,
    "dlq purge, and redrive after a success: deletes dead letters by sequence (no other stream's messages)",
  );
  pub(`threadline.audit.>`, "records every replay, rewind, copy, redrive and purge in THREADLINE_AUDIT");
  pub(
    `$JS.API.CONSUMER.LIST.${REPLAY_STREAM}`,
    "lists the replay channels: the durables a replay can be sent to (the ops console offers them)",
  );
  // Replay and redrive (streams/src/replay-job.ts, redrive.ts): the replay channel, the jobs' positions.
  grants.push(...replayOpsGrants());
  return grants;
}

/** The permissions of a service: {@link explainPermissions} without the reasons. */
export function servicePermissions(access: ServiceAccess, decls: Declarations): NatsPermissions {
  return permissionsOf(explainPermissions(access, decls));
}

/** Collapses grants into `{ publish: { allow }, subscribe: { allow } }`. */
export function permissionsOf(grants: readonly PermissionGrant[]): NatsPermissions {
  return {
    publish: { allow: grants.filter((g) => g.direction === "publish").map((g) => g.subject) },
    subscribe: { allow: grants.filter((g) => g.direction === "subscribe").map((g) => g.subject) },
    ...(grants.some((g) => g.direction === "respond")
      ? { allow_responses: { ...COMMAND_RESPONSE_WINDOW } }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Access files (the CLI's input)

const names = z.array(z.string().min(1)).optional();

/** An access description as a JSON/YAML file spells it (same keys as {@link ServiceAccess}). */
export const ServiceAccessSchema = z.strictObject({
  service: z.string().regex(SERVICE_RE, "lower-case letters, digits and -"),
  consumes: z
    .array(
      z.strictObject({
        stream: z.string().min(1),
        durable: z.string().min(1),
        recreate: z.boolean().optional(),
      }),
    )
    .optional(),
  publishes: names,
  readsLast: names,
  reads: z.array(z.strictObject({ stream: z.string().min(1), filter: z.string().min(1) })).optional(),
  deadLetters: z.array(z.strictObject({ stream: z.string().min(1), producer: z.string().min(1) })).optional(),
  kvRead: names,
  kvWrite: names,
  inboxPrefix: z.string().min(1).optional(),
  registry: z.boolean().optional(),
  accountInfo: z.boolean().optional(),
  commands: names,
  servesCommands: names,
});

/**
 * Parses an access description (e.g. a parsed YAML file); event types and names are checked later
 * against the catalog and the declarations by {@link explainPermissions}. `source` names it in errors.
 */
export function parseServiceAccess(data: unknown, source: string): ServiceAccess {
  const parsed = ServiceAccessSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({
      key: i.path.length > 0 ? i.path.join(".") : source,
      message: i.message,
    }));
    throw new PermissionsError(
      typeof (data as { service?: unknown })?.service === "string"
        ? (data as { service: string }).service
        : source,
      problems,
    );
  }
  return parsed.data as ServiceAccess;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** How a generated user entry refers to its password: never the password itself. */
export interface UserRenderOptions {
  /** The NATS user name. */
  user: string;
  /**
   * `$VARIABLE` — a nats-server config variable, resolved from the config or the server's environment
   * (e.g. from a Kubernetes Secret) — or a bcrypt hash (`nats server passwd`). A plain-text password
   * is refused: it would end up in a ConfigMap, a repository or a log.
   * @default `$<SERVICE>_NATS_PASSWORD` from the user name
   */
  passwordRef?: string;
  /** Adds a `# why` comment above each subject. */
  explain?: readonly PermissionGrant[];
}

const VARIABLE_RE = /^\$[A-Za-z_][A-Za-z0-9_]*$/;
const BCRYPT_RE = /^\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** `$ORDER_PROGRESS_NATS_PASSWORD` for `order-progress`. */
export function defaultPasswordRef(user: string): string {
  return `$${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_NATS_PASSWORD`;
}

function passwordRefOf(options: UserRenderOptions): { kind: "variable" | "bcrypt"; value: string } {
  const ref = options.passwordRef ?? defaultPasswordRef(options.user);
  if (VARIABLE_RE.test(ref)) return { kind: "variable", value: ref };
  if (BCRYPT_RE.test(ref)) return { kind: "bcrypt", value: ref };
  throw new PermissionsError(options.user, [
    {
      key: "passwordRef",
      message:
        "must be a $VARIABLE (resolved by nats-server from its config or environment) or a bcrypt hash; a plain-text password is never written into generated config",
    },
  ]);
}

const q = (s: string) => JSON.stringify(s);

/**
 * One entry of a nats-server `authorization { users = [ … ] }` list:
 *
 * ```
 * {
 *   user: "order-progress"
 *   password: $ORDER_PROGRESS_NATS_PASSWORD
 *   permissions: { publish: { allow: [ … ] }, subscribe: { allow: [ … ] } }
 * }
 * ```
 * Subjects are quoted (an unquoted `$JS.…` would be read as a variable).
 */
export function renderUserConfig(perms: NatsPermissions, options: UserRenderOptions): string {
  const password = passwordRefOf(options);
  const why = new Map((options.explain ?? []).map((g) => [`${g.direction} ${g.subject}`, g.why]));
  const block = (
    direction: "publish" | "subscribe",
    subjects: readonly string[],
    deny?: readonly string[],
  ) => {
    const lines = [`    ${direction}: {`, "      allow: ["];
    for (const s of subjects) {
      const reason = why.get(`${direction} ${s}`);
      if (reason) lines.push(`        # ${reason.replace(/[\r\n]+/g, " ")}`);
      lines.push(`        ${q(s)}`);
    }
    lines.push("      ]");
    if (deny && deny.length > 0)
      lines.push("      deny: [", ...deny.map((s) => `        ${q(s)}`), "      ]");
    lines.push("    }");
    return lines;
  };
  const responses: string[] = [];
  if (perms.allow_responses) {
    for (const [k, reason] of why)
      if (k.startsWith("respond ")) responses.push(`    # ${reason.replace(/[\r\n]+/g, " ")}`);
    responses.push(
      `    allow_responses: { max: ${perms.allow_responses.max}, expires: ${q(perms.allow_responses.expires)} }`,
    );
  }
  return [
    "{",
    `  user: ${q(options.user)}`,
    `  password: ${password.kind === "variable" ? password.value : q(password.value)}`,
    "  permissions: {",
    ...block("publish", perms.publish.allow, perms.publish.deny),
    ...block("subscribe", perms.subscribe.allow),
    ...responses,
    "  }",
    "}",
  ].join("\n");
}

/** `authorization { users = [ …entries ] }` around entries from {@link renderUserConfig}. */
export function renderAuthorization(entries: readonly string[]): string {
  const indent = (s: string) =>
    s
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n");
  return ["authorization {", "  users = [", ...entries.map(indent), "  ]", "}", ""].join("\n");
}

/** A service user for {@link renderHelmValues}. */
export interface HelmUser extends UserRenderOptions {
  perms: NatsPermissions;
}

/**
 * Values for the official nats Helm chart (`config.merge` is merged into nats.conf; `<< $VAR >>` is the
 * chart's syntax for an unquoted variable) plus `container.env` entries reading each password from the
 * Kubernetes Secret `secret` (key = user name). The Secret itself is created outside the chart.
 */
export function renderHelmValues(users: readonly HelmUser[], options: { secret?: string } = {}): string {
  const secret = options.secret ?? "threadline-nats-users";
  const env: Record<string, unknown> = {};
  const entries = users.map((u) => {
    const password = passwordRefOf(u);
    if (password.kind === "variable")
      env[password.value.slice(1)] = { valueFrom: { secretKeyRef: { name: secret, key: u.user } } };
    return {
      user: u.user,
      password: password.kind === "variable" ? `<< ${password.value} >>` : password.value,
      permissions: {
        publish: {
          allow: [...u.perms.publish.allow],
          ...(u.perms.publish.deny ? { deny: [...u.perms.publish.deny] } : {}),
        },
        subscribe: { allow: [...u.perms.subscribe.allow] },
        ...(u.perms.allow_responses ? { allow_responses: { ...u.perms.allow_responses } } : {}),
      },
    };
  });
  const values: Record<string, unknown> = { config: { merge: { authorization: { users: entries } } } };
  if (Object.keys(env).length > 0) values["container"] = { env };
  return toYaml(values, { lineWidth: 0 });
}

/**
 * What an ops user needs for `threadline replay --to` and `threadline dlq redrive` on top of reading
 * the streams: publishing replayed deliveries (never to a domain stream), the replay jobs' positions,
 * and the replay durables' info to wait for them. Rewind and copy need the consumer create/delete
 * and publish rights of the streams they touch, granted per environment.
 */
export function replayOpsGrants(): PermissionGrant[] {
  const pub = (subject: string, why: string): PermissionGrant => ({ direction: "publish", subject, why });
  return [
    pub(
      `${replaySubject("*")}`,
      "threadline replay / dlq redrive: deliveries to one durable's replay channel",
    ),
    pub(
      `$JS.API.CONSUMER.INFO.${REPLAY_STREAM}.*`,
      "threadline replay --wait: the replay durable's progress",
    ),
    pub(`$KV.${REPLAY_JOBS_BUCKET}.>`, "threadline replay: the job's position (resume)"),
    pub(`$JS.API.STREAM.MSG.GET.KV_${REPLAY_JOBS_BUCKET}`, "threadline replay: reads the job's position"),
  ];
}
