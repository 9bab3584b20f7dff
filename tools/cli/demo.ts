import { Command } from "commander";
import { runDemo } from "../demo/demo.js";
import { action, EXIT } from "./run.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description(
      "run the demo on embedded defaults: a local nats-server (unless --server or $NATS_URL), registry, events",
    )
    .option("-s, --server <url>", "use this NATS server instead of starting one")
    .action(
      action(async (opts: { server?: string }) => {
        await runDemo(opts.server ? { natsUrl: opts.server } : {});
        return EXIT.ok;
      }),
    );
}
