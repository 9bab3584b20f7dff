import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import { threadline } from "../harness/cli.js";
import { startTestServer } from "../harness/nats.js";

/** `threadline …` with `input` on stdin and extra environment. */
const cli = (args: string[], input?: Buffer | string, env: Record<string, string> = {}) =>
  threadline(args, { ...(input === undefined ? {} : { input }), env });

const server = await startTestServer();
const S = ["--server", server.clientUrl];
const RELEASED = "mfg.production.production_order_released.v1";
const order = {
  orderRef: "WH/MO/00007",
  odooOrderId: 7,
  product: { code: "JAM-370", name: null, odooId: null },
  quantity: { value: "1200.5", uom: "Units" },
  plannedStartAt: "2026-11-30T06:00:00.000Z",
  plannedEndAt: null,
  equipment: { site: "plant1", area: null, line: "line1", cell: null, machine: null },
  workCenterCode: null,
  lotToProduce: "LOT-1",
  components: [],
  origin: null,
  releasedAt: "2026-11-30T05:59:00.000Z",
};

describe("threadline contracts - the command line", () => {
  test("--help lists every command, and exits 0", async () => {
    const top = await cli(["--help"]);
    assert.equal(top.code, 0);
    for (const c of ["contracts", "demo"]) assert.match(top.stdout.toString(), new RegExp(`\\b${c}\\b`));
    const sub = await cli(["contracts", "--help"]);
    assert.equal(sub.code, 0);
    for (const c of ["check", "register", "list", "show", "encode", "decode"])
      assert.match(sub.stdout.toString(), new RegExp(`\\b${c}\\b`));
    assert.equal((await cli(["contracts", "encode", "--help"])).code, 0);
  });

  test("a wrong flag or missing argument is a usage error: exit 2 with a message", async () => {
    const r = await cli(["contracts", "list", "--frobnicate"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
    assert.equal((await cli(["contracts", "encode"])).code, 2);
    assert.equal((await cli(["contracts", "show", "x", "zero", ...S])).code, 2);
    const badUrl = await cli(["contracts", "list"], undefined, { NATS_URL: "http//nope" });
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /NATS_URL/);
  });

  test("encode then decode round-trips an event, with decimals as strings and times as ISO-8601", async () => {
    const enc = await cli(["contracts", "encode", RELEASED], JSON.stringify(order));
    assert.equal(enc.code, 0, enc.stderr);
    assert.equal(enc.stdoutBytes[0], 0xc3);
    assert.equal(enc.stdoutBytes[1], 0x01);
    const dec = await cli(["contracts", "decode", "--local"], enc.stdoutBytes);
    assert.equal(dec.code, 0, dec.stderr);
    const out = JSON.parse(dec.stdout.toString());
    assert.equal(out.eventType, RELEASED);
    assert.equal(out.value.quantity.value, "1200.500000");
    assert.equal(out.value.plannedStartAt, "2026-11-30T06:00:00.000Z");
    assert.equal(out.value.odooOrderId, 7);
  });

  test("JSON that does not fit the schema is refused naming the field, and nothing is written", async () => {
    const r = await cli(
      ["contracts", "encode", RELEASED],
      JSON.stringify({ ...order, quantity: { value: 3.5, uom: "Units" } }),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /quantity\.value/);
    const notJson = await cli(["contracts", "encode", RELEASED], "{oops");
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /not valid JSON/);
    const unknown = await cli(["contracts", "encode", "mfg.nothing.here.v1"], "{}");
    assert.equal(unknown.code, 2);
  });

  test("decode refuses garbage with a typed error", async () => {
    const r = await cli(["contracts", "decode", "--local"], Buffer.from("hello world, not avro"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /BAD_MARKER/);
  });

  test("register, list, show and decode against the registry name the writer version", async () => {
    const check0 = await cli(["contracts", "check", ...S]);
    assert.equal(check0.code, 0, check0.stdout.toString() + check0.stderr);
    assert.match(check0.stdout.toString(), /not yet registered/);
    const reg = await cli(["contracts", "register", ...S]);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(
      reg.stdout.toString(),
      /registered +mfg\.production\.production_order_released\.v1 version 1/,
    );
    const again = await cli(["contracts", "register", ...S]);
    assert.match(
      again.stdout.toString(),
      /unchanged +mfg\.production\.production_order_released\.v1 version 1/,
    );
    const list = await cli(["contracts", "list", ...S]);
    assert.match(
      list.stdout.toString(),
      /mfg\.shipping\.shipment_cleared\.v1\tFULL_TRANSITIVE \(default\)\tv1=/,
    );
    const show = await cli(["contracts", "show", RELEASED, "1", ...S]);
    assert.equal(JSON.parse(show.stdout.toString()).name, "ProductionOrderReleased");
    const enc = await cli(["contracts", "encode", RELEASED], JSON.stringify(order));
    const dec = JSON.parse((await cli(["contracts", "decode", ...S], enc.stdoutBytes)).stdout.toString());
    assert.deepEqual(dec.writer.subject, RELEASED);
    assert.equal(dec.writer.version, 1);
    const check1 = await cli(["contracts", "check", ...S]);
    assert.match(check1.stdout.toString(), /registered as version 1/);
  });

  describe("check against a changed working tree", () => {
    const dir = mkdtempSync(join(tmpdir(), "threadline-schemas-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(PACKAGE_ROOT, "contracts/schemas"), dir, { recursive: true });
    const file = join(dir, "production/ProductionOrderReleased.v1.avsc");
    const schema = JSON.parse(readFileSync(file, "utf8"));

    test("a breaking change fails the registry check (exit 1) naming the field and rule; register writes nothing", async () => {
      await cli(["contracts", "register", ...S]);
      schema.fields.push({ name: "priority", type: "int", doc: "Order priority." });
      writeFileSync(file, JSON.stringify(schema, null, 2));
      const r = await cli(["contracts", "check", RELEASED, "--dir", dir, ...S]);
      assert.equal(r.code, 1);
      assert.match(r.stdout.toString(), /priority.*READER_FIELD_MISSING_DEFAULT/);
      const reg = await cli(["contracts", "register", "--dir", dir, ...S]);
      assert.equal(reg.code, 1);
      assert.match(reg.stderr, /nothing registered/);
      const list = await cli(["contracts", "list", ...S]);
      assert.match(
        list.stdout.toString(),
        new RegExp(`${RELEASED.replaceAll(".", "\\.")}\\tFULL_TRANSITIVE \\(default\\)\\tv1=[0-9a-f]{16}\\n`),
      );
    });

    test("a compatible change passes and registers as version 2", async () => {
      schema.fields.pop();
      schema.fields.push({ name: "priority", type: ["null", "int"], default: null, doc: "Order priority." });
      writeFileSync(file, JSON.stringify(schema, null, 2));
      assert.equal((await cli(["contracts", "check", RELEASED, "--dir", dir, ...S])).code, 0);
      const reg = await cli(["contracts", "register", RELEASED, "--dir", dir, ...S]);
      assert.match(
        reg.stdout.toString(),
        /registered +mfg\.production\.production_order_released\.v1 version 2/,
      );
    });

    test("a field without doc fails the style rules", async () => {
      schema.fields.push({ name: "note", type: ["null", "string"], default: null });
      writeFileSync(file, JSON.stringify(schema, null, 2));
      const r = await cli(["contracts", "check", RELEASED, "--dir", dir, ...S]);
      assert.equal(r.code, 1);
      assert.match(r.stdout.toString(), /note: field has no doc/);
    });

    test("a malformed schema file is named", async () => {
      writeFileSync(file, "{ broken");
      const r = await cli(["contracts", "check", "--dir", dir, ...S]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /production\/ProductionOrderReleased\.v1\.avsc: not valid JSON/);
    });
  });

  describe("the default mode protects consumers still on the previous version", () => {
    const REPORTED = "mfg.production.production_reported.v1";
    const repo = mkdtempSync(join(tmpdir(), "threadline-schemas-git-"));
    after(() => rmSync(repo, { recursive: true, force: true }));
    const dir = join(repo, "schemas");
    cpSync(join(PACKAGE_ROOT, "contracts/schemas"), dir, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: repo,
        stdio: "pipe",
      });
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "schemas");
    const file = join(dir, "production/ProductionReported.v1.avsc");
    const schema = JSON.parse(readFileSync(file, "utf8")) as { fields: { name: string }[] };

    test("removing a required field fails check against the registry and against --git-ref, naming field, rule and mode; register refuses it", async () => {
      assert.equal((await cli(["contracts", "register", REPORTED, "--dir", dir, ...S])).code, 0);
      const removed = { ...schema, fields: schema.fields.filter((f) => f.name !== "rejectCounterFrom") };
      writeFileSync(file, JSON.stringify(removed, null, 2));
      const registry = await cli(["contracts", "check", REPORTED, "--dir", dir, ...S]);
      assert.equal(registry.code, 1, registry.stdout.toString());
      const lines = registry.stdout
        .toString()
        .split("\n")
        .filter((l) => /^(ok|FAIL)/.test(l));
      assert.equal(lines.length, 1, "one verdict per type");
      assert.match(
        registry.stdout.toString(),
        /FAIL mfg\.production\.production_reported\.v1: incompatible under FULL_TRANSITIVE \(the default\)[\s\S]*old reads new[\s\S]*rejectCounterFrom[\s\S]*READER_FIELD_MISSING_DEFAULT/,
      );
      const atRef = await cli(["contracts", "check", REPORTED, "--dir", dir, "--git-ref", "HEAD"]);
      assert.equal(atRef.code, 1, atRef.stdout.toString() + atRef.stderr);
      assert.match(
        atRef.stdout.toString(),
        /FULL_TRANSITIVE with HEAD[\s\S]*rejectCounterFrom[\s\S]*READER_FIELD_MISSING_DEFAULT/,
      );
      const reg = await cli(["contracts", "register", REPORTED, "--dir", dir, ...S]);
      assert.equal(reg.code, 1);
      assert.match(reg.stdout.toString(), /rejectCounterFrom/);
    });

    test("a subject set deliberately to BACKWARD_TRANSITIVE accepts the removal, and every output says which mode applied", async () => {
      const set = await cli(["contracts", "compatibility", REPORTED, "BACKWARD_TRANSITIVE", ...S]);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout.toString(), /BACKWARD_TRANSITIVE\tset for this subject/);
      const check = await cli(["contracts", "check", REPORTED, "--dir", dir, ...S]);
      assert.equal(check.code, 0, check.stdout.toString());
      assert.match(
        check.stdout.toString(),
        /compatible under BACKWARD_TRANSITIVE \(set for this subject; 1 version\(s\) checked\)/,
      );
      const atRef = await cli([
        "contracts",
        "check",
        REPORTED,
        "--dir",
        dir,
        "--git-ref",
        "HEAD",
        "--compatibility",
        "BACKWARD_TRANSITIVE",
      ]);
      assert.match(atRef.stdout.toString(), /compatible with HEAD under BACKWARD_TRANSITIVE/);
      const shown = await cli(["contracts", "compatibility", "mfg.shipping.shipment_cleared.v1", ...S]);
      assert.match(shown.stdout.toString(), /FULL_TRANSITIVE\tthe default/);
      writeFileSync(file, JSON.stringify(schema, null, 2));
    });
  });

  test("check --git-ref compares with the schemas committed at that ref", async () => {
    const r = await cli(["contracts", "check", "--git-ref", "HEAD"]);
    assert.equal(r.code, 0, r.stdout.toString() + r.stderr);
    const bad = await cli(["contracts", "check", "--git-ref", "no-such-ref"]);
    assert.equal(bad.code, 2);
  });
});
