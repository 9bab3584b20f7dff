/**
 * `threadline chaos`: the fault run of tools/chaos/fault-run.ts — every part of Threadline as its
 * own process, faults injected in sequence, the invariants checked at the end. Prints a table per
 * fault and per invariant; exit 0 when every invariant holds, 1 otherwise.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { FAULTS, type FaultKind } from "../chaos/faults.js";
import { action, EXIT } from "./run.js";

const ms = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive number of ms");
  return n;
};

export function chaosCommand(): Command {
  return new Command("chaos")
    .description(
      "fault run: nats-server, the Odoo and plant simulators, the bridge and the connector as separate processes; Odoo outages, SIGKILLs, a nats-server crash and an Odoo restored from a backup in sequence; then the invariants (totals = ground truth, no duplicate, reconciliation exact)",
    )
    .addOption(new Option("--outage-ms <ms>", "each Odoo outage").argParser(ms).default(30_000))
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
          workDir?: string;
          only?: FaultKind[];
        }) => {
          const { runFaultRun } = await import("../chaos/fault-run.js"); // heavy (node-opcua): loaded when run
          const result = await runFaultRun({
            outageMs: opts.outageMs,
            settleMs: opts.settleMs,
            downMs: opts.downMs,
            reportIntervalMs: opts.reportIntervalMs,
            ...(opts.workDir ? { workDir: opts.workDir } : {}),
            ...(opts.only ? { faults: opts.only } : {}),
          });
          return result.ok ? EXIT.ok : EXIT.failed;
        },
      ),
    );
}
