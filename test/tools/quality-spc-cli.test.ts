/**
 * threadline quality spc - the real CLI on CSV files in a temporary folder: the violations as a table
 * and as JSON, individuals and subgroups, a bad row refused by its line number (exit 1, nothing on
 * stdout), and usage errors (exit 2) — checked before the file is read.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { threadline } from "../harness/cli.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-quality-spc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse("2026-03-02T06:00:00Z");
const at = (i: number) => new Date(T0 + i * 60_000).toISOString();
function csv(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
/** NIST's individuals example (in control, UCL 55.8041), then a point far above. */
const NIST = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1];
const series = csv("series.csv", `time,value\n${[...NIST, 60].map((v, i) => `${at(i)},${v}`).join("\n")}\n`);
const spc = (args: string[]) => threadline(["quality", "spc", ...args]);

describe("threadline quality spc - output", () => {
  test("prints the limits, then every violation as a row: index, CSV line, time, rule, value", async () => {
    const r = await spc(["--input", series, "--baseline", "10", "--rules", "nelson"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(
      lines[0]!,
      /individuals \(I-MR\), limits from a baseline of 10: center 50\.81, LCL 45\.8159, UCL 55\.8041/,
    );
    assert.match(lines[1]!, /^INDEX\s+LINE\s+TIME\s+RULE\s+VALUE\s+ENDED AT\s+DESCRIPTION$/);
    assert.match(
      lines[2]!,
      new RegExp(
        `^10\\s+12\\s+${at(10).replace(/\./g, "\\.")}\\s+nelson-1\\s+60\\s+-\\s+1 point more than 3 sigma`,
      ),
    );
    assert.equal(lines.length, 3);
    assert.equal(r.stderr, "");
  });

  test("--json prints the limits and each episode with its rule set, number, limits and points", async () => {
    const spike = csv(
      "spike.csv",
      `time,value\n${[0, 4, 0.5, -0.5].map((v, i) => `${at(i)},${v}`).join("\n")}\n`,
    );
    const r = await spc(["--input", spike, "--limits", "0,1", "--rules", "western-electric", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      limits: { source: string; center: number; ucl: number };
      violations: {
        index: number;
        line: number;
        rule: string;
        ruleSet: string;
        ruleNumber: number;
        upperControlLimit: number;
        endIndex: number | null;
        points: { index: number; time: string; value: number }[];
      }[];
    };
    assert.deepEqual(out.limits.source, "configured");
    assert.equal(out.limits.ucl, 3);
    const first = out.violations[0]!;
    assert.deepEqual(
      [first.rule, first.ruleSet, first.ruleNumber, first.index, first.line],
      ["we-1", "WESTERN_ELECTRIC", 1, 1, 3],
    );
    assert.equal(first.upperControlLimit, 3);
    assert.equal(first.endIndex, 2, "the next point is back within the limits");
    assert.deepEqual(first.points, [{ index: 1, time: at(1), value: 4 }]);
    assert.equal(out.violations.length, 1);
  });

  test("without --limits or --baseline the whole series is the baseline; no violation says so", async () => {
    const quiet = csv("quiet.csv", `time,value\n${NIST.map((v, i) => `${at(i)},${v}`).join("\n")}\n`);
    const r = await spc(["--input", quiet]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /limits from a baseline of 10: center 50\.81/);
    assert.match(r.stdout, /no violation in 10 points/);
  });

  test("time,value,subgroup charts subgroup means (X̄–R); --cusum and --ewma add their rules (--range too: no range grew)", async () => {
    const rows = [
      [9, 10, 11],
      [10, 11, 12],
      [8, 9, 10],
      [9, 10, 11],
      [13, 14, 15],
    ].flatMap((g, s) => g.map((v, j) => `${at(s * 3 + j)},${v},S${s + 1}`));
    const path = csv("subgroups.csv", `time,value,subgroup\n${rows.join("\n")}\n`);
    const r = await spc(["--input", path, "--baseline", "4", "--cusum", "--ewma", "--range", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      limits: { subgroupSize: number };
      violations: { rule: string; index: number; line: number; value: number }[];
    };
    assert.equal(out.limits.subgroupSize, 3);
    assert.deepEqual(
      out.violations.map((v) => [v.rule, v.index, v.line, v.value]),
      [
        ["nelson-1", 4, 14, 14],
        ["cusum", 4, 14, 14],
        ["ewma", 4, 14, 14],
      ],
    );
  });
});

describe("threadline quality spc - bad input", () => {
  const refused = async (name: string, text: string, message: RegExp) => {
    const r = await spc(["--input", csv(name, text)]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "", "nothing is printed but the error");
    assert.match(r.stderr, /QUALITY_CSV_INVALID/);
    assert.match(r.stderr, message);
  };

  test("a value that is not a number is refused, naming the file's line", async () => {
    await refused(
      "bad-value.csv",
      `time,value\n${at(0)},1.5\n${at(1)},2.0\n${at(2)},abc\n`,
      /line 4: value "abc" is not a number/,
    );
  });

  test("a bad time, a missing column, a bad header and a subgroup of another size are refused by line", async () => {
    await refused(
      "bad-time.csv",
      `time,value\n${at(0)},1\nyesterday,2\n`,
      /line 3: time "yesterday" is not an ISO 8601/,
    );
    await refused(
      "short-row.csv",
      `time,value\n${at(0)},1\n\n${at(1)}\n`,
      /line 4: 1 column\(s\), the header has 2/,
    );
    await refused("header.csv", `when,value\n${at(0)},1\n`, /line 1: header is "when,value"/);
    await refused(
      "sizes.csv",
      `time,value,subgroup\n${at(0)},1,A\n${at(1)},2,A\n${at(2)},1,B\n${at(3)},2,B\n${at(4)},3,B\n`,
      /line 4: subgroup "B" has 3 measurement\(s\), the first subgroup has 2/,
    );
  });

  test("a file that cannot be read exits 1", async () => {
    const r = await spc(["--input", join(dir, "missing.csv")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read .*missing\.csv/);
  });
});

describe("threadline quality spc - usage errors exit 2", () => {
  for (const [what, args, message] of [
    ["an unknown rule", ["--input", series, "--rules", "1,9"], /--rules takes Nelson rule numbers 1\.\.8/],
    [
      "limits and a baseline",
      ["--input", series, "--limits", "50,1", "--baseline", "5"],
      /--limits and --baseline conflict/,
    ],
    ["limits without a sigma", ["--input", series, "--limits", "50"], /--limits takes "mean,sigma"/],
    [
      "a baseline longer than the file",
      ["--input", series, "--baseline", "30"],
      /--baseline 30 needs 30 points, the file has 11/,
    ],
    ["no --input", [], /required option '-i, --input <file>'/],
  ] as const)
    test(`${what}`, async () => {
      const r = await spc([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
    });

  test("a usage error is reported before the file is read", async () => {
    const r = await spc(["--input", join(dir, "missing.csv"), "--rules", "banana"]);
    assert.equal(r.code, 2);
  });
});
