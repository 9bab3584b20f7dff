/**
 * Shared set-up of the Odoo connector's tests: the Odoo simulator (over HTTP only), a real
 * nats-server with the declared streams and buckets, the Odoo client, a publisher, and reading back
 * the events stored in the streams.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { TestContext } from "node:test";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import type { ProductionReported } from "../../contracts/src/events.generated.js";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import { EquipmentMap } from "../../services/odoo-connector/src/equipment.js";
import { odooFields } from "../../services/odoo-connector/src/fields.js";
import { startOdooConnector } from "../../services/odoo-connector/src/main.js";
import { OdooClient, type OdooClientOptions } from "../../services/odoo-connector/src/odoo/index.js";
import { setupOdoo } from "../../services/odoo-connector/src/odoo-setup.js";
import { OdooSetup, type PostingContext } from "../../services/odoo-connector/src/outbound/steps.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import { silentLogger } from "../../streams/src/logger.js";
import { DLQ_STREAM, dlqSubject } from "../../streams/src/names.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { readStream } from "../../streams/src/read.js";
import type { RunningService } from "../../streams/src/service.js";
import { platformDeclarations } from "../../tools/manifests.js";
import {
  type OdooSimulator,
  type OdooSimulatorOptions,
  startOdooSimulator,
} from "../../tools/sim/odoo/server.js";
import { connectTo, type LocalNatsServer, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

/** The connector's state bucket (streams/src/declarations.ts). */
export const CONNECTOR_STATE_BUCKET = "THREADLINE_CONNECTOR_STATE";

/** A nats-server with every declared stream and bucket (local profile); closed after the test or file. */
export async function startStreams(
  t?: TestContext,
): Promise<{ server: LocalNatsServer; nc: NatsConnection; jsm: JetStreamManager }> {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  return { server, nc, jsm };
}

export function connectorStateKv(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).open(CONNECTOR_STATE_BUCKET);
}

/** An Odoo simulator, stopped after the test. */
/**
 * An Odoo simulator, stopped after the test — set up for Threadline (`threadline odoo setup`, as an
 * administrator does once) unless `threadline: false`.
 */
export async function startOdoo(
  t: TestContext,
  options: OdooSimulatorOptions,
  { threadline = true }: { threadline?: boolean } = {},
): Promise<OdooSimulator> {
  const sim = await startOdooSimulator(options);
  t.after(() => sim.stop());
  if (threadline) await setUpThreadline(t, sim);
  return sim;
}

/** The demo lines' machines → their own work centres in the simulator's seed. */
export const WORKCENTER_BY_MACHINE: Readonly<Record<string, string>> = {
  "line-1/filler-1": "L1-FILL",
  "line-1/capper-1": "L1-CAP",
  "line-1/labeler-1": "L1-LAB",
  "line-2/mixer-2": "L2-MIX",
  "line-2/oven-2": "L2-OVEN",
  "line-2/packer-2": "L2-PACK",
};

/**
 * What `threadline odoo setup` does, as an Odoo administrator would run it once: the posting model
 * and the marker fields. Returns the admin client (closed after the test).
 */
export async function setUpThreadline(t: TestContext, sim: OdooSimulator): Promise<OdooClient> {
  const admin = await connectOdoo(t, sim, { ratePerSecond: 1_000 });
  await setupOdoo(admin);
  return admin;
}

/** The connector's client as Odoo's integration user (exactly Manufacturing / User), closed after the test. */
export function connectIntegration(
  t: TestContext,
  sim: OdooSimulator,
  overrides: Partial<OdooClientOptions> = {},
): Promise<OdooClient> {
  return connectOdoo(t, sim, {
    login: sim.users.integration.login,
    apiKey: sim.users.integration.apiKey,
    ratePerSecond: 1_000,
    ...overrides,
  });
}

/** A posting context on `client` with the demo lines' work centres. */
export function postingContext(
  client: OdooClient,
  workcenterByLine: Readonly<Record<string, string>> = WORKCENTER_BY_MACHINE,
): PostingContext {
  return {
    odoo: client,
    fields: odooFields(client.version.major),
    setup: new OdooSetup(client),
    equipment: new EquipmentMap(workcenterByLine),
    logger: silentLogger,
  };
}

