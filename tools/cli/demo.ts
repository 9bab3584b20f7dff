import { Command } from "commander";
import { action, EXIT } from "./run.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description(
      "run the demo on embedded defaults: a local nats-server (unless --server or $NATS_URL), the Odoo and plant simulators, the machine bridge and the Odoo connector",
    )
    .option("-s, --server <url>", "use this NATS server instead of starting one")
    .option(
      "--hold",
      "after the scenario, leave everything running and print how to reach each part (NATS, Odoo with its database and credentials, the OPC UA endpoint, the connector's HTTP port) until Ctrl-C",
    )
    .action(
      action(async (opts: { server?: string; hold?: boolean }) => {
        const { runDemo } = await import("../demo/demo.js"); // heavy (node-opcua): loaded when run
        await runDemo({
          ...(opts.server ? { natsUrl: opts.server } : {}),
          ...(opts.hold ? { hold: true } : {}),
        });
        return EXIT.ok;
      }),
    );
}
