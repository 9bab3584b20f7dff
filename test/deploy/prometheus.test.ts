/**
 * The alert rules (deploy/prometheus/*-rules.yaml) are valid Prometheus rules and behave as their unit
 * tests say (deploy/prometheus/tests/: a blip does not page, an outage past its `for` does, labels name
 * what is wrong), checked by promtool — Debian's prometheus package, unpacked by
 * tools/install/promtool.sh into .cache/ (make test passes it as THREADLINE_PROMTOOL).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";

const promtool = process.env["THREADLINE_PROMTOOL"] || join(PACKAGE_ROOT, ".cache/promtool/promtool");
const dir = join(PACKAGE_ROOT, "deploy/prometheus");

function run(args: string[]) {
  assert.ok(
    existsSync(promtool),
    `promtool is not at ${promtool}: run tools/install/promtool.sh .cache/promtool (make test does)`,
  );
  const r = spawnSync(promtool, args, { cwd: PACKAGE_ROOT, encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test("promtool check rules: every rule file is valid", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith("-rules.yaml"));
  assert.ok(files.length >= 2);
  const r = run(["check", "rules", ...files.map((f) => join(dir, f))]);
  assert.equal(r.code, 0, r.output);
  assert.doesNotMatch(r.output, /FAILED/);
});

test("promtool test rules: the alerts fire when their unit tests say, and only then", () => {
  const tests = readdirSync(join(dir, "tests")).filter((f) => f.endsWith(".yaml"));
  assert.ok(tests.length > 0);
  const r = run(["test", "rules", ...tests.map((f) => join(dir, "tests", f))]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});
