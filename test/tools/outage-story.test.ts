/**
 * The outage stories of the README's ops section ("After an outage: step by step"), run as an operator
 * runs them — the real `threadline` commands against a real nats-server with the declared streams:
 *
 * 1. Odoo is restored from a backup that lacks the last postings, under a running Odoo connector:
 *    `threadline odoo reconcile` names the lost events; `threadline replay` of the hour to the
 *    connector's durable, with the connector running, posts them again; reconciliation is back to no
 *    drift, and Odoo holds each posting once (the reports it still had answer `already_applied`).
 * 2. A consumer dead-letters events while a bug is live; once it is fixed, `threadline dlq redrive`
 *    brings them through its handler exactly once, and MFG_DLQ no longer holds them.
 *
 * Both end in the audit trail.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EventCodec } from "../../contracts/src/codec.js";
import { PermanentError } from "../../streams/src/consumer.js";
import { declarations } from "../../streams/src/declarations.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import { DLQ_STREAM } from "../../streams/src/names.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { runService } from "../../streams/src/service.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import {
  deadLetters,
  floorPublisher,
  newOrder,
  postedReports,
  producedOn,
  productionReport,
  publishProductionReport,
  startConnector,
  startOdoo,
  startStreams,
  storedEvents,
  threadlineWithin,
} from "../odoo-connector/fixture.js";

const REPORTED = "mfg.production.production_reported.v1";
const POSTED = "mfg.production.production_posted.v1";

interface AuditRecord {
  action: string;
  outcome: string;
  selection: Record<string, string>;
  details: Record<string, unknown>;
}

/** `threadline audit --json` on `url`. */
async function auditTrail(url: string): Promise<AuditRecord[]> {
  const run = await threadline(["audit", "--json"], { env: { NATS_URL: url } });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as AuditRecord[];
}

/** The connector's `threadline_erp_postings_total` of production reports with `outcome`. */
async function postings(url: string, outcome: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(
    `^threadline_erp_postings_total\\{[^}]*event_type="${REPORTED}"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)$`,
    "m",
  ).exec(metrics);
  return m ? Number(m[1]) : 0;
}

test("outage story - Odoo restored from a backup that lacks the last postings: reconcile names them, replaying the hour to the running connector posts them again, reconcile shows no drift and nothing is posted twice", async (t) => {
  const site = "outage";
  const sim = await startOdoo(t, { profile: 17, db: "outage" });
  const { server, nc } = await startStreams(t);
  const connector = await startConnector(t, sim, server, site);
  const url = connector.service.url;
  const order = await newOrder(sim, "FIN-SB20", 500);
  const bridge = floorPublisher(nc, "machine-bridge", site);
  // Posted to the end: the connector announces a posting (ProductionPosted) after its last step in Odoo.
  const announced = async (ids: readonly string[]) => {
    const posted = new Set((await storedEvents(nc, POSTED, site)).map((e) => e.value.sourceEventId));
    return ids.every((id) => posted.has(id));
  };

  // Before the backup: three reports, posted.
  const kept: string[] = [];
  for (const good of [2, 3, 4])
    kept.push(await publishProductionReport(bridge, productionReport(site, order.name, good)));
  await until("the reports before the backup posted", () => announced(kept));
  const backup = sim.snapshot(); // the nightly backup: these three are in it

  // After the backup: four more, posted — then Odoo is restored from the backup and loses them.
  const lost: string[] = [];
  for (const good of [5, 6, 7, 8])
    lost.push(await publishProductionReport(bridge, productionReport(site, order.name, good)));
  await until("the reports after the backup posted", () => announced(lost));
  assert.equal(await producedOn(sim, order.id), 35);
  sim.restore(backup);
  assert.equal(await producedOn(sim, order.id), 9, "Odoo has only what the backup held");

  // 1. Reconcile: drift, naming the four lost events.
  const odooEnv = {
    NATS_URL: server.clientUrl,
    ODOO_URL: sim.url,
    ODOO_DB: sim.db,
    ODOO_LOGIN: sim.credentials.login,
    ODOO_API_KEY: sim.credentials.apiKey,
  };
  const text = await threadlineWithin(["odoo", "reconcile", "--since", "1h"], odooEnv, 60_000);
  assert.equal(text.code, 1, text.stdout + text.stderr);
  assert.match(
    text.stdout,
    new RegExp(`^ {2}DRIFT {3}${order.name}: counting point good 35, rejected 0; 3 reports in Odoo$`, "m"),
  );
  assert.match(
    text.stdout,
    /^ {10}lost: 4 report\(s\) posted \S+ are not in Odoo: restored from a backup\? Replay/m,
  );
  assert.match(text.stdout, /^1 orders drift$/m);
  const drift = await threadlineWithin(["odoo", "reconcile", "--since", "1h", "--json"], odooEnv, 60_000);
  assert.equal(drift.code, 1, drift.stdout + drift.stderr);
  const report = JSON.parse(drift.stdout) as {
    orders: { orderRef: string; findings: { kind: string; events: string[] }[] }[];
  };
  const findings = report.orders.filter((o) => o.orderRef === order.name).flatMap((o) => o.findings);
  assert.deepEqual(
    findings.map((f) => [f.kind, [...f.events].sort()]),
    [["lost", [...lost].sort()]],
  );

  // 2. Replay the hour to the connector's durable, dry run first: all seven reports of the window.
  const replayArgs = [
    "replay",
    "--to",
    "odoo-connector-production-reported",
    "--type",
    REPORTED,
    "--since",
    "1h",
  ];
  const env = { env: { NATS_URL: server.clientUrl } };
  const dry = await threadline([...replayArgs, "--dry-run"], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /^dry run: 7 event\(s\) of MFG_PRODUCTION would be replayed to odoo-connector-production-reported; nothing delivered$/m,
  );
  assert.equal(await producedOn(sim, order.id), 9, "the dry run delivered nothing");

  const appliedBefore = await postings(url, "applied");
  const alreadyBefore = await postings(url, "already_applied");
  const replay = await threadline([...replayArgs, "--wait", "60"], env);
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  assert.match(
    replay.stdout,
    /^replayed 7 event\(s\) of MFG_PRODUCTION to odoo-connector-production-reported \(job \S+\): 7 handled, 0 dead-lettered, 0 still queued$/m,
  );
  // The four lost ones applied again; the three Odoo still had answered already_applied.
  assert.equal((await postings(url, "applied")) - appliedBefore, 4);
  assert.equal((await postings(url, "already_applied")) - alreadyBefore, 3);

  // 3. Reconcile again: no drift; every event posted exactly once.
  const again = await threadlineWithin(["odoo", "reconcile", "--since", "1h"], odooEnv, 60_000);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^no drift$/m);
  const records = await postedReports(sim, [...kept, ...lost]);
  assert.deepEqual(
    records.map((r) => r.eventId).sort(),
    [...kept, ...lost].sort(),
    "one posting record per event",
  );
  assert.equal(await producedOn(sim, order.id), 35, "2+3+4+5+6+7+8, each once");
  assert.deepEqual(await deadLetters(nc, "MFG_PRODUCTION", "odoo-connector-production-reported"), []);

  const [audited] = (await auditTrail(server.clientUrl)).filter((r) => r.action === "replay");
  assert.equal(audited?.outcome, "done");
  assert.equal(audited?.details["to"], "odoo-connector-production-reported");
  assert.equal(audited?.details["sentTotal"], 7);
});

