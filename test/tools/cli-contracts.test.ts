import assert from "node:assert/strict";
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
    assert.match(list.stdout.toString(), /mfg\.shipping\.shipment_cleared\.v1\tBACKWARD_TRANSITIVE\tv1=/);
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
        new RegExp(`${RELEASED.replaceAll(".", "\\.")}\\tBACKWARD_TRANSITIVE\\tv1=[0-9a-f]{16}\\n`),
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

  test("check --git-ref compares with the schemas committed at that ref", async () => {
    const r = await cli(["contracts", "check", "--git-ref", "HEAD"]);
    assert.equal(r.code, 0, r.stdout.toString() + r.stderr);
    const bad = await cli(["contracts", "check", "--git-ref", "no-such-ref"]);
    assert.equal(bad.code, 2);
  });
});
