/**
 * The audit trail of what ops do to the streams: every replay, rewind, copy, redrive and purge (and
 * every quality hold decided through the ops console) is one JSON record in the shared stream `THREADLINE_AUDIT` (subject `threadline.audit.<action>`, kept 400
 * days, refused rather than forgotten when full), with who did it, when, the selection it worked on and
 * the outcome. `threadline audit` lists them.
 *
 * ```ts
 * await recordAudit(nc, { action: "purge", selection: { stream: "MFG_PRODUCTION" }, outcome: "done", details: { deleted: 3 } });
 * for (const r of await listAudit(nc, { since: new Date(Date.now() - 86_400_000) })) console.log(r.at, r.who, r.action);
 * ```
 *
 * `who` is the NATS user the command connected as (`NATS_USER`, else the name in the `NATS_CREDS`
 * file's user JWT, else `anonymous`), then the OS user and the host: `ops@alice@host`. The NATS user is
 * what the server authenticated; the OS user and host say which person and machine used it. The record
 * is written with the PubAck awaited: an action whose audit cannot be stored reports that failure.
 */
import { readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { AUDIT_STREAM, AUDIT_SUBJECTS } from "./names.js";
import { readMessages } from "./read.js";

export { AUDIT_STREAM, AUDIT_SUBJECTS };

/** `hold-decision`: a quality hold released or rejected through the ops console. */
export type AuditAction = "replay" | "rewind" | "copy" | "redrive" | "purge" | "hold-decision";

export interface AuditRecord {
  readonly action: AuditAction;
  readonly selection: Readonly<Record<string, unknown>>;
  /**
   * `refused`: the ops console refused the action (a missing role); nothing was done. `started` and
   * `stopping`: the ops console records a background replay when it starts and when someone asks it to
   * stop; its end follows as `done`, `interrupted` or `failed`.
   */
  readonly outcome: "done" | "failed" | "interrupted" | "refused" | "started" | "stopping";
  readonly details: Readonly<Record<string, unknown>>;
}

export const AUDIT_ACTIONS: readonly AuditAction[] = [
  "replay",
  "rewind",
  "copy",
  "redrive",
  "purge",
  "hold-decision",
];

/** `threadline.audit.<action>`. */
export function auditSubject(action: AuditAction): string {
  return `threadline.audit.${action}`;
}

/**
 * Who acts, for the audit: `<nats user>@<os user>@<host>`. The NATS user is `NATS_USER`, else the
 * `name` (or `sub`) of the user JWT in the `NATS_CREDS` file, else `anonymous`.
 */
export function auditWho(env: Readonly<Record<string, string | undefined>> = process.env): string {
  let nats = env["NATS_USER"] || undefined;
  const creds = env["NATS_CREDS"];
  if (!nats && creds) nats = credsUser(creds);
  let os = "unknown";
  try {
    os = userInfo().username;
  } catch {
    os = env["USER"] ?? "unknown";
  }
  return `${nats ?? "anonymous"}@${os}@${hostname()}`;
}

/** The name (else the subject key) of the user JWT in a creds file; undefined when unreadable. */
function credsUser(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8");
    const jwt = /-----BEGIN NATS USER JWT-----\s*([^\s-][^\s]*)\s*------END NATS USER JWT------/.exec(
      text,
    )?.[1];
    const payload = jwt?.split(".")[1];
    if (!payload) return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      name?: string;
      sub?: string;
    };
    return claims.name || claims.sub || undefined;
  } catch {
    return undefined;
  }
}

/** Stores one audit record (PubAck awaited). `who` defaults to {@link auditWho} of this process. */
export async function recordAudit(
  nc: NatsConnection,
  record: AuditRecord,
  options: { who?: string } = {},
): Promise<void> {
  const body = {
    action: record.action,
    who: options.who ?? auditWho(),
    at: new Date().toISOString(),
    selection: record.selection,
    outcome: record.outcome,
    details: record.details,
  };
  await jetstream(nc).publish(auditSubject(record.action), JSON.stringify(body), {
    expect: { streamName: AUDIT_STREAM },
  });
}

/** The audit records, oldest first: since a time (stored time), of one action. */
export async function listAudit(
  nc: NatsConnection,
  options: { since?: Date; action?: AuditAction } = {},
): Promise<(AuditRecord & { who: string; at: Date; seq: number })[]> {
  const out: (AuditRecord & { who: string; at: Date; seq: number })[] = [];
  for await (const m of readMessages(nc, {
    stream: AUDIT_STREAM,
    filter: options.action ? auditSubject(options.action) : AUDIT_SUBJECTS,
    ...(options.since ? { since: options.since } : {}),
    ifMissing: "empty",
  })) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>;
    } catch {
      continue; // not a record of ours: nothing to show
    }
    const at = new Date(typeof body["at"] === "string" ? body["at"] : Number(m.timestampNanos / 1_000_000n));
    out.push({
      action: body["action"] as AuditAction,
      who: typeof body["who"] === "string" ? body["who"] : "unknown",
      at,
      seq: m.seq,
      selection: (body["selection"] ?? {}) as Record<string, unknown>,
      outcome: body["outcome"] as AuditRecord["outcome"],
      details: (body["details"] ?? {}) as Record<string, unknown>,
    });
  }
  return out;
}
