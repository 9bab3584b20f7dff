/** `threadline bench`: the benchmarks behind BENCHMARKS.md, each printed as it finishes. */
import { Command } from "commander";
import { bridgeBenchOptionsFromEnv, formatBridgeBench, runBridgeBench } from "../bench/bridge.js";
import { formatCodecBench, runCodecBench } from "../bench/codec.js";
import { formatSdkBench, runSdkBench } from "../bench/sdk.js";
import { action, EXIT } from "./run.js";

/** A benchmark: a name for `--only` and a function that returns its report. */
export interface Bench {
  readonly name: string;
  run(): Promise<string>;
}

export const BENCHES: Bench[] = [
  { name: "codec", run: async () => formatCodecBench(runCodecBench()) },
  {
    name: "sdk",
    run: async () =>
      formatSdkBench(await runSdkBench(process.env["NATS_URL"] ? { natsUrl: process.env["NATS_URL"] } : {})),
  },
  {
    name: "bridge",
    run: async () => formatBridgeBench(await runBridgeBench(bridgeBenchOptionsFromEnv(process.env))),
  },
];

export function benchCommand(): Command {
  return new Command("bench")
    .description(`run the benchmarks (${BENCHES.map((b) => b.name).join(", ")}); figures go in BENCHMARKS.md`)
    .option("--only <names>", "comma-separated benchmark names")
    .action(
      action(async (opts: { only?: string }) => {
        const wanted = opts.only?.split(",").map((s) => s.trim());
        for (const b of BENCHES) {
          if (wanted && !wanted.includes(b.name)) continue;
          process.stdout.write(`${await b.run()}\n\n`);
        }
        return EXIT.ok;
      }),
    );
}
