/**
 * One NATS account per service, derived from the same grants as its least-privilege user
 * (streams/src/permissions.ts): the streams, KV buckets and durables live in one JetStream account,
 * `THREADLINE`, and each service connects to an account of its own without JetStream, which reaches
 * the JetStream account only through the imports its grants imply. This closes the gap subject
 * permissions leave open in one account (docs/security.md): a client chooses the reply subject of a
 * JetStream API request, and the server publishes the reply there with its own rights — a pull for a
 * durable answered into `mfg.quality.x` lands in `MFG_QUALITY`. Across a service import the server
 * replaces the reply with a private `_R_.…` subject of the exporting account and routes the answer
 * back to the requester's account: whatever reply a service chooses, nothing it receives is published
 * into the JetStream account's subjects.
 *
 * ```ts
 * const accounts = accountsOf({ services: SERVICE_MANIFESTS.map(manifestAccess), decls: platformDeclarations() });
 * process.stdout.write(renderAccounts(accounts));   // `threadline streams accounts`
 * ```
 *
 * What becomes what:
 * - every publish grant of a service (JetStream API subjects, event subjects, `$JS.ACK…`, `$KV…`,
 *   `$JS.FC…`, dead letters) is a *service* export of `THREADLINE` limited to the accounts of the
 *   services that have it, and a service import of the service's account; a pull
 *   (`$JS.API.CONSUMER.MSG.NEXT…`) is answered by many messages: `response_type: stream`;
 * - its reply prefix `_INBOX_<service>.>` is a *stream* export of `THREADLINE` to that account only:
 *   push deliveries (KV watch, keys, history) and their heartbeats and flow control are published by
 *   the server in the JetStream account on the consumer's deliver subject;
 * - command subjects (`threadline.cmd.machine.>`) are a service export of the account that serves
 *   them (the machine bridge) to the accounts that may send them (the production orchestrator);
 * - each account's user keeps the permissions it has today (`explainPermissions`): inside its account
 *   they still separate sending a command from serving one.
 *
 * `ops` and `analyst` get accounts of their own the same way ({@link explainAnalystPermissions}), the
 * JetStream account holds the platform's `admin` user (`streams apply`, `contracts register`), and
 * `SYS` is the system account. Tested on nats-server 2.9.10 and the current release
 * (test/streams/accounts.test.ts).
 */
import { type Declarations, subjectWithin } from "./declarations.js";
import { DLQ_STREAM } from "./names.js";
import {
  byDirectionAndSubject,
  COMMAND_SUBJECTS,
  defaultPasswordRef,
  explainOpsPermissions,
  explainPermissions,
  type NatsPermissions,
  OPS_USER,
  type PermissionGrant,
  PermissionsError,
  permissionsOf,
  renderUserConfig,
  type ServiceAccess,
  withoutNarrower,
} from "./permissions.js";

/** The account holding every stream, KV bucket and durable. */
export const JETSTREAM_ACCOUNT = "THREADLINE";
/** The system account (monitoring, `$SYS`). */
export const SYSTEM_ACCOUNT = "SYS";
/** The platform's user in the JetStream account: `streams apply`, `contracts register`. */
export const ADMIN_USER = "admin";
/** The system account's user. */
export const SYSTEM_USER = "sys";
/** The read-only user of analysts (`threadline tap` and the stream readers), in its own account. */
export const ANALYST_USER = "analyst";

/** One export of an account. */
export interface AccountExport {
  /** `service`: requests (with their replies) flow in; `stream`: messages flow out. */
  readonly kind: "service" | "stream";
  readonly subject: string;
  /** The only accounts that may import it. */
  readonly accounts: readonly string[];
  /** `stream`: a request may be answered by many messages (a pull). @default singleton */
  readonly responseType?: "stream";
  readonly why: readonly string[];
}

/** One import of an account: `subject` exported by `account`. */
export interface AccountImport {
  readonly kind: "service" | "stream";
  readonly account: string;
  readonly subject: string;
}

/** A user of an account, with its permissions inside the account (none: everything the account has). */
export interface AccountUser {
  readonly user: string;
  readonly passwordRef: string;
  readonly perms?: NatsPermissions;
  readonly explain?: readonly PermissionGrant[];
}

