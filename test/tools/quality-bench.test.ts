import assert from "node:assert/strict";
import { test } from "node:test";
import { formatQualityBench, runQualityBench } from "../../tools/bench/quality.js";
import { BENCHES } from "../../tools/cli/bench.js";
import { startTestServer } from "../harness/nats.js";

// The bench's path at a tiny size: every delivery is decided, every hold blocks its delivery and its
// release clears it (the bench throws when a decision does not come). No timing is asserted.
test("threadline bench --only quality: deliveries decided, each hold blocks its delivery and its release clears it, through events and through the API", async (t) => {
  assert.ok(BENCHES.some((b) => b.name === "quality"));
  const server = await startTestServer({}, t);
  const r = await runQualityBench({ deliveries: 4, holds: 6, natsUrl: server.clientUrl }, () => undefined);
  assert.equal(r.requestToDecision.n, 4);
  for (const l of [r.holdToBlocked, r.releaseToCleared, r.apiHoldToBlocked, r.apiReleaseToCleared, r.raw])
    assert.equal(l.n, 6);
  const text = formatQualityBench(r);
  assert.match(text, /^## quality: the shipment gate \(4 deliveries watched; genealogy: a stand-in/);
  assert.match(text, /^\| QualityHoldPlaced → ShipmentBlocked stored \| 6 \|/m);
  assert.match(text, /^\| API: POST \/quality\/holds → ShipmentBlocked stored \| 6 \|/m);
  assert.match(text, /^hold placed → shipment blocked p99 [\d.]+ ms \(event\), [\d.]+ ms \(API\)/m);
});
