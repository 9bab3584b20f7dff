/** The ops audit trail (streams/src/audit.ts) as the console lists and writes it. */

import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AuditAction, type Logger, listAudit, recordAudit } from "../../../../streams/src/index.js";

/** A refused route is recorded at most this often per user. */
const REFUSAL_EVERY_MS = 60_000;

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

  /** When each user's refusal of each route was last recorded. */
  readonly #lastRefusal = new Map<string, number>();

  /**
   * Records an action the console refused (the user lacks its role): nothing was done. At most one
   * record a minute per user and route (the log has every one), and a record that cannot be written is
   * logged, never turned into the refusal's answer: refused callers must not be able to fill the trail
   * that every ops action needs.
   */
  async refused(
    identity: Identity,
    action: AuditAction,
    what: string,
    params: Readonly<Record<string, string>>,
    logger?: Logger,
  ): Promise<void> {
    const key = `${identity.subject}|${what}|${JSON.stringify(params)}`;
    const now = Date.now();
    if (now - (this.#lastRefusal.get(key) ?? 0) < REFUSAL_EVERY_MS) return;
    this.#lastRefusal.set(key, now);
    if (this.#lastRefusal.size > 10_000) this.#lastRefusal.delete(this.#lastRefusal.keys().next().value!);
    await recordAudit(
      this.nc,
      {
        action,
        selection: {
          request: what,
          ...(Object.keys(params).length > 0 ? { params } : {}),
          via: "ops-console",
        },
        outcome: "refused",
        details: { roles: identity.roles },
      },
      { who: auditWhoOf(identity) },
    ).catch((err: unknown) =>
      logger?.error({ err, user: identity.name, action }, "a refusal could not be audited"),
    );
  }
}
