/**
 * `threadline audit`: the audit trail of ops actions (streams/src/audit.ts) — every replay, rewind,
 * copy, redrive and purge with who, when, the selection and the outcome, oldest first.
 * Exit codes: 0 ok (also: nothing recorded), 1 failed, 2 usage error.
 */
import { Command, Option } from "commander";
import {
  AUDIT_ACTIONS,
  type AuditAction,
  ConfigError,
  listAudit,
  parseTime,
} from "../../streams/src/index.js";
import { action, EXIT, type ServerFlags, UsageError, withNats } from "./run.js";

type AuditFlags = ServerFlags & { since?: string; action?: AuditAction; json?: boolean };

export function auditCommand(): Command {
  return new Command("audit")
    .description(
      "list the audit trail of ops actions (replay, rewind, copy, redrive, purge): who, when, selection, outcome",
    )
    .addOption(
      new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)"),
    )
    .option("--since <time>", "recorded at or after: ISO-8601 or relative (90s, 15m, 2h, 3d)")
    .addOption(new Option("--action <action>", "only this action").choices([...AUDIT_ACTIONS]))
    .option("--json", "one JSON array instead of the table")
    .action(
      action(async (opts: AuditFlags) => {
        let since: Date | undefined;
        try {
          since = opts.since === undefined ? undefined : parseTime("--since", opts.since);
        } catch (err) {
          if (err instanceof ConfigError) throw new UsageError(err.message);
          throw err;
        }
        return withNats(opts, async (nc) => {
          const records = await listAudit(nc, {
            ...(since ? { since } : {}),
            ...(opts.action ? { action: opts.action } : {}),
          });
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify(
                records.map((r) => ({ ...r, at: r.at.toISOString() })),
                null,
                2,
              )}\n`,
            );
            return EXIT.ok;
          }
          if (records.length === 0) {
            process.stderr.write("no audit records match\n");
            return EXIT.ok;
          }
          for (const r of records)
            process.stdout.write(
              `${r.at.toISOString()}  ${r.action.padEnd(7)}  ${r.outcome.padEnd(11)}  ${r.who}  selection=${JSON.stringify(r.selection)}  details=${JSON.stringify(r.details)}\n`,
            );
          return EXIT.ok;
        });
      }),
    );
}