/** The connector's Odoo client on the simulator (as admin), closed after the test. */
export async function connectOdoo(
  t: TestContext,
  sim: OdooSimulator,
  overrides: Partial<OdooClientOptions> = {},
): Promise<OdooClient> {
  const client = await OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: sim.credentials.login,
    apiKey: sim.credentials.apiKey,
    timeoutMs: 5_000,
    registry: new Registry(),
    ...overrides,
  });
  t.after(() => client.close());
  return client;
}

export function connectorPublisher(
  nc: NatsConnection,
  site: string,
  registry = new Registry(),
): EventPublisher {
  return new EventPublisher(jetstream(nc), new EventCodec(), {
    service: "odoo-connector",
    site,
    metrics: registry,
  });
}

export { type Stored, storedEvents } from "../harness/events.js";

// ------------------------------------------------------------------ outbound postings (outbound*.test.ts)

/** Publishes events as the shop floor does (machine bridge, quality service, shipment gate). */
export function floorPublisher(nc: NatsConnection, service: string, site: string): EventPublisher {
  return new EventPublisher(jetstream(nc), new EventCodec(), { service, site, metrics: new Registry() });
}

/**
 * Publishes a stored message again as a replay tool does: same data and headers (same ce-id), a new
 * Nats-Msg-Id so the stream takes it; returns its new stream sequence.
 */
export async function republish(nc: NatsConnection, stream: string, seq: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage(stream, { seq });
  if (!stored) throw new Error(`no message ${seq} in ${stream}`);
  const h = natsHeaders();
  for (const [k, v] of stored.header ?? []) for (const value of v) h.append(k, value);
  h.set("Nats-Msg-Id", `replay:${stream}:${seq}:${Date.now()}`);
  const ack = await jetstream(nc).publish(stored.subject, stored.data, { headers: h });
  return ack.seq;
}

export interface DeadLetter {
  readonly ceId: string;
  readonly code: string;
  readonly message: string;
}

/** The dead letters of a durable in MFG_DLQ, with their reason headers. */
export async function deadLetters(
  nc: NatsConnection,
  stream: string,
  durable: string,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const read = { stream: DLQ_STREAM, filter: dlqSubject(stream, durable), ifMissing: "empty" } as const;
  await readStream(nc, read, (m) => {
    const letter = readDeadLetter(m);
    out.push({ ceId: letter.headers.get("ce-id"), code: letter.code, message: letter.message });
  });
  return out;
}

// ------------------------------------------------------------------ the service and reconciliation (service.test.ts, reconcile.test.ts)

/** A new manufacturing order of a product (by its default code), confirmed unless `draft`. */
export async function newOrder(
  sim: OdooSimulator,
  productCode: string,
  qty: number,
  options: { draft?: boolean } = {},
): Promise<{ id: number; name: string }> {
  const [product] = await sim.env.search("product.product", [["default_code", "=", productCode]]);
  const id = await sim.env.create("mrp.production", { product_id: product, product_qty: qty });
  if (!options.draft) await sim.env.call("mrp.production", "action_confirm", [[id]]);
  const [row] = await sim.env.read("mrp.production", [id], ["name"]);
  return { id, name: String(row?.["name"]) };
}

let reportedCounter = 0;

/** A ProductionReported of machine `line-1/m1` of `site`, reported a minute ago. */
export function productionReport(site: string, orderRef: string | null, good: number): ProductionReported {
  const from = BigInt(reportedCounter);
  reportedCounter += good;
  const at = new Date(Date.now() - 60_000);
  return {
    equipment: { site, area: null, line: "line-1", cell: null, machine: "m1" },
    orderRef,
    lot: null,
    goodQuantity: { value: String(good), uom: "Units" },
    rejectQuantity: { value: "0", uom: "Units" },
    goodCounterFrom: from,
    goodCounterTo: BigInt(reportedCounter),
    rejectCounterFrom: 0n,
    rejectCounterTo: 0n,
    periodStartAt: at,
    reportedAt: at,
    countingPoint: true,
    rejectedComponent: null,
    running: [],
  };
}

/** Publishes a report as the machine bridge does (keyed by machine); returns its event id. */
export async function publishProductionReport(
  bridge: EventPublisher,
  value: ProductionReported,
): Promise<string> {
  const site = value.equipment.site;
  const published = await bridge.publish("mfg.production.production_reported.v1", value, {
    site,
    line: "line-1",
    machine: "m1",
    key: `${site}/line-1/m1`,
    time: value.reportedAt,
  });
  return published.envelope.id;
}

