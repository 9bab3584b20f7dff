/**
 * The audit trail of ops commands (replay, rewind, copy, redrive, purge): one JSON record per command
 * on `threadline.audit.<action>`. A minimal version; the audit module of the ops work replaces it.
 */
import { userInfo } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";

export type AuditAction = "replay" | "rewind" | "copy" | "redrive" | "purge";

export interface AuditRecord {
  readonly action: AuditAction;
  readonly selection: Readonly<Record<string, unknown>>;
  readonly outcome: "done" | "failed" | "interrupted";
  readonly details: Readonly<Record<string, unknown>>;
}

/** Publishes the record (who: the given name, else `$NATS_USER`, else the OS user) and flushes. */
export async function recordAudit(
  nc: NatsConnection,
  record: AuditRecord,
  options: { who?: string } = {},
): Promise<void> {
  const who = options.who ?? process.env["NATS_USER"] ?? userInfo().username;
  const body = { ...record, who, at: new Date().toISOString() };
  nc.publish(`threadline.audit.${record.action}`, JSON.stringify(body));
  await nc.flush();
}
