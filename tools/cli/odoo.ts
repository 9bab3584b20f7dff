/**
 * `threadline odoo reconcile --since <time>`: the event log against Odoo for a window. Odoo's
 * address and key come from ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY (as for the connector);
 * NATS from NATS_URL or --server. Exit 0: no drift, 1: drift found (or a failure), 2: usage.
 */
import { jetstream } from "@nats-io/jetstream";
import { Command, InvalidArgumentError, Option } from "commander";
import { EventCodec, SchemaRegistry } from "../../contracts/src/index.js";
import {
  EquipmentSettings,
  OdooSettings,
  odooClientOptions,
} from "../../services/odoo-connector/src/config.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { setupOdoo } from "../../services/odoo-connector/src/odoo-setup.js";
import {
  type ReconcileReport,
  reconcile,
  writeDriftMetrics,
} from "../../services/odoo-connector/src/reconcile/index.js";
import { EventPublisher, loadConfig } from "../../streams/src/index.js";
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
    const flag = o.findings.length ? "DRIFT" : o.waiting.length ? "waiting" : "ok";
    out(
      `  ${flag.padEnd(7)} ${o.orderRef}: counting point good ${o.counted.good}, rejected ${o.counted.reject}; ${o.posted} reports in Odoo${o.waiting.length ? `, ${o.waiting.length} not posted yet` : ""}`,
    );
    for (const f of o.findings) {
      out(`          ${f.kind}: ${f.message}`);
      if (f.events && f.events.length > 1) out(`            events: ${f.events.join(" ")}`);
    }
  }
  out(report.drifting.length === 0 ? "no drift" : `${report.drifting.length} orders drift`);
}

/** The connector's equipment settings, so reconciliation maps machines to work orders as it does. */
function equipmentSettings(): {
  workcenterByLine: Record<string, string>;
  lineByWorkcenter?: Record<string, string>;
} {
  const c = loadConfig(EquipmentSettings, { env: process.env, file: "" });
  return {
    workcenterByLine: c.WORKCENTER_BY_LINE,
    ...(c.LINE_BY_WORKCENTER ? { lineByWorkcenter: c.LINE_BY_WORKCENTER } : {}),
  };
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
        // A failed start ends the process with the service's JSON failure line, as the service itself does.
        const { main } = await import("../../services/odoo-connector/src/main.js");
        await main();
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
    .option(
      "--prom <file>",
      "also write the drift as Prometheus text (node_exporter textfile collector; replaced atomically)",
    )
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
              ...equipmentSettings(),
            }),
          );
          if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else print(report);
          if (opts.prom) await writeDriftMetrics(report, opts.prom);
          return report.drifting.length === 0 ? EXIT.ok : EXIT.failed;
        } finally {
          await client.close();
        }
      }),
    );
  cmd
    .command("setup")
    .description(
      "create what Threadline needs in Odoo (the x_threadline_posting model, x_threadline_event_id fields: not copied, indexed) and grant the connector's group access; idempotent, prints what it did. Run it as an Odoo administrator",
    )
    .option("--dry-run", "only say what would be created or fixed")
    .option("--group <xmlid>", "the group of the connector's Odoo user", "mrp.group_mrp_user")
    .action(
      action(async (opts: { dryRun?: boolean; group: string }) => {
        const settings = loadConfig(OdooSettings, { env: process.env, file: "" });
        const client = await OdooClient.connect(odooClientOptions(settings));
        try {
          const actions = await setupOdoo(client, {
            group: opts.group,
            ...(opts.dryRun ? { dryRun: true } : {}),
          });
          for (const a of actions)
            process.stdout.write(
              `${(opts.dryRun && a.done !== "ok" ? `would be ${a.done}` : a.done).padEnd(16)} ${a.what}\n`,
            );
          const changed = actions.filter((a) => a.done !== "ok").length;
          process.stdout.write(
            changed === 0
              ? "Odoo is set up for Threadline: nothing to do\n"
              : `${changed} ${opts.dryRun ? "change(s) to make" : "change(s) made"}\n`,
          );
          return EXIT.ok;
        } finally {
          await client.close();
        }
      }),
    );
  cmd
    .command("close")
    .description(
      "end a production run on a line (ProductionRunEnded, reason OPERATOR): the connector closes the order in Odoo (button_mark_done, at most one backorder)",
    )
    .requiredOption("--order <ref>", "the production order (Odoo mrp.production name)")
    .requiredOption("--line <line>", "the line the run is on (its token, as the bridge names it)")
    .requiredOption("--site <site>", "the site")
    .option("--by <name>", "who asks (kept in the event and on the posting in Odoo)", process.env["USER"])
    .option("--lot <lot>", "the lot the run produced")
    .addOption(new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL)"))
    .action(
      action(
        async (
          opts: ServerFlags & { order: string; line: string; site: string; by?: string; lot?: string },
        ) => {
          const published = await withNats(opts, async (nc) => {
            const codec = new EventCodec({ writers: await SchemaRegistry.open(nc, { readOnly: true }) });
            const publisher = new EventPublisher(jetstream(nc), codec, {
              service: "threadline-cli",
              site: opts.site,
            });
            const now = new Date();
            return publisher.publish(
              "mfg.production.production_run_ended.v1",
              {
                equipment: { site: opts.site, area: null, line: opts.line, cell: null, machine: null },
                orderRef: opts.order,
                lot: opts.lot ?? null,
                reason: "OPERATOR",
                nextOrderRef: null,
                nextLot: null,
                requestedBy: opts.by ?? null,
                endedAt: now,
              },
              { site: opts.site, line: opts.line, key: opts.order, time: now },
            );
          });
          process.stdout.write(
            `run of ${opts.order} on ${opts.site}/${opts.line} ended (event ${published.envelope.id}); the connector closes it in Odoo\n`,
          );
          return EXIT.ok;
        },
      ),
    );
  return cmd;
}
