/** `threadline bench`: the benchmarks behind BENCHMARKS.md, each printed as it finishes. */
import { Command, InvalidArgumentError } from "commander";
import { action, EXIT } from "./run.js";

/** The sizing flags; a bench reads those it has and ignores the others. */
export interface BenchFlags {
  readonly lots?: number;
  readonly pgliteLots?: number;
  readonly traces?: number;
  readonly events?: number;
  readonly databases?: readonly ("postgres" | "pglite")[];
  readonly deliveries?: number;
  readonly holds?: number;
}

/** A benchmark: a name for `--only` and a function that returns its report. */
export interface Bench {
  readonly name: string;
  run(flags: BenchFlags): Promise<string>;
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
      return b.formatSdkBench(await b.runSdkBench(b.sdkBenchOptionsFromEnv(process.env)));
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
    name: "genealogy",
    run: async (flags) => {
      const b = await import("../bench/genealogy.js");
      const natsUrl = process.env["NATS_URL"];
      return b.formatGenealogyBench(await b.runGenealogyBench({ ...flags, ...(natsUrl ? { natsUrl } : {}) }));
    },
  },
  {
    name: "quality",
    run: async (flags) => {
      const b = await import("../bench/quality.js");
      const natsUrl = process.env["NATS_URL"];
      return b.formatQualityBench(
        await b.runQualityBench({
          ...(flags.deliveries ? { deliveries: flags.deliveries } : {}),
          ...(flags.holds ? { holds: flags.holds } : {}),
          ...(natsUrl ? { natsUrl } : {}),
        }),
      );
    },
  },
  {
    name: "sync",
    run: async () => {
      const b = await import("../bench/sync.js");
      return b.formatSyncBench(await b.runSyncBench());
    },
  },
  {
    name: "odoo",
    run: async () => {
      const b = await import("../bench/odoo.js");
      return b.formatOdooBench(await b.runOdooBench(b.odooBenchOptionsFromEnv(process.env)));
    },
  },
  {
    name: "peak",
    run: async () => {
      const b = await import("../bench/peak.js");
      return b.formatPeakBench(await b.runPeakBench(b.peakBenchOptionsFromEnv(process.env)));
    },
  },
];

export function benchCommand(): Command {
  return new Command("bench")
    .description(`run the benchmarks (${BENCHES.map((b) => b.name).join(", ")}); figures go in BENCHMARKS.md`)
    .option("--only <names>", "comma-separated benchmark names")
    .option("--lots <n>", "genealogy: lots loaded into PostgreSQL (default 1000000, ≈ 3 edges each)", count)
    .option(
      "--pglite-lots <n>",
      "genealogy: lots loaded into the embedded PGlite (default: as --lots)",
      count,
    )
    .option("--traces <n>", "genealogy: traces per direction (default 500)", count)
    .option(
      "--events <n>",
      "genealogy: events published and projected in the ingest phase (default 50000)",
      count,
    )
    .option("--databases <names>", "genealogy: postgres,pglite (default both)", databaseList)
    .option("--deliveries <n>", "quality: deliveries requested and watched by the gate (default 200)", count)
    .option(
      "--holds <n>",
      "quality: holds placed and released, timed to the gate's decision (default 200)",
      count,
    )
    .action(
      action(async (opts: BenchFlags & { only?: string }) => {
        const { only, ...flags } = opts;
        const wanted = only?.split(",").map((s) => s.trim());
        for (const b of BENCHES) {
          if (wanted && !wanted.includes(b.name)) continue;
          process.stdout.write(`${await b.run(flags)}\n\n`);
        }
        return EXIT.ok;
      }),
    );
}

function count(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return n;
}

function databaseList(value: string): ("postgres" | "pglite")[] {
  const names = value.split(",").map((s) => s.trim());
  const unknown = names.filter((s) => s !== "postgres" && s !== "pglite");
  if (unknown.length > 0)
    throw new InvalidArgumentError(`unknown database ${unknown.join(", ")} (postgres, pglite)`);
  return names as ("postgres" | "pglite")[];
}