const DURABLE = "outage-probe-reports";
const probe = serviceManifest({
  service: "outage-probe",
  description: "counts production reports (the outage story's consumer with a bug)",
  consumers: {
    [DURABLE]: {
      stream: "MFG_PRODUCTION",
      description: "outage-probe: production reports",
      filterSubjects: ["mfg.production.production_reported.>"],
      ackWait: "5s",
      backoff: [],
      maxDeliver: 3,
      maxAckPending: 64,
    },
  },
});

test("outage story - a consumer that dead-lettered events while a bug was live is fixed; dlq redrive brings each through exactly once and MFG_DLQ no longer holds them", async (t) => {
  const site = "outage";
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, declarations({ manifests: [probe] }), serverFacts(nc)), {
    force: false,
  });
  let bugLive = true;
  const handled: { order: string; delivery: string }[] = [];
  const service = await runService({
    manifest: probe,
    env: { NATS_URL: server.clientUrl, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", LOG_LEVEL: "silent" },
    handleSignals: false,
    logDestination: new PassThrough(),
    setup: () => ({
      consumers: [
        {
          stream: "MFG_PRODUCTION",
          durable: DURABLE,
          handlers: {
            [REPORTED]: async (event, ctx) => {
              const order = String((event.value as { orderRef: string | null }).orderRef);
              if (bugLive) throw new PermanentError("HANDLER_PERMANENT", `cannot handle ${order} (the bug)`);
              handled.push({ order, delivery: ctx.delivery });
            },
          },
        },
      ],
    }),
  });
  t.after(() => service.stop());
  const bridge = new EventPublisher(jetstream(nc), new EventCodec(), { service: "machine-bridge", site });
  const orders = ["WH/MO/00101", "WH/MO/00102", "WH/MO/00103"];
  for (const order of orders) await publishProductionReport(bridge, productionReport(site, order, 5));
  const env = { env: { NATS_URL: server.clientUrl } };
  const listed = async () => {
    const run = await threadline(["dlq", "list", "--consumer", DURABLE, "--json"], env);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as { code: string; key: string | null }[];
  };
  await until("the three reports dead-lettered", async () => (await listed()).length === 3);
  assert.equal(handled.length, 0);
  const stats = await threadline(["dlq", "stats", "--json"], env);
  assert.equal(stats.code, 0, stats.stderr);
  assert.deepEqual((JSON.parse(stats.stdout) as { total: number }).total, 3);

  const dry = await threadline(["dlq", "redrive", "--consumer", DURABLE, "--dry-run"], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^dry run: 3 dead letter\(s\) would be redriven, 0 skipped/m);
  assert.equal(handled.length, 0, "the dry run delivered nothing");

  bugLive = false; // the fix is deployed
  const run = await threadline(["dlq", "redrive", "--consumer", DURABLE, "--wait", "30"], env);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /redriven 3 dead letter\(s\) .*; 0 skipped; 3 handled and removed, 0 failed again/,
  );
  assert.deepEqual(
    handled.map((h) => [h.order, h.delivery]).sort(),
    orders.map((o) => [o, "redrive"]),
    "each once, as a redrive",
  );
  assert.deepEqual(await listed(), []);
  const empty = await threadline(["dlq", "list", "--consumer", DURABLE], env);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /^no dead letters match/);
  assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 0);

  const [audited] = (await auditTrail(server.clientUrl)).filter((r) => r.action === "redrive");
  assert.equal(audited?.outcome, "done");
  assert.equal(audited?.selection["consumer"], DURABLE);
});
