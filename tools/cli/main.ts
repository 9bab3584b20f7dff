/** The `threadline` command line. */
import { Command, CommanderError } from "commander";
import { auditCommand } from "./audit.js";
import { benchCommand } from "./bench.js";
import { bridgeCommand } from "./bridge.js";
import { chaosCommand } from "./chaos.js";
import { consoleCommand } from "./console.js";
import { contractsCommand } from "./contracts.js";
import { demoCommand } from "./demo.js";
import { dlqCommand } from "./dlq.js";
import { errorsCommand } from "./errors.js";
import { genealogyCommand } from "./genealogy.js";
import { masterdataCommand } from "./masterdata.js";
import { metricsCommand } from "./metrics.js";
import { newCommand } from "./new.js";
import { odooCommand } from "./odoo.js";
import { ordersCommand } from "./orders.js";
import { publishCommand } from "./publish.js";
import { qualityCommand } from "./quality.js";
import { replayCommand } from "./replay.js";
import { EXIT } from "./run.js";
import { simCommand } from "./sim.js";
import { streamsCommand } from "./streams.js";
import { tapCommand } from "./tap.js";

const program = new Command("threadline")
  .description("Threadline: the event backbone between Odoo and the shop floor, on NATS JetStream")
  .version(process.env["npm_package_version"] ?? "0.1.0")
  .showHelpAfterError("(add --help for usage)")
  .exitOverride()
  .addCommand(newCommand())
  .addCommand(publishCommand())
  .addCommand(contractsCommand())
  .addCommand(demoCommand())
  .addCommand(streamsCommand())
  .addCommand(tapCommand())
  .addCommand(dlqCommand())
  .addCommand(auditCommand())
  .addCommand(consoleCommand())
  .addCommand(bridgeCommand())
  .addCommand(odooCommand())
  .addCommand(masterdataCommand())
  .addCommand(ordersCommand())
  .addCommand(genealogyCommand())
  .addCommand(qualityCommand())
  .addCommand(benchCommand())
  .addCommand(simCommand())
  .addCommand(chaosCommand())
  .addCommand(errorsCommand())
  .addCommand(metricsCommand())
  .addCommand(replayCommand());

// Every subcommand reports usage errors as exit 2, like the top level.
const override = (cmd: Command) => {
  cmd.exitOverride();
  for (const sub of cmd.commands) override(sub);
};
override(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    throw err;
  }
}
