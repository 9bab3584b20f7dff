import assert from "node:assert/strict";
import { test } from "node:test";
import { runDemo } from "../../tools/demo/demo.js";
import { startTestServer } from "../harness/nats.js";

test("the demo registers the contracts, publishes a production run once, reads it back, and a service tracks it and dead-letters a bad report", async (t) => {
  const server = await startTestServer({}, t);
  const lines: string[] = [];
  await runDemo({ natsUrl: server.clientUrl, print: (l) => lines.push(l) });
  const text = lines.join("\n");
  assert.match(text, /schema registry holds 21 subjects/);
  assert.match(text, /duplicate=true/);
  assert.equal(lines.filter((l) => l.includes("(schema v1)")).length, 4);
  assert.match(text, /filler1 EXECUTE -> HELD \(JAM: Jar jam at capper\)/);
  assert.match(text, /WH\/MO\/00042: planned 1200 Units, good 480, reject 6 \(2 events applied once each\)/);
  assert.match(text, /dead-lettered to MFG_DLQ: UOM_MISMATCH/);
  assert.match(text, /demo done/);
});