/**
 * What Odoo remembers of these events: their posting records (x_threadline_posting), with the order
 * each was applied to. An event is posted exactly when it has one.
 */
export async function postedReports(
  sim: OdooSimulator,
  eventIds: readonly string[],
): Promise<{ eventId: string; productionId: number; order: string; good: number; reject: number }[]> {
  const rows = await sim.env.searchRead(
    "x_threadline_posting",
    [["x_name", "in", [...eventIds]]],
    ["x_name", "x_production_id", "x_good_qty", "x_reject_qty"],
  );
  return rows.map((r) => ({
    eventId: String(r["x_name"]),
    productionId: (r["x_production_id"] as [number, string])[0],
    order: (r["x_production_id"] as [number, string])[1],
    good: Number(r["x_good_qty"]),
    reject: Number(r["x_reject_qty"]),
  }));
}

/** An order's quantity in production (open) or produced (done). */
export async function producedOn(sim: OdooSimulator, id: number): Promise<number> {
  const [row] = await sim.env.read("mrp.production", [id], ["state", "qty_producing", "qty_produced"]);
  return Number(row?.["state"] === "done" ? row["qty_produced"] : row?.["qty_producing"]);
}

export interface TimedCliRun {
  /** null when killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * `threadline <args>` (bin/threadline.js over dist/) with `env` added (NATS_URL cleared unless
 * given), killed after `timeoutMs`: a command that hangs fails its test instead of the whole run.
 */
export function threadlineWithin(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<TimedCliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin/threadline.js"), ...args], {
      env: { ...process.env, NATS_URL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// ------------------------------------------------------------------ the connector service in this process

export interface Connector {
  readonly service: RunningService;
  /** Log lines so far. */
  readonly logs: string[];
  /** Errors the server sent on the service's NATS connection (permission violations, …). */
  readonly natsErrors: string[];
}

/** The service in this process, as `threadline odoo run` starts it, on its own env; stopped after the test. */
export async function startConnector(
  t: TestContext,
  sim: OdooSimulator,
  server: LocalNatsServer,
  site: string,
  env: Record<string, string> = {},
): Promise<Connector> {
  const logs: string[] = [];
  const destination = new PassThrough();
  destination.on("data", (chunk: Buffer) => logs.push(...chunk.toString().split("\n").filter(Boolean)));
  const service = await startOdooConnector(
    {
      NATS_URL: server.clientUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      SITE: site,
      ODOO_URL: sim.url,
      ODOO_DB: sim.db,
      // The integration user: exactly Manufacturing / User, what the README asks for.
      ODOO_LOGIN: sim.users.integration.login,
      ODOO_API_KEY: sim.users.integration.apiKey,
      ODOO_RATE_PER_SECOND: "500",
      SYNC_POLL_INTERVAL_MS: "300",
      DRAIN_TIMEOUT_MS: "5000",
      LOG_LEVEL: "info",
      ...env,
    },
    { logDestination: destination, handleSignals: false },
  );
  t.after(() => service.stop());
  const natsErrors: string[] = [];
  void (async () => {
    for await (const s of service.context.nc.status())
      if (s.type === "error") natsErrors.push(String(s.error?.message ?? s.error));
  })();
  return { service, logs, natsErrors };
}

/** A port nothing listens on (taken, then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ConnectorProcess {
  /** The health server, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
}

/**
 * `threadline odoo run` as a separate process on the simulator and `server` (SIGKILLed after the
 * test), ready on /readyz. The env adds to or overrides the defaults below.
 */
export async function spawnConnector(
  t: TestContext,
  sim: OdooSimulator,
  server: LocalNatsServer,
  env: Record<string, string>,
): Promise<ConnectorProcess> {
  const port = await closedPort();
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin/threadline.js"), "odoo", "run"], {
    env: {
      ...process.env,
      NATS_URL: server.clientUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(port),
      ODOO_URL: sim.url,
      ODOO_DB: sim.db,
      // The integration user: exactly Manufacturing / User, what the README asks for.
      ODOO_LOGIN: sim.users.integration.login,
      ODOO_API_KEY: sim.users.integration.apiKey,
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let output = "";
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await until(
    "the connector's /readyz 200",
    async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 30_000, detail: () => output.slice(-2_000) },
  );
  return { url, output: () => output, exited, child };
}
