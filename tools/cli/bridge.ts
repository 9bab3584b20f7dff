/**
 * `threadline bridge --config plant.yaml`: the machine bridge service in the foreground (the same
 * as `BRIDGE_CONFIG=plant.yaml node dist/services/machine-bridge/src/main.js`); NATS, HTTP and log
 * settings come from the environment as for every service. Runs until SIGTERM/SIGINT. A bad
 * mapping exits 2 naming the key before anything connects.
 */
import { Command } from "commander";
import { loadBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { action, EXIT } from "./run.js";

export function bridgeCommand(): Command {
  return new Command("bridge")
    .description(
      "run the machine bridge: OPC UA machines -> machine and production events (NATS_URL, HTTP_PORT ... from the environment; see services/machine-bridge/README.md)",
    )
    .requiredOption("--config <file.yaml>", "the plant mapping: endpoints, machines, signals")
    .option("--check", "validate the mapping and exit")
    .action(
      action(async (opts: { config: string; check?: boolean }) => {
        const config = loadBridgeConfig(opts.config);
        if (opts.check) {
          const machines = config.endpoints.reduce((n, e) => n + e.machines.length, 0);
          process.stdout.write(
            `${opts.config}: ${config.endpoints.length} endpoints, ${machines} machines: valid\n`,
          );
          return EXIT.ok;
        }
        // Loaded here: node-opcua takes seconds to import, which every other command would pay.
        const { startMachineBridgeService } = await import("../../services/machine-bridge/src/main.js");
        await startMachineBridgeService({ ...process.env, BRIDGE_CONFIG: opts.config });
        await new Promise<never>(() => {}); // runService's signal handlers end the process
      }),
    );
}
