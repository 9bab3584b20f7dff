/** `threadline bench`: the benchmarks behind BENCHMARKS.md, each printed as it finishes. */
import { Command } from "commander";
import { action, EXIT } from "./run.js";

/** A benchmark: a name for `--only` and a function that returns its report. */
export interface Bench {
  readonly name: string;
  run(): Promise<string>;
}

// Each bench module is loaded when it runs: some pull in node-opcua, which takes seconds to import.
export const BENCHES: Bench[] = [
  {
    name: "codec",
    run: async () => {
      const b = await import("../bench/codec.js");
      return b.formatCodecBench(b.runCodecBench());
    },
  },
  {
    name: "sdk",
    run: async () => {
      const b = await import("../bench/sdk.js");
      const natsUrl = process.env["NATS_URL"];
      return b.formatSdkBench(await b.runSdkBench(natsUrl ? { natsUrl } : {}));
    },
  },
  {
    name: "read",
    run: async () => {
      const b = await import("../bench/read.js");
      const natsUrl = process.env["NATS_URL"];
      return b.formatReadBench(await b.runReadBench(natsUrl ? { natsUrl } : {}));
    },
  },
  {
    name: "bridge",
    run: async () => {
      const b = await import("../bench/bridge.js");
      return b.formatBridgeBench(await b.runBridgeBench(b.bridgeBenchOptionsFromEnv(process.env)));
    },
  },
  {
    name: "odoo",
    run: async () => {
      const b = await import("../bench/odoo.js");
      return b.formatOdooBench(await b.runOdooBench(b.odooBenchOptionsFromEnv(process.env)));
    },
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