/** One account of the generated configuration. */
export interface AccountSpec {
  readonly name: string;
  readonly jetstream: boolean;
  readonly users: readonly AccountUser[];
  readonly exports: readonly AccountExport[];
  readonly imports: readonly AccountImport[];
}

/** What {@link accountsOf} builds the accounts from. */
export interface AccountsOptions {
  /** The services, each in an account named after it. */
  readonly services: readonly ServiceAccess[];
  readonly decls: Declarations;
  /** Add the `ops` account and user (`explainOpsPermissions`). @default true */
  readonly ops?: boolean;
  /** Add the `analyst` account and user ({@link explainAnalystPermissions}). @default true */
  readonly analyst?: boolean;
}

const RESERVED = new Set([JETSTREAM_ACCOUNT, SYSTEM_ACCOUNT, "$G", "$SYS"]);

/** The streams an analyst may read: every declared `mfg.*` stream but the dead letters. */
export function analystStreams(decls: Declarations): string[] {
  return Object.entries(decls.streams)
    .filter(([name, s]) => name !== DLQ_STREAM && s.subjects.every((x) => subjectWithin(x, "mfg.>")))
    .map(([name]) => name)
    .sort();
}

/**
 * The analyst user: reads any `mfg.*` stream but `MFG_DLQ` with the stream reader (streams/src/read.ts,
 * `cleanup: "expire"`) and `threadline tap` — an ephemeral ordered consumer per read, over the whole
 * stream or one filter — decodes with the schema registry, and publishes nothing else: no event, no
 * dead letter, no KV write, no consumer delete. `deny` keeps it off every declared durable: it cannot
 * pull from one (which would delay its owner's deliveries) nor update one through the create subject.
 */
export function explainAnalystPermissions(decls: Declarations): {
  grants: PermissionGrant[];
  deny: PermissionGrant[];
} {
  const streams = analystStreams(decls);
  const reads = streams.flatMap((stream) =>
    (decls.streams[stream]?.subjects ?? []).map((filter) => ({ stream, filter })),
  );
  const grants = explainPermissions({ service: ANALYST_USER, accountInfo: true, reads }, decls);
  for (const s of streams)
    grants.push({
      direction: "publish",
      subject: `$JS.API.CONSUMER.CREATE.${s}.*`,
      why: `reads ${s} whole: an ordered consumer without a filter (nats.js puts no filter in the subject)`,
    });
  const deny: PermissionGrant[] = [];
  for (const [durable, c] of Object.entries(decls.consumers)) {
    if (!streams.includes(c.stream)) continue;
    const why = `durable ${c.stream}/${durable} belongs to its service: no pull, no update through create`;
    for (const subject of [
      `$JS.API.CONSUMER.CREATE.${c.stream}.${durable}`,
      `$JS.API.CONSUMER.CREATE.${c.stream}.${durable}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${durable}`,
    ])
      deny.push({ direction: "publish", subject, why });
  }
  return { grants: grants.sort(byDirectionAndSubject), deny: deny.sort(byDirectionAndSubject) };
}

/** Drops a grant inside a wider one of the same direction: overlapping imports would deliver twice. */
const widest = withoutNarrower;

const ACCOUNT_INFO = "$JS.API.INFO";
const ACCOUNT_INFO_WHY =
  "imported by every account (its user may not send it without the grant): without an import covering $JS.API.INFO, nats-server answers the account's JetStream API requests itself with 'JetStream not enabled for account'";

/**
 * Requests answered by a stream of messages rather than one reply. Their responses flow for two
 * minutes after the request (nats-server's default `response_threshold`), longer than any pull
 * waits: the SDK's 30 s (`pullExpiresMs`), the stream readers' 2 s.
 */
const STREAMED_RESPONSES = ["$JS.API.CONSUMER.MSG.NEXT.>"];

interface Member {
  readonly account: string;
  readonly user: string;
  readonly grants: readonly PermissionGrant[];
  readonly deny?: readonly PermissionGrant[];
}

/**
 * The accounts: `THREADLINE` (JetStream, the admin user, the exports), one per service, `ops`,
 * `analyst` and `SYS`. Throws {@link PermissionsError} for an undeclared name in an access description
 * (as {@link explainPermissions} does) or a service named like a reserved account.
 */
