/**
 * The connector's backlog gauge tells the truth through a drain: it counts the reports still to post,
 * not the ProductionPosted events the connector appends to the same stream behind the backlog. (With
 * the durable's old filter `mfg.production.>`, each posting added one such event as it removed one
 * report, and the gauge read the whole backlog until the drain's very end.) A server without multiple
 * filter subjects (the 2.9 floor) gives the durable that one filter still: there the gauge reads the
 * whole backlog until the end (measured: 150 flat while 30 to 70 of 150 were posted), as documented.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { CONNECTOR_DURABLES } from "../../services/odoo-connector/src/manifest.js";
import { startOutbound } from "../../services/odoo-connector/src/outbound/index.js";
import { connectedServerHas } from "../../streams/src/server-features.js";
import { metricSum } from "../harness/metrics.js";
import { until } from "../harness/wait.js";
import {
  connectOdoo,
  connectorPublisher,
  floorPublisher,
  newOrder,
  productionReport,
  publishProductionReport,
  startOdoo,
  startStreams,
} from "./fixture.js";

const SITE = "plant-backlog";
/** More than the durable lets out at once (max_ack_pending 64): the rest waits on the server. */
const REPORTS = 120;

test("the backlog gauge falls as the reports are posted, and reads 0 once they are: the connector's own ProductionPosted events are not counted", async (t) => {
  const { nc } = await startStreams(t);
  if (!connectedServerHas(nc, "multipleFilterSubjects")) {
    t.skip(
      `nats-server ${nc.info?.version} has no multiple filter subjects: the durable takes mfg.production.>`,
    );
    return;
  }
  const sim = await startOdoo(t, { profile: 17, db: "backlog" });
  const order = (await newOrder(sim, "FIN-HJ250", 10_000)).name;
  const bridge = floorPublisher(nc, "machine-bridge", SITE);
  for (let i = 0; i < REPORTS; i++) await publishProductionReport(bridge, productionReport(SITE, order, 1));
  const registry = new Registry();
  const outbound = await startOutbound({
    nc,
    client: await connectOdoo(t, sim, { ratePerSecond: 200 }),
    publisher: connectorPublisher(nc, SITE),
    site: SITE,
    registry,
    only: ["production"],
    consumer: { infoIntervalMs: 200 },
  });
  t.after(() => outbound.stop({ timeoutMs: 1_000 }));
  const backlog = () =>
    metricSum(registry, "threadline_erp_backlog_events", { consumer: CONNECTOR_DURABLES.production });
  const applied = () =>
    metricSum(registry, "threadline_erp_postings_total", {
      outcome: "applied",
      event_type: "mfg.production.production_reported.v1",
    });
  const samples: { applied: number; backlog: number }[] = [];
  await until(
    "every report posted",
    async () => {
      const s = { applied: await applied(), backlog: await backlog() };
      samples.push(s);
      return s.applied >= REPORTS;
    },
    { timeoutMs: 120_000, intervalMs: 100 },
  );
  await until("the backlog gauge at 0", async () => (await backlog()) === 0, { timeoutMs: 10_000 });
  // While reports still wait on the server (the old filter had the posted events wait behind them).
  const mid = samples.filter((s) => s.applied >= REPORTS * 0.2 && s.applied <= REPORTS * 0.5);
  t.diagnostic(
    `mid-drain samples (applied, backlog): ${mid.map((s) => `${s.applied},${s.backlog}`).join(" ")}`,
  );
  assert.ok(mid.length > 0, "sampled while reports still waited on the server");
  // What is left, give or take the postings of the last look or two at the server (every 200 ms).
  for (const s of mid)
    assert.ok(
      s.backlog <= REPORTS - s.applied + 12,
      `with ${s.applied} of ${REPORTS} posted the gauge read ${s.backlog}, not what is left`,
    );
});
