/**
 * `threadline odoo reconcile --since <time>`: the event log against Odoo for a window. Odoo's
 * address and key come from ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY (as for the connector);
 * NATS from NATS_URL or --server. Exit 0: no drift, 1: drift found (or a failure), 2: usage.
 */
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { EventCodec } from "../../contracts/src/codec.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import { OdooSettings, odooClientOptions } from "../../services/odoo-connector/src/config.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import {
  driftMetricsText,
  type ReconcileReport,
  reconcile,
} from "../../services/odoo-connector/src/reconcile.js";
import { loadConfig } from "../../streams/src/config.js";
import { action, EXIT, type ServerFlags, withNats } from "./run.js";

const time = (v: string) => {
  // A duration back from now ("24h", "90m", "7d") or an ISO-8601 time.
  const m = /^(\d+)(m|h|d)$/.exec(v);
  if (m)
    return new Date(
      Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"],
    );
  const t = new Date(v);
  if (Number.isNaN(t.getTime()))
    throw new InvalidArgumentError("must be an ISO-8601 time or a duration such as 24h");
  return t;
};

function print(report: ReconcileReport): void {
  const out = (l: string) => process.stdout.write(`${l}\n`);
  out(
    `window ${report.since.toISOString()} .. ${report.until.toISOString()}: ${report.events} production reports, ${report.orders.length} orders`,
  );
  for (const o of report.orders) {
    const drifts = report.drifting.includes(o);
    const flag = drifts ? "DRIFT" : o.unposted.length ? "waiting" : "ok";
    out(
      `  ${flag.padEnd(7)} ${o.orderRef}: logged ${o.logged}, in Odoo ${o.posted}, drift ${o.drift}${o.unposted.length ? `, ${o.unposted.length} not posted yet` : ""}`,
    );
    for (const m of o.mismatched)
      out(`          event ${m.eventId}: reported ${m.logged}, Odoo holds ${m.posted}`);
    for (const d of o.deadLettered)
      out(`          event ${d.eventId}: dead-lettered (${d.code}), never posted`);
  }
  out(report.drifting.length === 0 ? "no drift" : `${report.drifting.length} orders drift`);
}

export function odooCommand(): Command {
  const cmd = new Command("odoo").description(
    "the Odoo connector's tools (Odoo settings from ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY)",
  );
  cmd
    .command("run")
    .description(
      "run the Odoo connector service (settings from the environment or THREADLINE_CONFIG: services/odoo-connector/README.md)",
    )
    .action(
      action(async () => {
        const { startOdooConnector } = await import("../../services/odoo-connector/src/main.js");
        await startOdooConnector();
        return new Promise<never>(() => {}); // runService's signal handlers end the process
      }),
    );
  cmd
    .command("reconcile")
    .description("compare Odoo's produced quantities with the event log for a window; exit 1 when they drift")
    .requiredOption(
      "--since <time>",
      "start of the window: ISO-8601, or a duration back from now (24h, 90m, 7d)",
      time,
    )
    .option("--until <time>", "end of the window (default: now)", time)
    .option("--json", "print the report as JSON")
    .option("--prom <file>", "also write the drift as Prometheus text (node_exporter textfile collector)")
    .addOption(new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL)"))
    .action(
      action(async (opts: ServerFlags & { since: Date; until?: Date; json?: boolean; prom?: string }) => {
        const settings = loadConfig(OdooSettings, { env: process.env, file: "" });
        const client = await OdooClient.connect(odooClientOptions(settings));
        try {
          const report = await withNats(opts, async (nc) =>
            reconcile({
              nc,
              codec: new EventCodec({ writers: await SchemaRegistry.open(nc, { readOnly: true }) }),
              client,
              since: opts.since,
              ...(opts.until ? { until: opts.until } : {}),
            }),
          );
          if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else print(report);
          if (opts.prom) writeFileSync(opts.prom, driftMetricsText(report));
          return report.drifting.length === 0 ? EXIT.ok : EXIT.failed;
        } finally {
          await client.close();
        }
      }),
    );
  return cmd;
}
