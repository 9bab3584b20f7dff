/**
 * The quality service's configuration: the plan (QUALITY_CONFIG: characteristics and hold policy) and
 * the API's users (QUALITY_USERS_FILE). A wrong entry is named by its path and stops the start; a token
 * is found by its digest only.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { QualityError } from "../../services/quality-service/src/errors.js";
import { startService } from "../../services/quality-service/src/main.js";
import { loadPlan, parsePlan, ruleHolds, severityHolds } from "../../services/quality-service/src/plan.js";
import { ApiUsers, tokenDigest } from "../../services/quality-service/src/users.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-quality-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const refusal = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof QualityError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });

describe("quality plan (QUALITY_CONFIG)", () => {
  test("no file: no chart, and the default policy holds on every SPC rule and on MAJOR or worse, forward through the genealogy", () => {
    const plan = loadPlan(undefined);
    assert.deepEqual(plan.characteristics, []);
    assert.equal(ruleHolds(plan, "nelson-5"), true);
    assert.equal(severityHolds(plan, "MINOR"), false);
    assert.equal(severityHolds(plan, "MAJOR"), true);
    assert.deepEqual(plan.holdPolicy.spc.scope, { forward: true, backward: false, depth: 10 });
  });

  test("a YAML plan: a telemetry chart with a baseline and Western Electric rules, a subgrouped inspection chart, a policy on some rules", () => {
    const file = join(dir, "plan.yaml");
    writeFileSync(
      file,
      [
        "characteristics:",
        "  - id: filler-temperature",
        "    source: telemetry",
        "    equipment: { site: plant-lyon, line: line-1, machine: filler }",
        "    tag: temperature",
        "    baseline: 25",
        "    rules: western-electric",
        "    ewma: { lambda: 0.1 }",
        "  - id: bore",
        "    source: inspection",
        "    product: BRK-220",
        "    characteristic: bore-diameter",
        "    subgroupSize: 5",
        "    limits: { mean: 12, sigma: 0.01 }",
        "    spec: { lower: 11.95, upper: 12.05, unit: mm }",
        "holdPolicy:",
        "  spc: { rules: [nelson-1, cusum], scope: { forward: true, backward: true, depth: 3 } }",
        "  nonconformance: { minSeverity: CRITICAL }",
      ].join("\n"),
    );
    const plan = loadPlan(file);
    assert.equal(plan.characteristics.length, 2);
    assert.equal(ruleHolds(plan, "cusum"), true);
    assert.equal(ruleHolds(plan, "nelson-2"), false);
    assert.equal(severityHolds(plan, "MAJOR"), false);
    assert.deepEqual(plan.holdPolicy.spc.scope, { forward: true, backward: true, depth: 3 });
  });

  test("a wrong entry is named by its path, and nothing starts", () => {
    const tag = { id: "t", source: "telemetry", equipment: { site: "s", line: "l", machine: "m" }, tag: "x" };
    refusal(
      () => parsePlan({ characteristics: [tag, { ...tag, id: "u", limits: { mean: 1, sigma: 0 } }] }),
      "QUALITY_CONFIG_INVALID",
      /characteristics\[1\]\.limits\.sigma/,
    );
    refusal(
      () => parsePlan({ characteristics: [{ ...tag, limits: { mean: 1, sigma: 1 }, baseline: 20 }] }),
      "QUALITY_CONFIG_INVALID",
      /characteristics\[0\] \(t\): limits and baseline conflict/,
    );
    refusal(
      () => parsePlan({ characteristics: [tag, { ...tag, id: "t2" }] }),
      "QUALITY_CONFIG_INVALID",
      /characteristics\[1\] charts telemetry s\/l\/m x a second time/,
    );
    refusal(
      () => parsePlan({ characteristics: [tag, tag] }),
      "QUALITY_CONFIG_INVALID",
      /characteristics\[1\]\.id t is given twice/,
    );
    refusal(
      () => parsePlan({ holdPolicy: { spc: { rules: ["nelson-9"] } } }),
      "QUALITY_CONFIG_INVALID",
      /holdPolicy\.spc\.rules/,
    );
    refusal(
      () => parsePlan({ characteristics: [{ ...tag, colour: "red" }] }),
      "QUALITY_CONFIG_INVALID",
      /colour/,
    );
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ characteristics: ");
    refusal(() => loadPlan(broken), "QUALITY_CONFIG_INVALID", /broken\.json is not valid JSON/);
    refusal(
      () => loadPlan(join(dir, "missing.json")),
      "QUALITY_CONFIG_INVALID",
      /missing\.json cannot be read/,
    );
  });
});

describe("quality API users (QUALITY_USERS_FILE)", () => {
  test("a user is found by its token's digest, with read implied by any role; another token is nobody", () => {
    const users = new ApiUsers([
      { name: "lims", tokenSha256: tokenDigest("s3cret-token-of-the-lab"), roles: ["inspect"] },
    ]);
    const lims = users.authenticate("s3cret-token-of-the-lab");
    assert.equal(lims?.name, "lims");
    assert.deepEqual([...(lims?.roles ?? [])].sort(), ["inspect", "read"]);
    assert.equal(users.authenticate("s3cret-token-of-the-la"), undefined);
  });

  test("a file that is wrong is named, entry by entry", () => {
    const write = (name: string, body: unknown) => {
      const f = join(dir, name);
      writeFileSync(f, typeof body === "string" ? body : JSON.stringify(body));
      return f;
    };
    refusal(
      () => ApiUsers.load(write("u1.json", "not json")),
      "QUALITY_USERS_INVALID",
      /u1\.json cannot be read as JSON/,
    );
    refusal(
      () =>
        ApiUsers.load(
          write("u2.json", { users: [{ name: "alice", tokenSha256: "abc", roles: ["release"] }] }),
        ),
      "QUALITY_USERS_INVALID",
      /users\.0\.tokenSha256 must be the token's SHA-256/,
    );
    refusal(
      () =>
        ApiUsers.load(
          write("u3.json", { users: [{ name: "alice", tokenSha256: tokenDigest("x"), roles: ["admin"] }] }),
        ),
      "QUALITY_USERS_INVALID",
      /users\.0\.roles\.0/,
    );
    const twice = { name: "alice", tokenSha256: tokenDigest("x"), roles: ["read"] };
    refusal(
      () => ApiUsers.load(write("u4.json", { users: [twice, twice] })),
      "QUALITY_USERS_INVALID",
      /user alice is listed twice/,
    );
  });

  test("the service does not start on a bad plan, naming it, before it connects anywhere", async () => {
    const users = join(dir, "ok-users.json");
    writeFileSync(
      users,
      JSON.stringify({ users: [{ name: "a", tokenSha256: tokenDigest("t"), roles: ["read"] }] }),
    );
    const plan = join(dir, "bad-plan.json");
    writeFileSync(plan, JSON.stringify({ characteristics: [{ id: "x", source: "telemetry" }] }));
    await assert.rejects(
      startService({
        NATS_URL: "nats://127.0.0.1:1",
        NATS_CONNECT_TIMEOUT_MS: "500",
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        LOG_LEVEL: "silent",
        SITE: "plant-lyon",
        QUALITY_USERS_FILE: users,
        QUALITY_CONFIG: plan,
        GENEALOGY_API_TOKEN: "0123456789abcdef0123",
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "QUALITY_CONFIG_INVALID", err.message);
        assert.match(err.message, /bad-plan\.json: characteristics\[0\]\.equipment/);
        return true;
      },
    );
  });
});