export function accountsOf(options: AccountsOptions): AccountSpec[] {
  const { decls } = options;
  const members: Member[] = [];
  for (const access of options.services) {
    if (RESERVED.has(access.service) || access.service === OPS_USER || access.service === ANALYST_USER)
      throw new PermissionsError(access.service, [
        { key: "service", message: `${access.service} is the name of a generated account` },
      ]);
    members.push({
      account: access.service,
      user: access.service,
      grants: explainPermissions(access, decls),
    });
  }
  if (options.ops ?? true)
    members.push({ account: OPS_USER, user: OPS_USER, grants: explainOpsPermissions(decls) });
  if (options.analyst ?? true) {
    const { grants, deny } = explainAnalystPermissions(decls);
    members.push({ account: ANALYST_USER, user: ANALYST_USER, grants, deny });
  }
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.account))
      throw new PermissionsError(m.account, [{ key: "service", message: "named twice" }]);
    seen.add(m.account);
  }

  // The command servers: which account serves which command subjects.
  const servers = members.flatMap((m) =>
    m.grants
      .filter((g) => g.direction === "respond")
      .map((g) => ({ account: m.account, subject: g.subject })),
  );

  // Per exported subject: who may import it, and each reason with the accounts it holds for.
  type Pending = { kind: "service" | "stream"; accounts: Set<string>; why: Map<string, string[]> };
  const jsExports = new Map<string, Pending>();
  const commandExports = new Map<string, Map<string, Pending>>();
  const addWhy = (e: Pending, account: string, why: string) => {
    e.accounts.add(account);
    e.why.set(why, [...(e.why.get(why) ?? []), account]);
  };
  const imports = new Map<string, AccountImport[]>();
  const exportFrom = (kind: "service" | "stream", subject: string, account: string, why: string) => {
    const e = jsExports.get(subject) ?? { kind, accounts: new Set<string>(), why: new Map() };
    addWhy(e, account, why);
    jsExports.set(subject, e);
  };

  for (const m of members) {
    const own: AccountImport[] = [];
    // In an account without JetStream nats-server answers every `$JS.API.…` request itself with
    // "JetStream not enabled for account" (503) — beside the import's real answer, which then loses
    // the race — unless an import covers `$JS.API.INFO` (its "shadowed" check, 2.9.10 and 2.15 alike;
    // found by experiment). So every account imports it; the user still needs the grant to send it.
    if (!m.grants.some((g) => g.direction === "publish" && subjectWithin(ACCOUNT_INFO, g.subject))) {
      exportFrom("service", ACCOUNT_INFO, m.account, ACCOUNT_INFO_WHY);
      own.push({ kind: "service", account: JETSTREAM_ACCOUNT, subject: ACCOUNT_INFO });
    }
    for (const g of widest(m.grants)) {
      if (g.direction === "respond") continue;
      if (g.direction === "subscribe") {
        // Its reply prefix: push deliveries come from the JetStream account. Served command subjects
        // are subscribed to inside its own account (the senders' requests arrive through its export).
        if (subjectWithin(g.subject, COMMAND_SUBJECTS)) continue;
        exportFrom("stream", g.subject, m.account, g.why);
        own.push({ kind: "stream", account: JETSTREAM_ACCOUNT, subject: g.subject });
        continue;
      }
      if (subjectWithin(g.subject, COMMAND_SUBJECTS)) {
        const server = servers.find((s) => s.account !== m.account && subjectWithin(g.subject, s.subject));
        if (!server) continue; // no account serves it: the request gets no responder, as before
        const perServer = commandExports.get(server.account) ?? new Map<string, Pending>();
        const e = perServer.get(server.subject) ?? {
          kind: "service",
          accounts: new Set<string>(),
          why: new Map(),
        };
        addWhy(e, m.account, g.why);
        perServer.set(server.subject, e);
        commandExports.set(server.account, perServer);
        own.push({ kind: "service", account: server.account, subject: g.subject });
        continue;
      }
      exportFrom("service", g.subject, m.account, g.why);
      own.push({ kind: "service", account: JETSTREAM_ACCOUNT, subject: g.subject });
    }
    imports.set(m.account, own);
  }

  const sortedExports = (entries: Iterable<[string, Pending]>): AccountExport[] =>
    [...entries]
      .map(([subject, e]) => ({
        kind: e.kind,
        subject,
        accounts: [...e.accounts].sort(),
        ...(e.kind === "service" && STREAMED_RESPONSES.some((s) => subjectWithin(subject, s))
          ? { responseType: "stream" as const }
          : {}),
        why: [...e.why].map(([why, accounts]) => `${accounts.join(", ")}: ${why}`),
      }))
      .sort((a, b) => (a.kind === b.kind ? (a.subject < b.subject ? -1 : 1) : a.kind === "service" ? -1 : 1));

  const userOf = (m: Member): AccountUser => {
    const perms = permissionsOf(m.grants);
    return {
      user: m.user,
      passwordRef: defaultPasswordRef(m.user),
      perms:
        m.deny && m.deny.length > 0
          ? { ...perms, publish: { ...perms.publish, deny: m.deny.map((d) => d.subject) } }
          : perms,
      explain: m.grants,
    };
  };
  return [
    {
      name: JETSTREAM_ACCOUNT,
      jetstream: true,
      users: [{ user: ADMIN_USER, passwordRef: defaultPasswordRef(ADMIN_USER) }],
      exports: sortedExports(jsExports),
      imports: [],
    },
    ...members.map((m) => ({
      name: m.account,
      jetstream: false,
      users: [userOf(m)],
      exports: sortedExports(commandExports.get(m.account) ?? []),
      imports: imports.get(m.account) ?? [],
    })),
    {
      name: SYSTEM_ACCOUNT,
      jetstream: false,
      users: [{ user: SYSTEM_USER, passwordRef: defaultPasswordRef(SYSTEM_USER) }],
      exports: [],
      imports: [],
    },
  ];
}

