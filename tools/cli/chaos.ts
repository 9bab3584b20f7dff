/**
 * `threadline chaos`: the fault run of tools/chaos/fault-run.ts — every part of Threadline as its
 * own process, faults injected in sequence, the invariants checked at the end. Prints a table per
 * fault and per invariant; exit 0 when every invariant holds, 1 otherwise. `--cluster` is the chaos
 * suite: a 3-node cluster, the plant on its leaf node, two replicas of each service — the connector,
 * the bridge, the quality service and the genealogy builder.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { FAULTS, type FaultKind } from "../chaos/faults.js";
import { action, EXIT } from "./run.js";

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`a positive integer (${what})`);
  return n;
};
const ms = positive("ms");

export function chaosCommand(): Command {
  return new Command("chaos")
    .description(
      "fault run: nats-server, the Odoo and plant simulators, the bridge and the connector as separate processes; Odoo outages, SIGKILLs, a nats-server crash and an Odoo restored from a backup in sequence; then the invariants (totals = ground truth, no duplicate, reconciliation exact). With --cluster: a 3-node cluster, the plant on its leaf, 2 replicas of each service (with the quality service and the genealogy builder); leader and node kills, a partition, a WAN cut, replicas killed and paused, several faults at once; the genealogy complete",
    )
    .option(
      "--cluster",
      "a 3-node JetStream cluster, the plant on its own leaf node, replicas of each service",
    )
    .addOption(
      new Option(
        "--replicas <n>",
        "replicas of each service; above 1 the quality service and the genealogy builder run too (default: 2 with --cluster, else 1)",
      ).argParser(positive("replicas")),
    )
    .addOption(
      new Option(
        "--seed <n>",
        "the victims and timings of a run to repeat (default: random, printed)",
      ).argParser(positive("seed")),
    )
    .addOption(
      new Option("--lease-ttl-ms <ms>", "the services' lease ttl (LEASE_TTL_MS)")
        .argParser(ms)
        .default(6_000),
    )
    .addOption(
      new Option("--storm-ms <ms>", "how long the replica storm lasts").argParser(ms).default(60_000),
    )
    .addOption(
      new Option("--outage-ms <ms>", "each Odoo outage, partition and WAN cut").argParser(ms).default(30_000),
    )
    .addOption(
      new Option("--settle-ms <ms>", "steady running before each fault").argParser(ms).default(15_000),
    )
    .addOption(
      new Option("--down-ms <ms>", "how long a killed process stays down").argParser(ms).default(5_000),
    )
    .addOption(
      new Option("--report-interval-ms <ms>", "how often the bridge reports each machine's counts")
        .argParser(ms)
        .default(5_000),
    )
    .addOption(
      new Option("--only <faults...>", "inject only these faults (default: all, in this order)").choices(
        FAULTS,
      ),
    )
    .option("--work-dir <dir>", "logs, configs and stores (default: a new temp directory)")
    .action(
      action(
        async (opts: {
          outageMs: number;
          settleMs: number;
          downMs: number;
          reportIntervalMs: number;
          cluster?: boolean;
          replicas?: number;
          seed?: number;
          leaseTtlMs: number;
          stormMs: number;
          workDir?: string;
          only?: FaultKind[];
        }) => {
          const { runFaultRun } = await import("../chaos/fault-run.js"); // heavy (node-opcua): loaded when run
          const result = await runFaultRun({
            outageMs: opts.outageMs,
            settleMs: opts.settleMs,
            downMs: opts.downMs,
            reportIntervalMs: opts.reportIntervalMs,
            cluster: opts.cluster ?? false,
            leaseTtlMs: opts.leaseTtlMs,
            stormMs: opts.stormMs,
            ...(opts.replicas ? { replicas: opts.replicas } : {}),
            ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            ...(opts.workDir ? { workDir: opts.workDir } : {}),
            ...(opts.only ? { faults: opts.only } : {}),
          });
          return result.ok ? EXIT.ok : EXIT.failed;
        },
      ),
    );
}
