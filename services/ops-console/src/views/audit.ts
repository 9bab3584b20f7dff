/** The ops audit trail (streams/src/audit.ts) as the console lists and writes it. */

import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AuditAction, listAudit, recordAudit } from "../../../../streams/src/index.js";
import type { Identity } from "../roles.js";

/** Who acted, for the audit trail: the user, their stable id, and which console. */
export function auditWhoOf(identity: Identity): string {
  return `${identity.name} [${identity.subject}] via ops-console@${hostname()}`;
}

export class AuditTrail {
  constructor(private readonly nc: NatsConnection) {}

  /** Newest first. */
  async list(o: { since: Date; action?: AuditAction }) {
    const records = await listAudit(this.nc, o);
    return { items: records.reverse().map((r) => ({ ...r, at: r.at.toISOString() })) };
  }

  /** Records an action the console refused (the user lacks its role): nothing was done. */
  async refused(identity: Identity, action: AuditAction, what: string): Promise<void> {
    await recordAudit(
      this.nc,
      {
        action,
        selection: { request: what, via: "ops-console" },
        outcome: "refused",
        details: { roles: identity.roles },
      },
      { who: auditWhoOf(identity) },
    );
  }
}
