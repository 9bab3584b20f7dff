import { Command } from "commander";
import { action, EXIT } from "./run.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description(
      "run the demo on embedded defaults: a local nats-server (unless --server or $NATS_URL), the Odoo and plant simulators, the machine bridge and the Odoo connector",
    )
    .option("-s, --server <url>", "use this NATS server instead of starting one")
    .action(
      action(async (opts: { server?: string }) => {
        const { runDemo } = await import("../demo/demo.js"); // heavy (node-opcua): loaded when run
        await runDemo(opts.server ? { natsUrl: opts.server } : {});
        return EXIT.ok;
      }),
    );
}
