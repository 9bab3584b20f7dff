/**
 * threadline new service - what the command writes and what it refuses, on a small scratch checkout
 * (services/ and tools/manifests.ts copied). That the generated service builds, passes its test and
 * runs is test/docs/subscribing.test.ts, which follows the guide from this command to a running service.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { threadline } from "../harness/cli.js";

/** A checkout with what the command reads: services/ (manifests only matter) and tools/manifests.ts. */
function scratchCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), "threadline-new-service-"));
  for (const dir of ["services/machine-bridge/src", "services/odoo-connector/src", "tools", "test/harness"])
    cpSync(join(PACKAGE_ROOT, dir, dir.endsWith("src") ? "manifest.ts" : "."), join(root, dir), {
      recursive: true,
      filter: (src) => !src.includes("node_modules"),
    });
  return root;
}

/** Every file under root with its content, to show that nothing changed. */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path, "utf8"));
    }
  };
  walk(root);
  return files;
}

const newService = (root: string, ...args: string[]) =>
  threadline(["new", "service", ...args, "--root", root]);

describe("threadline new service", () => {
  const root = scratchCheckout();
  after(() => rmSync(root, { recursive: true, force: true }));

  test("an invalid name is refused with exit 2 and SCAFFOLD_NAME_INVALID saying what is wrong; nothing is written", async () => {
    const before = snapshot(root);
    const cases: [string, RegExp][] = [
      ["MyService", /has upper-case letters/],
      ["my_service", /has '_', '\.' or whitespace/],
      ["9lives", /does not start with a letter/],
      ["my--service", /has a double hyphen/],
      ["my-service-", /ends with a hyphen/],
      ["scrap-tracker-for-line-one", /is 26 characters long, more than 24/],
      ["my+service", /has characters other than a-z, 0-9 and -/],
    ];
    for (const [name, problem] of cases) {
      const run = await newService(root, name);
      assert.equal(run.code, 2, `${name}: ${run.stderr}`);
      assert.match(run.stderr, /error SCAFFOLD_NAME_INVALID: service name /);
      assert.match(run.stderr, problem);
      assert.equal(run.stdout, "");
    }
    assert.deepEqual(snapshot(root), before);
  });

  test("an existing service is refused with exit 1 and SCAFFOLD_SERVICE_EXISTS; nothing is written", async () => {
    const before = snapshot(root);
    const run = await newService(root, "machine-bridge");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /SCAFFOLD_SERVICE_EXISTS: services\/machine-bridge\/ exists already/);
    const harness = await newService(root, "harness");
    assert.equal(harness.code, 1);
    assert.match(harness.stderr, /test\/harness\/ exists already: harness is a test folder/);
    assert.deepEqual(snapshot(root), before);
  });

  test("a folder that is not a checkout is refused with SCAFFOLD_NOT_A_CHECKOUT", async () => {
    const empty = mkdtempSync(join(tmpdir(), "threadline-not-a-checkout-"));
    const run = await newService(empty, "scrap-tracker");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /SCAFFOLD_NOT_A_CHECKOUT: .* has no services\/ or no tools\/manifests\.ts/);
    assert.deepEqual(readdirSync(empty), []);
    rmSync(empty, { recursive: true });
  });

  test("a tools/manifests.ts it cannot extend is refused naming what to add by hand; nothing is written", async () => {
    const odd = scratchCheckout();
    writeFileSync(join(odd, "tools/manifests.ts"), "export const SERVICE_MANIFESTS = [];\n");
    const run = await newService(odd, "scrap-tracker");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /SCAFFOLD_MANIFESTS_UNRECOGNISED/);
    assert.match(
      run.stderr,
      /import \{ scrapTrackerManifest \} from "\.\.\/services\/scrap-tracker\/src\/manifest\.js"/,
    );
    assert.equal(existsSync(join(odd, "services/scrap-tracker")), false);
    rmSync(odd, { recursive: true });
  });

  test("--dry-run lists the files it would create and change, and writes nothing", async () => {
    const before = snapshot(root);
    const run = await newService(root, "scrap-tracker", "--dry-run");
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "would create services/scrap-tracker/src/manifest.ts",
      "would create services/scrap-tracker/src/main.ts",
      "would create services/scrap-tracker/README.md",
      "would create test/scrap-tracker/service.test.ts",
      "would update tools/manifests.ts",
    ]);
    assert.deepEqual(snapshot(root), before);
  });

  test("a service is created and its manifest registered in tools/manifests.ts, in Biome's import order", async () => {
    const run = await newService(root, "scrap-tracker");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^create services\/scrap-tracker\/src\/manifest\.ts$/m);
    assert.match(run.stdout, /node dist\/services\/scrap-tracker\/src\/main\.js/);
    const manifest = readFileSync(join(root, "services/scrap-tracker/src/manifest.ts"), "utf8");
    assert.match(manifest, /export const REPORTS_DURABLE = "scrap-tracker-reports";/);
    assert.match(manifest, /export const TOTALS_BUCKET = "THREADLINE_SCRAP_TRACKER_TOTALS";/);
    assert.match(
      manifest,
      /export const scrapTrackerManifest = serviceManifest\(\{\n {2}service: "scrap-tracker",/,
    );
    const main = readFileSync(join(root, "services/scrap-tracker/src/main.ts"), "utf8");
    // The SDK and the contracts through their entry points only (test/architecture.test.ts).
    assert.deepEqual(
      [...main.matchAll(/from "(\.\.\/[^"]+)"/g)].map((m) => m[1]),
      ["../../../contracts/src/index.js", "../../../streams/src/index.js"],
    );
    const manifests = readFileSync(join(root, "tools/manifests.ts"), "utf8");
    const imports = manifests.split("\n").filter((l) => l.includes("/src/manifest.js"));
    assert.deepEqual(imports, [
      'import { genealogyBuilderManifest } from "../services/genealogy-builder/src/manifest.js";',
      'import { machineBridgeManifest } from "../services/machine-bridge/src/manifest.js";',
      'import { odooConnectorManifest } from "../services/odoo-connector/src/manifest.js";',
      'import { opsConsoleManifest } from "../services/ops-console/src/manifest.js";',
      'import { productionOrchestratorManifest } from "../services/production-orchestrator/src/manifest.js";',
      'import { qualityServiceManifest } from "../services/quality-service/src/manifest.js";',
      'import { scrapTrackerManifest } from "../services/scrap-tracker/src/manifest.js";',
    ]);
    assert.match(
      manifests,
      /SERVICE_MANIFESTS: readonly ServiceManifest\[\] = \[\n {2}machineBridgeManifest,\n {2}odooConnectorManifest,\n {2}productionOrchestratorManifest,\n {2}genealogyBuilderManifest,\n {2}qualityServiceManifest,\n {2}opsConsoleManifest,\n {2}scrapTrackerManifest,\n\];/,
    );

    const again = await newService(root, "scrap-tracker");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /SCAFFOLD_SERVICE_EXISTS/);
  });
});
