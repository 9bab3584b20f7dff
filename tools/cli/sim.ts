/**
 * `threadline sim plant`: the plant simulator as a real OPC UA server (tools/sim/plant/server.ts),
 * on a plant config file or the built-in demo plant. It runs until SIGINT/SIGTERM or --duration,
 * then prints a ground-truth summary and (with --report) writes the whole ground truth as JSON.
 *
 * UserName identities come from $PLANT_SIM_USER / $PLANT_SIM_PASSWORD (never printed).
 * Exit codes: 0 ok, 1 failed (the port cannot be bound, the report cannot be written), 2 usage
 * error or a bad plant config (the message names the key).
 */
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { loadPlantConfig, type PlantConfig, type PlantConfigInput } from "../sim/plant/config.js";
import { DEMO_PLANT } from "../sim/plant/demo-plant.js";
import type { MachineGroundTruth } from "../sim/plant/model.js";
import { action, CommandFailed, EXIT, UsageError } from "./run.js";
import { simOdooCommand } from "./sim-odoo.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

/** The CLI's default port (OPC UA's registered port); the programmatic API defaults to a free one. */
const DEFAULT_PORT = 4840;

interface PlantFlags {
  config?: string;
  seed?: number;
  port: number;
  host: string;
  speed: number;
  duration?: number;
  report?: string;
  pki?: string;
  anonymous: boolean;
}

const integer = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
  return n;
};

export function simCommand(): Command {
  const cmd = new Command("sim").description(
    "simulators for tests and demos: a PackML plant over OPC UA, Odoo's external API",
  );

  cmd
    .command("plant")
    .description(
      "serve a simulated plant (PackML states, counters, telemetry, stop reasons) as an OPC UA server; without --config, a built-in demo plant",
    )
    .option(
      "--config <file.yaml>",
      "plant config, YAML or JSON (tools/sim/plant/config.ts); default: the demo plant",
    )
    .addOption(
      new Option("--seed <n>", "PRNG seed (overrides the config's)").argParser(integer(0, 0xffff_ffff)),
    )
    .addOption(
      new Option("--port <n>", "TCP port, 0 for a free one")
        .argParser(integer(0, 65_535))
        .default(DEFAULT_PORT),
    )
    .option("--host <h>", "interface to listen on (and host of the endpoint URL)", "127.0.0.1")
    .addOption(
      new Option("--speed <x>", "virtual ms per wall-clock ms")
        .argParser((v) => {
          const n = Number(v);
          if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError("must be a positive number");
          return n;
        })
        .default(1),
    )
    .addOption(
      new Option(
        "--duration <ms>",
        "stop after this many wall-clock ms (default: until SIGINT/SIGTERM)",
      ).argParser(integer(1, Number.MAX_SAFE_INTEGER)),
    )
    .option("--report <file.json>", "write the full ground truth as JSON on exit")
    .option("--pki <dir>", "node-opcua PKI folder (own key and certificate); default under the OS temp dir")
    .option("--no-anonymous", "refuse anonymous sessions (needs $PLANT_SIM_USER and $PLANT_SIM_PASSWORD)")
    .action(action(async (opts: PlantFlags) => runPlant(opts)));

  cmd.addCommand(simOdooCommand());
  return cmd;
}

async function runPlant(opts: PlantFlags): Promise<number> {
  // Validate everything before loading node-opcua (a few seconds): a bad config fails fast.
  const config: PlantConfigInput | PlantConfig = opts.config ? loadPlantConfig(opts.config) : DEMO_PLANT;
  const user = process.env["PLANT_SIM_USER"];
  const password = process.env["PLANT_SIM_PASSWORD"];
  if ((user === undefined) !== (password === undefined))
    throw new UsageError("set both PLANT_SIM_USER and PLANT_SIM_PASSWORD, or neither");
  const users = user !== undefined && password !== undefined ? [{ username: user, password }] : [];
  if (!opts.anonymous && users.length === 0)
    throw new UsageError("--no-anonymous needs a user: set PLANT_SIM_USER and PLANT_SIM_PASSWORD");

  const { startPlantSimulator, PlantSimulatorError } = await import("../sim/plant/server.js");
  let sim: Awaited<ReturnType<typeof startPlantSimulator>>;
  try {
    sim = await startPlantSimulator({
      config,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      host: opts.host,
      port: opts.port,
      speed: opts.speed,
      users,
      allowAnonymous: opts.anonymous,
      ...(opts.pki === undefined ? {} : { pkiFolder: opts.pki }),
      logger: (line) => process.stderr.write(`sim: ${line}\n`),
    });
  } catch (err) {
    if (err instanceof PlantSimulatorError) throw new CommandFailed(err.message);
    throw err;
  }

  const truth0 = sim.model.groundTruth();
  out(`OPC UA endpoint: ${sim.endpointUrl}`);
  out(
    `security: None, Basic256Sha256, Aes128_Sha256_RsaOaep; identity: ${[
      ...(opts.anonymous ? ["anonymous"] : []),
      ...(users.length > 0 ? ["username ($PLANT_SIM_USER)"] : []),
    ].join(", ")}`,
  );
  out(`seed ${sim.model.seed}, speed ${opts.speed}x; machines:`);
  for (const m of Object.values(truth0)) {
    const ids = sim.nodeIds(m.id);
    out(`  ${m.site}/${m.line}/${m.id}  ${m.state}  ${ids.machine}`);
  }
  out(opts.duration === undefined ? "running until Ctrl-C" : `running for ${opts.duration} ms`);

  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    const timer = opts.duration === undefined ? undefined : setTimeout(done, opts.duration);
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });

  await sim.stop();
  const truth = sim.model.groundTruth();
  out();
  out(`ground truth at virtual time ${sim.model.now} ms:`);
  for (const m of Object.values(truth)) out(`  ${summary(m)}`);
  if (opts.report) {
    const report = {
      seed: sim.model.seed,
      startEpochMs: sim.startEpochMs,
      virtualTimeMs: sim.model.now,
      speed: opts.speed,
      endpointUrl: sim.endpointUrl,
      groundTruth: truth,
    };
    try {
      writeFileSync(opts.report, `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      throw new CommandFailed(`cannot write the report ${opts.report}: ${(err as Error).message}`);
    }
    out(`report: ${opts.report}`);
  }
  return EXIT.ok;
}

function summary(m: MachineGroundTruth): string {
  const down = m.downtime.reduce((s, d) => s + d.durationMs, 0);
  return (
    `${m.site}/${m.line}/${m.id}: ${m.state}, good ${m.good}, reject ${m.reject}, ` +
    `downtimes ${m.downtime.length} (${(down / 1000).toFixed(1)} s)`
  );
}
