/**
 * The Odoo connector's panel: the console reads the connector's own metrics (with its token) and shows
 * its breaker, each synced model's age, its backlog and its reconciliation's drift; a connector that
 * does not answer is said, naming where it was asked.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { parseMetrics } from "../../services/ops-console/src/views/odoo-connector.js";
import { startConsoleFixture } from "./fixtures/console.js";

const TOKEN = "connector-metrics-token-0123456789";
const METRICS = `# HELP threadline_odoo_breaker_state Circuit breaker in front of Odoo: 0 closed, 1 half-open, 2 open
# TYPE threadline_odoo_breaker_state gauge
threadline_odoo_breaker_state 2
threadline_odoo_sync_age_seconds{model="mrp.production"} 12.5
threadline_odoo_sync_age_seconds{model="stock.picking"} 740
threadline_erp_backlog_events{consumer="odoo-connector-production-reported"} 37
threadline_odoo_in_flight 3
threadline_erp_reconcile_completed_timestamp_seconds 1796580000
threadline_erp_drift_quantity{order_ref="WH/MO/00042"} -12
threadline_erp_drift_quantity{order_ref="WH/MO/00043"} 0
`;
const seen: (string | undefined)[] = [];
const connector = createServer((req, res) => {
  seen.push(req.headers.authorization);
  if (req.url !== "/metrics" || req.headers.authorization !== `Bearer ${TOKEN}`) {
    res.writeHead(401).end();
    return;
  }
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(METRICS);
});
await new Promise<void>((r) => connector.listen(0, "127.0.0.1", r));
after(() => connector.close());
const url = `http://127.0.0.1:${(connector.address() as AddressInfo).port}`;

test("the exposition format is read sample by sample, labels unescaped, comments skipped", () => {
  assert.deepEqual(parseMetrics('# HELP x y\na_total{k="v \\"q\\"",m="2"} 3.5\nb 1e3\nnot a sample\n'), [
    { name: "a_total", labels: { k: 'v "q"', m: "2" }, value: 3.5 },
    { name: "b", labels: {}, value: 1000 },
  ]);
});

test("the panel shows the connector's breaker, sync ages, backlog and drift from its metrics, asked with its token", async () => {
  const f = await startConsoleFixture({
    env: { ODOO_CONNECTOR_URL: url, ODOO_CONNECTOR_METRICS_TOKEN: TOKEN },
  });
  const viola = await f.signIn("viola");
  const res = await viola.get("/api/odoo-connector");
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.breaker, "open");
  assert.deepEqual(res.body.syncAgeSeconds, [
    { model: "stock.picking", seconds: 740 },
    { model: "mrp.production", seconds: 12.5 },
  ]);
  assert.deepEqual(res.body.backlog, [{ consumer: "odoo-connector-production-reported", events: 37 }]);
  assert.deepEqual(res.body.drift, [{ orderRef: "WH/MO/00042", quantity: -12 }]);
  assert.equal(res.body.reconciledAt, new Date(1796580000 * 1000).toISOString());
  assert.equal(seen.at(-1), `Bearer ${TOKEN}`);
});

test("a connector that does not answer, or refuses the token, is said, naming where; unconfigured is said too", async () => {
  const wrong = await startConsoleFixture({
    env: { ODOO_CONNECTOR_URL: url, ODOO_CONNECTOR_METRICS_TOKEN: "not-the-token-0123456789" },
  });
  const refused = await (await wrong.signIn("viola")).get("/api/odoo-connector");
  assert.equal(refused.status, 502);
  assert.equal(refused.body.error.code, "CONSOLE_UPSTREAM_FAILED");
  assert.match(refused.body.error.message, new RegExp(`${url}/metrics: answered 401`));
  assert.doesNotMatch(refused.text, /not-the-token/, "the token is never in an answer");
  const none = await startConsoleFixture();
  const unconfigured = await (await none.signIn("viola")).get("/api/odoo-connector");
  assert.deepEqual(unconfigured.body, { configured: false });
});
