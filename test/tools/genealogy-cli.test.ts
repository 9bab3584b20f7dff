/**
 * threadline genealogy - the real CLI against a genealogy API listening on a port, over the small
 * plant's history of test/harness/genealogy.ts (supplier lot → intermediate → finished lot, shipped to
 * a customer, the rest on hold): traces as a tree, JSON and Graphviz, the recall report, and the exit
 * codes of a usage error, an unknown lot and a service that is not there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { TraceResult } from "../../services/genealogy-builder/src/query/types.js";
import { threadline } from "../harness/cli.js";
import { CUSTOMER, genealogyServer, LOTS, SHIPMENT, TOKEN } from "../harness/genealogy.js";

const server = await genealogyServer();
const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-cli-"));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = { GENEALOGY_URL: url, GENEALOGY_TOKEN: TOKEN };
const genealogy = (args: string[], extra: Record<string, string> = {}) =>
  threadline(["genealogy", ...args], { env: { ...env, ...extra } });

describe("threadline genealogy trace", () => {
  test("backward, as a tree: the finished lot, then what it was made of, down to the supplier lot and its supplier's number", async () => {
    const r = await genealogy(["trace", LOTS.finished.lot, "--backward"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    assert.ok(at("FG-1 FG-001") < at("INT-1 INT-001") && at("INT-1 INT-001") < at(`RAW-1 ${LOTS.raw.lot}`));
    assert.match(lines[at("INT-1 INT-001")] ?? "", /^\s+<- 100 Units .*WH\/MO\/00001.*line-1\/press-1/);
    assert.match(lines[at(`RAW-1 ${LOTS.raw.lot}`)] ?? "", /^\s{4,}<- 40 kg .*supplier lot SUP-77/);
    assert.ok(!r.stdout.includes(TOKEN), "the token is never printed");
  });

  test("forward, as a tree: the lots made of the supplier lot, then the shipment and the customer", async () => {
    const r = await genealogy(["trace", LOTS.raw.lot, "--forward"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /-> .*FG-1 FG-001/);
    assert.match(r.stdout, new RegExp(`${SHIPMENT}\\s+SHIPPED.*${CUSTOMER.ref} ${CUSTOMER.name}`));
    assert.match(r.stdout, /customers \(1\):\n\s+C-100 Acme Brakes\s+24 kg of RAW-1 LOT\/2026\/001/);
  });

  test("--json prints the trace the API answers; --dot a Graphviz digraph with every lot and edge", async () => {
    const json = await genealogy(["trace", LOTS.raw.lot, "--forward", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const t = JSON.parse(json.stdout) as TraceResult;
    assert.equal(t.lots.length, 3);
    assert.equal(t.customers[0]?.customerRef, CUSTOMER.ref);

    const dot = await genealogy(["trace", LOTS.finished.lot, "--backward", "--dot"]);
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, /^digraph genealogy \{/);
    assert.match(dot.stdout, /"lot:RAW-1\/LOT\/2026\/001" -> "lot:INT-1\/INT-001" \[label="40 kg"\]/);
    assert.match(dot.stdout, /"lot:INT-1\/INT-001" -> "lot:FG-1\/FG-001"/);
    assert.match(dot.stdout, /\}\n$/);
  });
});

describe("threadline genealogy recall", () => {
  test("names the customer to contact, the lots to block with their stock and the lot already on hold", async () => {
    const r = await genealogy(["recall", LOTS.raw.lot]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /customers to contact \(1\):\n\s+C-100 Acme Brakes\s+24 kg of the lot\s+\(WH\/OUT\/00001\)/,
    );
    assert.match(r.stdout, /lots to block \(1\):\n\s+RAW-1 LOT\/2026\/001\s+60 kg in WH\/Stock/);
    assert.match(r.stdout, /lots on hold \(1\):\n\s+FG-1 FG-001\s+HOLD-1.*bore diameter out of spec/);
  });

  test("export --epcis writes the EPCIS document to a file", async () => {
    const file = join(dir, "fg-001.jsonld");
    const r = await genealogy(["export", "--epcis", LOTS.finished.lot, "--output", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).type, "EPCISDocument");
  });
});

describe("threadline genealogy - failures and exit codes", () => {
  test("a trace without --backward or --forward is a usage error: exit 2, saying which flags", async () => {
    const r = await genealogy(["trace", LOTS.raw.lot]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--backward.*--forward/);
    const depth = await genealogy(["trace", LOTS.raw.lot, "--forward", "--depth", "0"]);
    assert.equal(depth.code, 2);
    assert.match(depth.stderr, /--depth/);
  });

  test("an unknown lot: exit 1, no lot X in the genealogy", async () => {
    const r = await genealogy(["recall", "LOT/1999/404"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no lot LOT\/1999\/404 in the genealogy/);
  });

  test("a lot two products share: exit 1 naming both, asking for --product", async () => {
    const r = await genealogy(["trace", LOTS.shared, "--forward"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RAW-1, RAW-2.*--product/);
  });

  test("a service that is not there: exit 1 naming the URL tried", async () => {
    const r = await genealogy(["trace", LOTS.raw.lot, "--forward", "--url", "http://127.0.0.1:9"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the genealogy service at http:\/\/127\.0\.0\.1:9\b/);
  });

  test("a wrong token: exit 1, never printing it; the token can come from a file", async () => {
    const wrong = await genealogy(["lots", "LOT"], { GENEALOGY_TOKEN: "not-the-token-42" });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused the token/);
    assert.ok(!wrong.stderr.includes("not-the-token-42"));
    const file = join(dir, "token");
    writeFileSync(file, `${TOKEN}\n`);
    const fromFile = await genealogy(["lots", "LOT", "--token-file", file], { GENEALOGY_TOKEN: "" });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /LOT\/2026\/001\s+RAW-1\s+Steel powder/);
  });
});