/** The nats-server variables the accounts' passwords are read from (`ADMIN_NATS_PASSWORD`, …). */
export function accountPasswordVariables(accounts: readonly AccountSpec[]): string[] {
  return accounts.flatMap((a) => a.users.map((u) => u.passwordRef.slice(1)));
}

const q = (s: string) => JSON.stringify(s);
const comment = (s: string) => `# ${s.replace(/[\r\n]+/g, " ")}`;
const indent = (text: string, by: string) =>
  text
    .split("\n")
    .map((l) => (l.length > 0 ? `${by}${l}` : l))
    .join("\n");

/**
 * The nats-server configuration: `accounts { … }` and `system_account`. Include it in nats.conf
 * (beside `jetstream { … }`) instead of an `authorization` block; passwords are `$VARIABLES`.
 */
export function renderAccounts(accounts: readonly AccountSpec[]): string {
  const lines = [
    "# Generated by `threadline streams accounts` (docs/security.md, streams/src/accounts.ts). Do not edit.",
    `# ${JETSTREAM_ACCOUNT} holds every stream, bucket and durable; each service, ops and analyst has an`,
    "# account of its own that reaches it only through the imports below. Passwords are $VARIABLES",
    "# resolved by nats-server from its environment.",
    "accounts {",
  ];
  for (const a of accounts) {
    lines.push(`  ${q(a.name)}: {`);
    if (a.jetstream) lines.push("    jetstream: enabled");
    lines.push("    users: [");
    for (const u of a.users) {
      const entry = u.perms
        ? renderUserConfig(u.perms, {
            user: u.user,
            passwordRef: u.passwordRef,
            ...(u.explain ? { explain: u.explain } : {}),
          })
        : `{ user: ${q(u.user)}, password: ${u.passwordRef} }`;
      lines.push(indent(entry, "      "));
    }
    lines.push("    ]");
    if (a.exports.length > 0) {
      lines.push("    exports: [");
      for (const e of a.exports) {
        for (const why of e.why) lines.push(`      ${comment(why)}`);
        const accounts = `accounts: [${e.accounts.map(q).join(", ")}]`;
        lines.push(
          `      { ${e.kind}: ${q(e.subject)}, ${accounts}${e.responseType ? `, response_type: ${q(e.responseType)}` : ""} }`,
        );
      }
      lines.push("    ]");
    }
    if (a.imports.length > 0) {
      lines.push("    imports: [");
      for (const i of a.imports)
        lines.push(`      { ${i.kind}: { account: ${q(i.account)}, subject: ${q(i.subject)} } }`);
      lines.push("    ]");
    }
    lines.push("  }");
  }
  lines.push("}", `system_account: ${q(SYSTEM_ACCOUNT)}`, "");
  return lines.join("\n");
}
