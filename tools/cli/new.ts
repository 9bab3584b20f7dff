/**
 * `threadline new service <name>`: a service from the template, registered in tools/manifests.ts
 * (tools/scaffold/). Exit codes: 0 created (or listed with --dry-run), 2 an invalid name, 1 anything
 * else refused (the service exists, not a checkout); nothing is written unless it exits 0.
 */
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { ScaffoldError, ScaffoldErrorCode } from "../scaffold/names.js";
import { planService, writeService } from "../scaffold/new-service.js";
import { action, EXIT } from "./run.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

export function newCommand(): Command {
  const cmd = new Command("new").description(
    "start something new from a template: `new service <name>` makes a service that builds, passes its test and runs",
  );

  cmd
    .command("service")
    .description(
      "create services/<name>/ (manifest, main on the SDK, README) and test/<name>/, and add its manifest to tools/manifests.ts",
    )
    .argument("<name>", "lower-case kebab, e.g. scrap-tracker: its folder, NATS user and durable prefix")
    .option("--dry-run", "list the files it would create and change; write nothing")
    .addOption(
      new Option("--root <dir>", "the Threadline checkout to write into").default(
        PACKAGE_ROOT,
        "the checkout this command runs from",
      ),
    )
    .action(
      action(async (name: string, opts: { dryRun?: boolean; root: string }) => {
        let plan: ReturnType<typeof planService>;
        try {
          plan = planService(resolve(opts.root), name);
        } catch (err) {
          if (err instanceof ScaffoldError && err.code === ScaffoldErrorCode.NameInvalid) {
            process.stderr.write(`threadline: error ${err.code}: ${err.message}\n`);
            return EXIT.usage;
          }
          throw err;
        }
        const verb = opts.dryRun ? "would " : "";
        for (const f of plan.create) out(`${verb}create ${f.path}`);
        for (const f of plan.update) out(`${verb}update ${f.path}`);
        if (opts.dryRun) return EXIT.ok;
        writeService(plan);
        out();
        out("next:");
        const steps: [string, string][] = [
          ["npx tsc -p .", "build"],
          [`node --test dist/test/${name}/*.test.js`, "its test, on a nats-server of its own"],
          ["npx threadline streams apply", "its durable and bucket, on $NATS_URL"],
          [`node dist/services/${name}/src/main.js`, "run it (docs/subscribing.md)"],
        ];
        const width = Math.max(...steps.map(([command]) => command.length));
        for (const [command, why] of steps) out(`  ${command.padEnd(width)}  # ${why}`);
        return EXIT.ok;
      }),
    );

  return cmd;
}
