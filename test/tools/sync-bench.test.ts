import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSyncBench, runSyncBench } from "../../tools/bench/sync.js";
import { BENCHES } from "../../tools/cli/bench.js";

// The bench's path at a tiny size on the server under test: both settings measured on 2.10+, a clear
// skip on the 2.9 floor. No timing is asserted.
test("threadline bench --only sync: the default and sync_interval always, side by side (or why not)", async () => {
  assert.ok(BENCHES.some((b) => b.name === "sync"));
  const r = await runSyncBench({ messages: 200, window: 16, sequential: 20 }, () => undefined);
  const text = formatSyncBench(r);
  if ("skipped" in r) {
    assert.match(text, /skipped on nats-server: v2\.9\.\d+: sync_interval needs nats-server 2\.10 or later/);
    return;
  }
  assert.deepEqual(
    r.runs.map((x) => x.setting),
    ["default", "always"],
  );
  for (const x of r.runs) assert.ok(x.rate > 0 && x.p99 >= x.p50);
  assert.match(text, /^\| sync_interval: always \| \d+ \| [\d.]+ \|/m);
});
