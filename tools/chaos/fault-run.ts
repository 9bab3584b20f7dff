/**
 * A fault run of the whole system as separate processes, as in production: nats-server (with each
 * service's least-privilege user), the Odoo simulator, the plant simulator (OPC UA), the machine
 * bridge and the Odoo connector, each started through its CLI; with replicas (the chaos suite,
 * `--cluster`) the quality service (active/standby) and the genealogy builder too, each started from
 * its manifest's entry as its container is. While the plant runs, faults are
 * injected one after another — Odoo refusing connections, answering 503, hanging; the connector and
 * the bridge killed with SIGKILL; nats-server killed; Odoo restored from an older backup — and how
 * each was noticed and recovered from is measured. At the end the machines stop, their runs end and
 * the invariants are checked: the bridge's totals equal the plant's ground truth with continuous
 * counter ranges, no event id twice (lost postings are replayed through the connector's replay channel), each report posted once, nothing
 * dead-lettered, reconciliation exact, Odoo's orders equal to what the plant did, and the services
 * answering their probes throughout; with the quality service and the genealogy builder, the genealogy
 * complete (genealogy-check.ts), their durables consumed to the end, and never two quality replicas
 * active at once.
 *
 * `threadline chaos` (make chaos-cli) runs it with 30 s outages; test/tools/chaos.test.ts a short one.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type StreamSource } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { EventCodec, type EventPayloads, PACKAGE_ROOT } from "../../contracts/src/index.js";
import { genealogyBuilderManifest } from "../../services/genealogy-builder/src/manifest.js";
import type { BridgeConfigInput } from "../../services/machine-bridge/src/config.js";
import { machineBridgeManifest } from "../../services/machine-bridge/src/manifest.js";
import { CONNECTOR_DURABLES, odooConnectorManifest } from "../../services/odoo-connector/src/manifest.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { POSTING_MODEL } from "../../services/odoo-connector/src/odoo-setup.js";
import type { ReconcileReport } from "../../services/odoo-connector/src/reconcile/index.js";
import { qualityServiceManifest } from "../../services/quality-service/src/manifest.js";
import { tokenDigest } from "../../services/quality-service/src/users.js";
import {
  DLQ_STREAM,
  dlqSubject,
  durablePosition,
  explainPermissions,
  MasterData,
  manifestAccess,
  permissionsOf,
  readDeadLetter,
  readEvents,
  readMessages,
  readStream,
  renderAuthorization,
  renderUserConfig,
  type ServiceManifest,
} from "../../streams/src/index.js";
import {
  familyOf,
  type OrderView,
  orderAgainstPlant,
  plantTruth,
  type Unwatched,
  unseenStops,
} from "../demo/odoo-vs-plant.js";
import {
  LINE_RELEASES,
  lotFor,
  planFromMasterData,
  WORKCENTER_BY_MACHINE,
  withRejectedComponents,
} from "../demo/plant-orders.js";
import {
  getFreePort,
  type LocalNatsCluster,
  type LocalNatsServer,
  startCluster,
  startNatsServer,
} from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";
import { machineNodeIds } from "../sim/plant/addressing.js";
import { bridgeMappingFor } from "../sim/plant/bridge-mapping.js";
import { type PlantConfig, type PlantConfigInput, parsePlantConfig } from "../sim/plant/config.js";
import { DEMO_PLANT } from "../sim/plant/demo-plant.js";
import { ActiveWatch } from "./active-watch.js";
import { CLUSTER_FAULTS, type FaultKind, SINGLE_SERVER_FAULTS } from "./faults.js";
import { genealogyComplete } from "./genealogy-check.js";
import { genealogyDatabase } from "./genealogy-db.js";
import { PlantControl } from "./plant-control.js";
import { ThreadlineProcess } from "./process.js";
import { ServiceReplicas } from "./replicas.js";
import { newSeed, Seeded } from "./seeded.js";
import { unwatchedStretches } from "./unwatched.js";

export interface FaultRunOptions {
  /**
   * The chaos suite's topology: a 3-node JetStream cluster (streams R3, every route and the plant's WAN
   * link through proxies that can be cut), the plant's own leaf node with the bridge on it, and
   * `replicas` of each service. @default false: one nats-server, everything on it
   */
  readonly cluster?: boolean;
  /**
   * Replicas of each service: the connector, the bridge and, with more than one, the quality service
   * and the genealogy builder (which a lone-replica run leaves out). @default 2 on a cluster, else 1
   */
  readonly replicas?: number;
  /** Chooses the victims and the storm's timings; printed, so a run can be repeated. @default random */
  readonly seed?: number;
  /** The services' lease ttl (LEASE_TTL_MS): how long a dead owner's work waits for a standby. @default 6000 */
  readonly leaseTtlMs?: number;
  /** How long the replica storm lasts. @default 60000 */
  readonly stormMs?: number;
  /** The faults to inject. @default SINGLE_SERVER_FAULTS, or CLUSTER_FAULTS with `cluster` */
  readonly faults?: readonly FaultKind[];
  /** How long each Odoo outage lasts. @default 30000 */
  readonly outageMs?: number;
  /** Steady running before each fault, for a backlog to build and drain. @default 15000 */
  readonly settleMs?: number;
  /** How long nats-server, the connector and the bridge stay down when killed. @default 5000 */
  readonly downMs?: number;
  /**
   * How often the bridge reports each machine's counts (its `reportIntervalMs`): 6 machines every 5 s
   * is 1.2 reports a second, a plant's shift peak; the demo's 2 s (3 a second) is about what the
   * connector's default Odoo rate (50 calls/s, ~15 calls a report with the inbound sync) can post
   * at all, so a backlog would never drain. @default 5000
   */
  readonly reportIntervalMs?: number;
  /** Added to the connector's environment (e.g. a shorter breaker for a short run). @default {} */
  readonly connectorEnv?: Readonly<Record<string, string>>;
  /** Logs, configs, PKI and the NATS store. @default a new directory under the OS temp dir */
  readonly workDir?: string;
  /** Progress lines. @default stdout */
  readonly print?: (line: string) => void;
}

/** One fault: how it was noticed and how long the system took to be back. */
export interface FaultRow {
  readonly fault: string;
  /** How and when the system noticed (ms after the injection). */
  readonly noticed: string;
  /** ms from the fault's end to the next posting in Odoo (or report, for the bridge). */
  readonly backMs: number | null;
  /**
   * ms from the fault's end until the backlog was empty: the connector's, and with them in the run the
   * quality service's and the genealogy builder's durables'.
   */
  readonly drainedMs: number | null;
  readonly note: string;
}

export interface InvariantRow {
  readonly invariant: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface FaultRunResult {
  /** Run again with the same victims and timings: `threadline chaos --seed <seed>`. */
  readonly seed: number;
  readonly faults: readonly FaultRow[];
  readonly invariants: readonly InvariantRow[];
  readonly ok: boolean;
  /** Where the logs are. */
  readonly workDir: string;
}

const SITE = "plant-lyon";
const PRODUCTION_DURABLE = CONNECTOR_DURABLES.production;
const REPORTED = "mfg.production.production_reported.v1";
type Reported = EventPayloads[typeof REPORTED];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secret = () => randomBytes(20).toString("hex");

async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err; // NATS or Odoo down a moment: try again until the deadline
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    await sleep(intervalMs);
  }
}

/** nats-server users: an operator with every right, and each service's least-privilege user. */
function natsUsers(manifests: readonly ServiceManifest[]): {
  authorization: string;
  admin: { user: string; pass: string };
  services: Map<string, { user: string; pass: string }>;
} {
  const admin = { user: "operator", pass: secret() };
  // nats-server reads the passwords from its environment (quoted: it parses the value as config).
  process.env["THREADLINE_CHAOS_OPERATOR_PASSWORD"] = JSON.stringify(admin.pass);
  const entries = [`{ user: "operator", password: $THREADLINE_CHAOS_OPERATOR_PASSWORD }`];
  const services = new Map<string, { user: string; pass: string }>();
  for (const manifest of manifests) {
    const access = manifestAccess(manifest);
    const grants = explainPermissions(access, platformDeclarations());
    const pass = secret();
    process.env[`${access.service.toUpperCase().replaceAll("-", "_")}_NATS_PASSWORD`] = JSON.stringify(pass);
    entries.push(renderUserConfig(permissionsOf(grants), { user: access.service }));
    services.set(access.service, { user: access.service, pass });
  }
  return { authorization: renderAuthorization(entries), admin, services };
}

/** The demo plant, standing idle without orders until the operator starts each machine. */
function idlePlant(): PlantConfig {
  const input = structuredClone(DEMO_PLANT) as PlantConfigInput;
  for (const site of input.sites ?? [])
    for (const line of site.lines)
      for (const m of line.machines) {
        Object.assign(m, { initialState: "IDLE" });
        delete (m as { order?: string }).order;
        delete (m as { lot?: string }).lot;
      }
  return parsePlantConfig(input);
}

/** Runs a one-shot `threadline` command; throws with its output unless it exits with `expect`. */
async function runCommand(
  logDir: string,
  name: string,
  args: string[],
  env: Record<string, string>,
  expect: readonly number[] = [0],
): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = new ThreadlineProcess({ name, args, env, logDir }).start();
  const code = await p.exited();
  const [output, stdout] = [p.output(), p.stdout()];
  await p.stop();
  if (!expect.includes(code ?? -1))
    throw new Error(`threadline ${args.join(" ")} exited ${code}:\n${output.slice(-3_000)}`);
  return { code, output, stdout };
}

interface StoredReport {
  readonly id: string;
  readonly seq: number;
  readonly machine: string;
  readonly value: Reported;
}

async function storedReports(nc: NatsConnection, codec: EventCodec): Promise<StoredReport[]> {
  const out: StoredReport[] = [];
  const read = { stream: "MFG_PRODUCTION", filter: "mfg.production.production_reported.>", codec };
  for await (const e of readEvents(nc, { ...read, types: [REPORTED] }))
    out.push({ id: e.id, seq: e.streamSequence, machine: e.value.equipment.machine ?? "", value: e.value });
  return out;
}

async function subjectCount(nc: NatsConnection, stream: string, filter: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

/** A service's durables and their streams, as its manifest declares them. */
function durablesOf(manifest: ServiceManifest): { stream: string; durable: string }[] {
  return Object.entries(manifest.consumers ?? {}).map(([durable, c]) => ({ stream: c.stream, durable }));
}

/**
 * How long the durables must stay empty before the final checks: two of the connector's inbound
 * polls (SYNC_POLL_INTERVAL_MS, 5 s by default) and a pass, so what the end of the runs changed in
 * Odoo has been published and consumed.
 */
const QUIET_MS = 12_000;

/** Pending and unacknowledged over a service's durables (each as far as its slowest partition). */
async function durablesBacklog(nc: NatsConnection, manifest: ServiceManifest): Promise<number> {
  let n = 0;
  for (const { stream, durable } of durablesOf(manifest)) {
    const position = await durablePosition(nc, stream, durable);
    n += position.pending + position.ackPending;
  }
  return n;
}

/** Health probes of a service's HTTP endpoints, each given a second. */
class Prober {
  readonly #stats = new Map<
    string,
    { probes: number; unanswered: number; slowestMs: number; lagP99: number }
  >();
  readonly #down = new Set<string>();
  #running = true;
  readonly #loop: Promise<void>;

  constructor(targets: ReadonlyMap<string, () => string | undefined>) {
    this.#loop = (async () => {
      while (this.#running) {
        for (const [name, url] of targets) {
          const base = url();
          if (!base || this.#down.has(name)) continue;
          const s = this.#stats.get(name) ?? { probes: 0, unanswered: 0, slowestMs: 0, lagP99: 0 };
          this.#stats.set(name, s);
          for (const path of ["/healthz", "/metrics"]) {
            const at = Date.now();
            const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(1_000) }).catch(
              () => undefined,
            );
            if (this.#down.has(name) || !url()) break; // killed or paused meanwhile
            s.probes++;
            if (!res) {
              s.unanswered++;
              continue;
            }
            const body = await res.text();
            s.slowestMs = Math.max(s.slowestMs, Date.now() - at);
            const lag = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(body);
            if (lag) s.lagP99 = Math.max(s.lagP99, Number(lag[1]));
          }
        }
        await sleep(500);
      }
    })();
  }

  /** Not probed while deliberately down. */
  down(name: string, isDown: boolean): void {
    if (isDown) this.#down.add(name);
    else this.#down.delete(name);
  }

  async stop(): Promise<
    Map<string, { probes: number; unanswered: number; slowestMs: number; lagP99: number }>
  > {
    this.#running = false;
    await this.#loop;
    return this.#stats;
  }
}

/**
 * The plant's one OPC UA server as one endpoint per line (the same URL, each line's machines): work
 * for several bridge replicas to share, as a plant with a server per line would have.
 */
function endpointPerLine(mapping: BridgeConfigInput): BridgeConfigInput {
  return {
    ...mapping,
    endpoints: mapping.endpoints.flatMap((endpoint) => {
      const lines = [...new Set(endpoint.machines.map((m) => m.line))];
      return lines.map((line) => ({
        ...endpoint,
        id: `${endpoint.id}-${line}`,
        machines: endpoint.machines.filter((m) => m.line === line),
      }));
    }),
  };
}

/** The plant's JetStream domain, as in deploy/plant/leaf.conf and the hub's sources. */
const PLANT_DOMAIN = "plant-lyon";
const PLANT_DEPLOY = join(PACKAGE_ROOT, "deploy", "plant");

/**
 * The plant's leaf node (deploy/plant/leaf.conf: its own JetStream domain, `mfg.>` denied both ways
 * on the link) dialing the hub's nodes over the cuttable WAN proxies, as the operator user.
 */
async function startPlantLeaf(
  hub: LocalNatsCluster,
  admin: { user: string; pass: string },
  /** The hub's users: the plant's leaf has the same (the bridge's among them). */
  authorization: string,
): Promise<LocalNatsServer> {
  const conf = readFileSync(join(PLANT_DEPLOY, "leaf.conf"), "utf8");
  const deny = conf.match(/^\s*deny_(exports|imports)\s*:\s*\[[^\]]*\]/gm) ?? [];
  if (deny.length !== 2) throw new Error("deploy/plant/leaf.conf: expected deny_exports and deny_imports");
  const credentials = `${admin.user}:${encodeURIComponent(admin.pass)}@`;
  const urls = hub.leafnodeUrls.map((u) => u.replace("nats-leaf://", `nats-leaf://${credentials}`));
  const leaf = await startNatsServer({
    name: `plant-lyon-leaf-${process.pid}`,
    domain: PLANT_DOMAIN,
    extraConfig: authorization,
    leafnodeRemotes: [
      {
        url: urls[0] as string,
        extraConfig: [
          `urls: [${urls.map((u) => JSON.stringify(u)).join(", ")}]`,
          ...deny.map((d) => d.trim()),
        ].join("\n      "),
      },
    ],
  });
  await waitUntil(
    "the plant's leaf connected to the hub",
    async () => (await leaf.monitor<{ leafnodes: number }>("leafz")).leafnodes > 0,
    30_000,
  );
  return leaf;
}

/** The hub's MFG_MACHINE and MFG_PRODUCTION source the plant's (deploy/plant/hub-mfg-*.json). */
async function sourcePlantStreams(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const [stream, file] of [
    ["MFG_MACHINE", "hub-mfg-machine.json"],
    ["MFG_PRODUCTION", "hub-mfg-production.json"],
  ] as const) {
    const { sources } = JSON.parse(readFileSync(join(PLANT_DEPLOY, file), "utf8")) as {
      sources: StreamSource[];
    };
    await jsm.streams.update(stream, { sources });
  }
}

export async function runFaultRun(options: FaultRunOptions = {}): Promise<FaultRunResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const outageMs = options.outageMs ?? 30_000;
  const settleMs = options.settleMs ?? 15_000;
  const downMs = options.downMs ?? 5_000;
  const clustered = options.cluster ?? false;
  const replicas = options.replicas ?? (clustered ? 2 : 1);
  const leaseTtlMs = options.leaseTtlMs ?? 6_000;
  const stormMs = options.stormMs ?? 60_000;
  const seed = options.seed ?? newSeed();
  // A short lease only where a standby waits for it; one replica keeps the services' default (15 s),
  // so a short NATS outage does not cost it its lease (see RELIABILITY.md, "a lone replica").
  const leaseEnv: Record<string, string> =
    (options.replicas ?? (options.cluster ? 2 : 1)) > 1
      ? { LEASE_TTL_MS: String(options.leaseTtlMs ?? 6_000) }
      : {};
  const rng = new Seeded(seed);
  const work = options.workDir ?? mkdtempSync(join(tmpdir(), "threadline-fault-run-"));
  const logs = join(work, "logs");
  mkdirSync(logs, { recursive: true });
  const started = Date.now();
  const at = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
  const say = (line: string) => print(`[${at()}] ${line}`);
  const cleanup: (() => Promise<unknown>)[] = [];
  const faults: FaultRow[] = [];
  const invariants: InvariantRow[] = [];
  const check = (invariant: string, ok: boolean, detail: string) => {
    invariants.push({ invariant, ok, detail });
    say(`${ok ? "ok  " : "FAIL"} ${invariant}: ${detail}`);
  };

  try {
    say(`work directory ${work} (logs in ${logs})`);
    say(
      clustered
        ? `seed ${seed}: a 3-node cluster, the plant on its leaf node, ${replicas} replicas of each service`
        : `seed ${seed}: one nats-server, ${replicas} replica(s) of each service`,
    );
    // ---------------------------------------------------------------- NATS, streams, contracts
    // With replicas (the chaos suite) the quality service and the genealogy builder run too; a lone-
    // replica run (test/tools/chaos.test.ts) starts what it always did.
    const everyService = replicas > 1;
    const serviceManifests = [
      machineBridgeManifest,
      odooConnectorManifest,
      ...(everyService ? [qualityServiceManifest, genealogyBuilderManifest] : []),
    ];
    const users = natsUsers(serviceManifests);
    const userNames = ["operator", ...serviceManifests.map((m) => m.service)].join(", ");
    const operator = { NATS_USER: users.admin.user, NATS_PASSWORD: users.admin.pass };
    let single: LocalNatsServer | undefined;
    let hub: LocalNatsCluster | undefined;
    /** Where the plant's bridge publishes: the plant's leaf node on a cluster, else the one server. */
    let plantNats: LocalNatsServer;
    if (clustered) {
      const cluster = await startCluster({
        size: 3,
        partitionable: true,
        leafnodes: true,
        extraConfig: users.authorization,
      });
      hub = cluster;
      cleanup.push(() => cluster.dispose());
      plantNats = await startPlantLeaf(cluster, users.admin, users.authorization);
      const leaf = plantNats;
      cleanup.push(() => leaf.dispose());
    } else {
      single = await startNatsServer({ extraConfig: users.authorization });
      plantNats = single;
      const server = single;
      cleanup.push(() => server.dispose());
    }
    const natsUrl = hub ? hub.servers : plantNats.clientUrl;
    const operatorEnv = { NATS_URL: natsUrl, ...operator };
    const replicasFlag = hub ? ["--replicas", "3"] : [];
    // A cluster that has just formed may refuse an R3 placement for a moment ("peer offline"):
    // apply is idempotent, so it is applied again, as an operator would.
    for (let attempt = 1; ; attempt++) {
      try {
        await runCommand(logs, "streams-apply", ["streams", "apply", ...replicasFlag], operatorEnv);
        break;
      } catch (err) {
        if (!hub || attempt >= 5 || !/no suitable peers/.test(String(err))) throw err;
        say(`streams apply: ${/no suitable peers[^;\n]*/.exec(String(err))?.[0]}; again in 2 s`);
        await sleep(2_000);
      }
    }
    await runCommand(logs, "contracts-register", ["contracts", "register"], operatorEnv);
    if (hub) {
      // The plant's streams, registry and state on its leaf; the hub's plant streams source them.
      const leafEnv = { NATS_URL: plantNats.clientUrl, ...operator };
      await runCommand(logs, "streams-apply-plant", ["streams", "apply"], leafEnv);
      await runCommand(logs, "contracts-register-plant", ["contracts", "register"], leafEnv);
    }
    const nc = await connect({
      servers: hub ? hub.serverUrls : natsUrl,
      user: users.admin.user,
      pass: users.admin.pass,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    cleanup.push(() => nc.close());
    if (hub) await sourcePlantStreams(nc);
    const codec = new EventCodec();
    say(
      hub
        ? `hub ${natsUrl} (R3 streams), plant leaf ${plantNats.clientUrl} (domain ${PLANT_DOMAIN}) sourced by the hub: users ${userNames}`
        : `nats-server ${natsUrl}: streams applied, contracts registered; users ${userNames}`,
    );

    // ---------------------------------------------------------------- Odoo
    const odooSecrets = {
      ODOO_SIM_ADMIN_PASSWORD: secret(),
      ODOO_SIM_API_KEY: secret(),
      ODOO_SIM_INTEGRATION_PASSWORD: secret(),
      ODOO_SIM_INTEGRATION_API_KEY: secret(),
      ODOO_SIM_RESTRICTED_PASSWORD: secret(),
      ODOO_SIM_RESTRICTED_API_KEY: secret(),
      ODOO_SIM_ADMIN_TOKEN: secret(),
    };
    const odooPort = await getFreePort();
    const odooSim = new ThreadlineProcess({
      name: "sim-odoo",
      args: ["sim", "odoo", "--profile", "17", "--port", String(odooPort)],
      env: odooSecrets,
      logDir: logs,
    }).start();
    cleanup.push(() => odooSim.stop());
    const odooUrl = (await odooSim.waitFor(/listening on (http:\/\/\S+)/, 30_000))[1] as string;
    const db = (await odooSim.waitFor(/database\s+(\S+)/, 5_000))[1] as string;
    const admin = {
      ODOO_URL: odooUrl,
      ODOO_DB: db,
      ODOO_LOGIN: "admin",
      ODOO_API_KEY: odooSecrets.ODOO_SIM_API_KEY,
    };
    const integration = {
      ODOO_URL: odooUrl,
      ODOO_DB: db,
      ODOO_LOGIN: "threadline",
      ODOO_API_KEY: odooSecrets.ODOO_SIM_INTEGRATION_API_KEY,
    };
    await runCommand(logs, "odoo-setup", ["odoo", "setup"], admin);
    const odoo = await OdooClient.connect({
      url: odooUrl,
      db,
      login: "admin",
      apiKey: odooSecrets.ODOO_SIM_API_KEY,
      registry: new Registry(),
    });
    cleanup.push(() => odoo.close());
    const simAdmin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${odooUrl}${path}`, {
        method,
        headers: { "X-Sim-Token": odooSecrets.ODOO_SIM_ADMIN_TOKEN, "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    if (everyService) {
      // The quality service's shipment gate clears the delivery Odoo has waiting, and the connector
      // passes its quality check: the administrator adds the integration user to Quality / User, as
      // the connector's README says (else its quality postings are dead-lettered).
      const [group] = await odoo.searchRead<{ res_id: number }>(
        "ir.model.data",
        [
          ["module", "=", "quality"],
          ["name", "=", "group_quality_user"],
          ["model", "=", "res.groups"],
        ],
        { fields: ["res_id"] },
      );
      const [uid] = await odoo.search("res.users", [["login", "=", integration.ODOO_LOGIN]]);
      if (!group || uid === undefined)
        throw new Error("Odoo has no Quality / User group or no user threadline");
      await odoo.write("res.users", [uid], { groups_id: [[4, group.res_id]] });
    }
    say(
      `Odoo 17 simulator ${odooUrl} (database ${db}), set up for Threadline${everyService ? "; user threadline in Quality / User" : ""}`,
    );

    // ---------------------------------------------------------------- the connector
    const connectorUser = users.services.get("odoo-connector") as { user: string; pass: string };
    const connectors = await ServiceReplicas.start("odoo-connector", replicas, logs, () => ({
      args: ["odoo", "run"],
      env: {
        NATS_URL: natsUrl,
        NATS_USER: connectorUser.user,
        NATS_PASSWORD: connectorUser.pass,
        ...leaseEnv,
        ...integration,
        SITE,
        LOG_LEVEL: "info",
        WORKCENTER_BY_LINE: JSON.stringify(WORKCENTER_BY_MACHINE),
        RECONCILE_INTERVAL_MS: "10000",
        RECONCILE_WINDOW_MS: String(2 * 3_600_000),
        ...options.connectorEnv,
      },
    }));
    cleanup.push(() => connectors.stop());
    await waitUntil("the connector ready", () => connectors.ready(), 60_000);

    // ---------------------------------------------------------------- genealogy and quality
    let genealogy: ServiceReplicas | undefined;
    let quality: ServiceReplicas | undefined;
    let genealogyApi: { url: string; token: string; databaseUrl: string | undefined } | undefined;
    if (everyService) {
      // Several replicas share one graph only on PostgreSQL (genealogy-db.ts); without a server, one.
      const database = await genealogyDatabase();
      if ("why" in database) say(`genealogy builder: ${database.why}; one replica on its embedded database`);
      else cleanup.push(() => database.drop());
      const token = secret();
      const genealogyUser = users.services.get("genealogy-builder") as { user: string; pass: string };
      const g = await ServiceReplicas.start("genealogy-builder", database.url ? replicas : 1, logs, () => ({
        entry: genealogyBuilderManifest.deployment?.entry as string,
        args: [],
        env: {
          NATS_URL: natsUrl,
          NATS_USER: genealogyUser.user,
          NATS_PASSWORD: genealogyUser.pass,
          SITE,
          LOG_LEVEL: "info",
          GENEALOGY_API_TOKEN: token,
          ...(database.url
            ? { DATABASE_URL: database.url }
            : { GENEALOGY_DATA_DIR: join(work, "genealogy-db") }),
        },
      }));
      genealogy = g;
      cleanup.push(() => g.stop());
      // The quality service asks the genealogy through one address, as through a Kubernetes Service.
      const front = await g.front();
      cleanup.push(() => front.close());
      genealogyApi = { url: front.url, token, databaseUrl: database.url };
      await waitUntil("the genealogy builder ready", () => g.ready(), 90_000);
      const qualityUser = users.services.get("quality-service") as { user: string; pass: string };
      const usersFile = join(work, "quality-users.json");
      // The API's one user (a reader): the run asks it nothing, but the service needs someone to answer.
      const reader = { name: "chaos-reader", tokenSha256: tokenDigest(secret()), roles: ["read"] };
      writeFileSync(usersFile, JSON.stringify({ users: [reader] }));
      const q = await ServiceReplicas.start(
        "quality-service",
        replicas,
        logs,
        () => ({
          entry: qualityServiceManifest.deployment?.entry as string,
          args: [],
          env: {
            NATS_URL: natsUrl,
            NATS_USER: qualityUser.user,
            NATS_PASSWORD: qualityUser.pass,
            ...leaseEnv,
            SITE,
            LOG_LEVEL: "info",
            QUALITY_USERS_FILE: usersFile,
            GENEALOGY_URL: front.url,
            GENEALOGY_API_TOKEN: token,
          },
        }),
        { activeStandby: true },
      );
      quality = q;
      cleanup.push(() => q.stop());
      await waitUntil("one quality replica active", () => q.ready(), 90_000);
      say(
        `genealogy builder ${g.replicas.map((r) => r.url).join(", ")} on ${database.url ? "PostgreSQL (one graph)" : "its embedded database"}, behind ${front.url}; quality service ${q.replicas.map((r) => r.url).join(", ")} (one active, the other standby)`,
      );
    }
    /** Every service in the run. */
    const services = (): ServiceReplicas[] =>
      [connectors, bridges, quality, genealogy].filter((s): s is ServiceReplicas => s !== undefined);
    /** A replica to kill or pause: of an active/standby service the active one, else any (seeded). */
    const victimOf = async (s: ServiceReplicas) => {
      const any = rng.int(0, s.replicas.length - 1);
      return s.options.activeStandby ? ((await s.readyReplicas())[0] ?? any) : any;
    };
    /** The services with a replica to spare: those whose replicas the faults kill and pause. */
    const replicated = () => services().filter((s) => s.replicas.length > 1);
    const allReady = async () => {
      for (const s of services()) if (!(await s.ready())) return false;
      return true;
    };

    // A planner releases one order per line; the connector's inbound sync publishes them.
    const orders = new Map<string, { order: string; lot: string | null }>();
    // The products as the connector published them from Odoo: tracking, BoM components.
    const masterData = MasterData.open(nc, { kinds: ["product", "bom"], site: SITE, codec });
    const plan = await planFromMasterData(masterData).finally(() => masterData.close());
    for (const r of plan) {
      const [product] = await odoo.search("product.product", [["default_code", "=", r.product]]);
      const id = await odoo.create("mrp.production", {
        product_id: product,
        product_qty: r.quantity,
        origin: "fault run",
      });
      await odoo.call("mrp.production", "action_confirm", { ids: [id] });
      const [mo] = await odoo.read("mrp.production", [id], ["name"]);
      const ref = String(mo?.["name"]);
      orders.set(r.line, { order: ref, lot: lotFor(r, ref) });
    }
    await waitUntil(
      "the released orders as events",
      async () => {
        const released = new Set<string>();
        const read = readEvents(nc, {
          stream: "MFG_PRODUCTION",
          filter: "mfg.production.production_order_released.>",
          codec,
          types: ["mfg.production.production_order_released.v1"],
        });
        for await (const e of read) released.add(e.value.orderRef);
        return [...orders.values()].every((o) => released.has(o.order));
      },
      60_000,
    );
    say(
      `connector ${connectors.replicas.map((r) => r.url).join(", ")} as odoo-connector / Odoo user threadline; released ${[...orders].map(([l, o]) => `${o.order} on ${l}`).join(", ")}`,
    );

    // ---------------------------------------------------------------- the plant and the bridge
    const plantConfig = idlePlant();
    writeFileSync(join(work, "plant.json"), JSON.stringify(plantConfig, null, 2));
    const plantPort = await getFreePort();
    const plant = new ThreadlineProcess({
      name: "sim-plant",
      args: [
        "sim",
        "plant",
        "--config",
        join(work, "plant.json"),
        "--port",
        String(plantPort),
        "--pki",
        join(work, "pki", "plant"),
        "--report",
        join(work, "ground-truth.json"),
      ],
      env: {},
      logDir: logs,
    }).start();
    cleanup.push(() => plant.stop());
    const endpointUrl = (await plant.waitFor(/OPC UA endpoint: (opc\.tcp:\/\/\S+)/, 60_000))[1] as string;
    const bridgeUser = users.services.get("machine-bridge") as { user: string; pass: string };
    const bridges = await ServiceReplicas.start("machine-bridge", replicas, logs, (i) => {
      // Each replica its own OPC UA application certificate (a pod's PKI volume).
      const mapping = withRejectedComponents(
        bridgeMappingFor(plantConfig, endpointUrl, {
          connectorId: "machine-bridge-lyon",
          overrides: {
            pkiFolder: join(work, "pki", `bridge-${i}`),
            reportIntervalMs: options.reportIntervalMs ?? 5_000,
          },
        }),
      );
      const file = join(work, `bridge-${i}.json`);
      writeFileSync(file, JSON.stringify(replicas > 1 ? endpointPerLine(mapping) : mapping, null, 2));
      return {
        args: ["bridge", "--config", file],
        env: {
          NATS_URL: plantNats.clientUrl,
          NATS_USER: bridgeUser.user,
          NATS_PASSWORD: bridgeUser.pass,
          ...leaseEnv,
          LOG_LEVEL: "info",
        },
      };
    });
    cleanup.push(() => bridges.stop());
    const machines = plantConfig.sites.flatMap((s) =>
      s.lines.flatMap((l) =>
        l.machines.map((m) => ({
          line: l.id,
          id: m.id,
          ids: machineNodeIds(
            s.id,
            l.id,
            m.id,
            m.telemetry.map((t) => t.name),
          ),
        })),
      ),
    );
    // Every machine baselined, and with several replicas the endpoints spread first: a machine whose
    // endpoint moves before its first report is counted from the new owner's baseline on.
    const baselined = async () => {
      if ((await bridges.metricSum("threadline_bridge_machines_baselined")) !== machines.length) return false;
      if (bridges.replicas.length === 1) return true;
      for (const url of bridges.upUrls()) {
        const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
        if (Number(/^threadline_bridge_machines_baselined (\S+)$/m.exec(text)?.[1] ?? 0) === 0) return false;
      }
      return true;
    };
    await waitUntil("the bridge's baseline of every machine", baselined, 90_000, 500);
    const control = await PlantControl.connect(endpointUrl, join(work, "pki", "control"));
    cleanup.push(() => control.close());
    // The operator dispatches the orders and starts the lines.
    for (const m of machines) {
      const o = orders.get(m.line);
      await control.call(m.ids, "SetOrder", [o?.order ?? "", o?.lot ?? ""]);
      await control.call(m.ids, "Start");
    }
    say(
      `plant ${endpointUrl}: ${machines.length} machines started on their orders; bridge ${bridges.replicas.map((r) => r.url).join(", ")} as machine-bridge`,
    );

    // ---------------------------------------------------------------- faults, one after another
    const prober = new Prober(
      new Map(
        services()
          .flatMap((s) => s.replicas)
          .map((r) => [r.name, () => (r.out ? undefined : r.url)]),
      ),
    );
    const activeWatch = quality ? new ActiveWatch(quality) : undefined;
    let proberStopped = false;
    cleanup.push(async () => {
      if (!proberStopped) await Promise.all([prober.stop(), activeWatch?.stop()]);
    });
    const posted = () => subjectCount(nc, "MFG_PRODUCTION", "mfg.production.production_posted.>");
    const reported = () => subjectCount(nc, "MFG_PRODUCTION", "mfg.production.production_reported.>");
    // The plant's own stream (on its leaf): what the hub has not sourced yet is backlog too.
    const plantNc = hub
      ? await connect({
          servers: plantNats.clientUrl,
          user: users.admin.user,
          pass: users.admin.pass,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
        })
      : nc;
    if (hub) cleanup.push(() => plantNc.close());
    const reportedAtPlant = () =>
      subjectCount(plantNc, "MFG_PRODUCTION", "mfg.production.production_reported.>");
    // The production durable is partitioned: as far as its slowest partition (durablePosition). With
    // the quality service and the genealogy builder, their durables' backlog too.
    const backlog = async () => {
      const position = await durablePosition(nc, "MFG_PRODUCTION", PRODUCTION_DURABLE);
      const unsourced = hub ? Math.max(0, (await reportedAtPlant()) - (await reported())) : 0;
      let others = 0;
      if (quality) others += await durablesBacklog(nc, qualityServiceManifest);
      if (genealogy) others += await durablesBacklog(nc, genealogyBuilderManifest);
      return position.pending + position.ackPending + unsourced + others;
    };
    /**
     * ms from `since` until the next posting, then until the backlog is empty; null when it did not
     * happen within its bound (3 min back, 5 min drained) — a finding of the run, not its end.
     */
    const recovery = async (
      since: number,
      what = posted,
    ): Promise<{ backMs: number | null; drainedMs: number | null }> => {
      const before = await waitUntil("a count", what, 60_000);
      const back = await waitUntil("work resuming", async () => (await what()) > before, 180_000, 100).then(
        () => Date.now() - since,
        () => null,
      );
      const drained = await waitUntil(
        "the backlog drained",
        async () => (await backlog()) === 0,
        300_000,
        250,
      ).then(
        () => Date.now() - since,
        () => null,
      );
      return { backMs: back, drainedMs: drained };
    };
    const steady = async () => {
      await sleep(settleMs);
      await waitUntil("postings flowing", async () => (await posted()) > 0, 120_000);
    };
    /** When each fault was injected (wall clock): where the stretches no bridge watched begin. */
    const injections: number[] = [];
    const inject = () => {
      injections.push(Date.now());
      return Date.now();
    };
    const record = (row: FaultRow) => {
      faults.push(row);
      say(
        `${row.fault}: ${row.noticed}; back to work after ${row.backMs ?? "-"} ms, backlog drained after ${row.drainedMs ?? "-"} ms${row.note ? ` (${row.note})` : ""}`,
      );
    };
    const exitedNote = () => {
      const exited = services().flatMap((s) => s.exited());
      return exited.length > 0 ? `EXITED: ${exited.join(", ")}` : "every replica running";
    };
    /** The node leading a stream (its cluster leader), by index. */
    const leaderOf = async (stream: string) => {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      return hub?.nodes.findIndex((n) => n.name === info.cluster?.leader) ?? -1;
    };
    /** ms until the stream has a leader other than `old` (a new one elected). */
    const newLeaderAfter = (stream: string, old: number, since: number) =>
      waitUntil(
        `a new ${stream} leader`,
        async () => {
          const now = await leaderOf(stream);
          return now >= 0 && now !== old;
        },
        60_000,
        100,
      ).then(
        () => `${stream} leader re-elected after ${Date.now() - since} ms`,
        () => `${stream} leader NOT re-elected within 60 s`,
      );
    const enabled = new Set<FaultKind>(options.faults ?? (hub ? CLUSTER_FAULTS : SINGLE_SERVER_FAULTS));
    const wanted = (fault: FaultKind) => enabled.has(fault);

    await steady();
    say(`steady: ${await reported()} reports, ${await posted()} postings`);

    // Odoo outages: the connector must notice (its breaker opens: /readyz 503), never spin, and be
    // back within seconds of Odoo's return.
    for (const mode of ["refuse", "503", "hang"] as const) {
      if (!wanted(`odoo-${mode}`)) continue;
      const injected = inject();
      let rule: string | undefined;
      if (mode === "hang")
        rule = String((await simAdmin("POST", "/__sim/faults", { kind: "timeout" }))["id"]);
      else await simAdmin("POST", "/__sim/faults", { outage: { mode, durationMs: outageMs } });
      let noticedMs: number | null = null;
      while (Date.now() - injected < outageMs) {
        if (noticedMs === null && (await connectors.someAnswers(503))) noticedMs = Date.now() - injected;
        await sleep(200);
      }
      if (rule) await simAdmin("DELETE", `/__sim/faults/${rule}`);
      const r = await recovery(Date.now());
      const label = { refuse: "refuses connections", "503": "answers 503", hang: "hangs (no answer)" }[mode];
      record({
        fault: `Odoo ${label} for ${outageMs / 1000} s`,
        noticed:
          noticedMs === null ? "not within the outage" : `breaker open, /readyz 503 after ${noticedMs} ms`,
        ...r,
        note: exitedNote(),
      });
      await steady();
    }

    // A whole service killed (every replica: kill -9), down a while, started again by "the supervisor".
    for (const [service, what] of [
      [connectors, posted],
      [bridges, reported],
    ] as const) {
      const bridge = service === bridges;
      if (!wanted(bridge ? "bridge-kill" : "connector-kill")) continue;
      inject();
      for (let i = 0; i < service.replicas.length; i++) await service.kill(i);
      await sleep(downMs);
      await Promise.all(service.replicas.map((_, i) => service.restart(i)));
      const restarted = Date.now();
      await waitUntil(`${service.service} ready again`, () => service.ready(), 90_000);
      const readyMs = Date.now() - restarted;
      record({
        fault: `${service.service} killed (SIGKILL), restarted after ${downMs / 1000} s`,
        noticed: `ready ${readyMs} ms after its restart`,
        ...(await recovery(restarted, what)),
        note: bridge ? "the plant kept counting while it was down" : "killed mid-backlog",
      });
      await steady();
    }

    // The only nats-server crashes (kill -9) and comes back on the same port and storage.
    if (wanted("nats-crash") && single) {
      await single.kill();
      const injected = inject();
      await sleep(downMs);
      const connectorNoticed = await connectors.someAnswers(503);
      await single.start();
      const back = Date.now();
      await waitUntil("every service ready", allReady, 90_000);
      record({
        fault: `nats-server killed (SIGKILL), back after ${downMs / 1000} s`,
        noticed: connectorNoticed
          ? `connector /readyz 503 while down (${back - injected} ms)`
          : "connector stayed ready",
        ...(await recovery(back)),
        note: "same port and JetStream store",
      });
      await steady();
    }

    // A cluster node crashes: the one leading MFG_PRODUCTION (the hardest), then another one.
    for (const fault of ["leader-kill", "node-kill"] as const) {
      if (!wanted(fault) || !hub) continue;
      const leader = await leaderOf("MFG_PRODUCTION");
      const victim = fault === "leader-kill" ? leader : rng.pick([0, 1, 2].filter((i) => i !== leader));
      const injected = inject();
      await hub.kill(victim);
      const noticed = fault === "leader-kill" ? await newLeaderAfter("MFG_PRODUCTION", leader, injected) : "";
      await sleep(Math.max(0, downMs - (Date.now() - injected)));
      await hub.start(victim);
      const back = Date.now();
      record({
        fault: `${fault === "leader-kill" ? "the MFG_PRODUCTION leader" : "a follower node"} (node ${victim + 1}) killed (SIGKILL), restarted after ${downMs / 1000} s`,
        noticed: noticed || `cluster whole again ${back - injected} ms after the kill`,
        ...(await recovery(injected)),
        note: exitedNote(),
      });
      await steady();
    }

    // A node cut off from the other two (its clients stay connected to it) for an outage.
    if (wanted("node-partition") && hub) {
      const victim = rng.int(0, 2);
      const wasLeader = (await leaderOf("MFG_PRODUCTION")) === victim;
      const injected = inject();
      hub.partition(victim);
      const noticed = wasLeader
        ? await newLeaderAfter("MFG_PRODUCTION", victim, injected)
        : "a follower: the majority kept its leader";
      await sleep(Math.max(0, outageMs - (Date.now() - injected)));
      hub.heal(victim);
      await hub.waitForMetaLeader(60_000);
      record({
        fault: `node ${victim + 1}${wasLeader ? " (the MFG_PRODUCTION leader)" : ""} partitioned from the others for ${outageMs / 1000} s`,
        noticed,
        ...(await recovery(injected)),
        note: exitedNote(),
      });
      await steady();
    }

    // The plant's WAN link cut: the bridge keeps publishing to the plant's leaf, the hub catches up.
    if (wanted("wan-cut") && hub) {
      const atCut = await reported();
      hub.cutLeafLinks();
      const injected = inject();
      await sleep(outageMs);
      const plantSide = (await reportedAtPlant()) - atCut;
      const hubSide = (await reported()) - atCut;
      hub.restoreLeafLinks();
      const restored = Date.now();
      const caughtUp = await waitUntil(
        "the hub caught up with the plant",
        async () => (await reported()) >= (await reportedAtPlant()),
        180_000,
        250,
      ).then(
        () => Date.now() - restored,
        () => null,
      );
      record({
        fault: `the plant's WAN link cut for ${outageMs / 1000} s`,
        noticed: `${plantSide} reports kept at the plant, ${hubSide} reached the hub while cut; hub caught up ${caughtUp ?? "NEVER"} ms after the link's return`,
        ...(await recovery(injected, reported)),
        note: exitedNote(),
      });
      await steady();
    }

    // One replica of each service killed, then one paused (SIGSTOP) past its lease and continued: the
    // standbys take the work over within the lease's ttl; a woken owner believes nothing happened and
    // must write nothing.
    for (const how of ["kill", "pause"] as const) {
      if (!wanted(`replica-${how}`) || replicas < 2) continue;
      const victims: (readonly [ServiceReplicas, number])[] = [];
      for (const s of replicated()) victims.push([s, await victimOf(s)]);
      const names = victims.map(([s, i]) => s.replica(i).name).join(", ");
      const outMs = how === "kill" ? downMs : 2 * leaseTtlMs;
      const injected = inject();
      for (const [s, i] of victims) await (how === "kill" ? s.kill(i) : s.pause(i));
      const r = await recovery(injected);
      await sleep(Math.max(0, outMs - (Date.now() - injected)));
      await Promise.all(victims.map(([s, i]) => (how === "kill" ? s.restart(i) : s.resume(i))));
      record({
        fault:
          how === "kill"
            ? `one replica of each service killed (${names}), restarted after ${outMs / 1000} s`
            : `one replica of each service paused (SIGSTOP) for ${outMs / 1000} s, then continued (${names})`,
        noticed: `lease ttl ${leaseTtlMs} ms: the standbys take the work over${how === "pause" ? "; the woken owners are fenced" : ""}`,
        ...r,
        note: exitedNote(),
      });
      await waitUntil("every replica ready", allReady, 90_000);
      await steady();
    }

    // Replicas killed and paused over and over, at seeded moments, several services at once; at most
    // one replica of a service out at a time (with two replicas, one always works).
    if (wanted("replica-storm") && replicas > 1) {
      const injected = inject();
      const events: string[] = [];
      const out = new Map<ServiceReplicas, Promise<void>>();
      while (Date.now() - injected < stormMs) {
        await sleep(rng.int(1_000, 4_000));
        const s = rng.pick(replicated());
        if (out.has(s)) continue;
        const i = rng.int(0, s.replicas.length - 1);
        const kill = rng.next() < 0.5;
        const forMs = rng.int(leaseTtlMs / 2, 2 * leaseTtlMs);
        events.push(`${kill ? "kill" : "pause"} ${s.replica(i).name} ${(forMs / 1000).toFixed(1)} s`);
        out.set(
          s,
          (async () => {
            inject();
            if (kill) await s.kill(i);
            else await s.pause(i);
            await sleep(forMs);
            if (kill) await s.restart(i);
            else await s.resume(i);
            await waitUntil(`${s.replica(i).name} ready`, () => s.ready(), 90_000).catch(() => undefined);
          })().finally(() => out.delete(s)),
        );
      }
      await Promise.all(out.values());
      record({
        fault: `replica storm for ${stormMs / 1000} s: ${events.length} kills and pauses`,
        noticed: events.join("; "),
        ...(await recovery(Date.now())),
        note: exitedNote(),
      });
      await steady();
    }

    // Odoo restored from an older backup: the postings made since are gone from Odoo; reconciliation
    // must name them (not count them as posted), and replaying them repairs it.
    let lostFound = 0;
    /** Per machine, the stretches no bridge watched it (filled with the invariants). */
    let unwatched = new Map<string, Unwatched[]>();
    let lostRepaired = false;
    if (wanted("odoo-restore")) {
      const snapshot = String((await simAdmin("POST", "/__sim/snapshots"))["id"]);
      const backupAt = new Date();
      const postedAtBackup = await posted();
      await sleep(settleMs);
      // Postings under way at the backup may have written Odoo before it and announced after it: wait
      // for more than the connector can have in flight (ODOO_CONCURRENCY, 4 by default).
      const inFlight = Number(options.connectorEnv?.["ODOO_CONCURRENCY"] ?? 4) * replicas;
      await waitUntil(
        "postings after the backup",
        async () => (await posted()) > postedAtBackup + inFlight,
        120_000,
      );
      // Odoo is down while its database is restored (503 for downMs), as a real restore stops it;
      // the operator reconciles once it is back.
      const downMs = 2_000;
      await simAdmin("POST", `/__sim/snapshots/${snapshot}/restore`, { downMs });
      const restored = Date.now();
      await sleep(downMs);
      // As an operator would: reconcile once the postings under way at the restore are settled (one
      // whose write Odoo lost may only be announced after Odoo is back; reconciling before it would
      // not name it yet).
      await waitUntil(
        "the connector caught up after the restore",
        async () => (await backlog()) === 0,
        120_000,
        250,
      ).catch(() => undefined);
      const reconcileArgs = () => [
        "odoo",
        "reconcile",
        "--since",
        "2h",
        "--until",
        new Date(Date.now() + 600_000).toISOString(),
        "--json",
      ];
      const env = {
        ...operatorEnv,
        ...integration,
        WORKCENTER_BY_LINE: JSON.stringify(WORKCENTER_BY_MACHINE),
      };
      // As an operator does: a reconciliation that fails (exit 1 without its report: it could not read
      // a stream a moment after a storm) is run again.
      const reconcileReport = async () => {
        for (let attempt = 1; ; attempt++) {
          const done = await runCommand(logs, "odoo-reconcile", reconcileArgs(), env, [0, 1]);
          if (done.stdout.trim())
            return { code: done.code, report: JSON.parse(done.stdout) as ReconcileReport };
          if (attempt >= 3)
            throw new Error(
              `threadline odoo reconcile failed ${attempt} times:\n${done.output.slice(-2_000)}`,
            );
          say(`odoo reconcile failed (${done.output.trim().split("\n")[0]}); again in 2 s`);
          await sleep(2_000);
        }
      };
      const { code: reconcileCode, report } = await reconcileReport();
      const lost = report.orders.flatMap((o) =>
        o.findings.filter((f) => f.kind === "lost" || f.kind === "incomplete").flatMap((f) => f.events ?? []),
      );
      lostFound = lost.length;
      const noticedMs = Date.now() - restored;
      // The runbook's repair (README, "Odoo was restored from a backup"): the window since the backup
      // replayed to the connector through its replay channel — never published again on the live
      // subjects, where a copy of an old report would be a machine's last report to the bridge.
      const replayed = await runCommand(
        logs,
        "replay",
        [
          "replay",
          "--to",
          PRODUCTION_DURABLE,
          "--type",
          REPORTED,
          "--since",
          new Date(backupAt.getTime() - 60_000).toISOString(),
          "--wait",
          "120",
          "--json",
        ],
        operatorEnv,
      );
      const replay = JSON.parse(replayed.stdout) as {
        sentTotal: number;
        handled?: number;
        deadLettered: number;
      };
      const r = await recovery(Date.now());
      const { report: again } = await reconcileReport();
      lostRepaired = again.orders.every((o) =>
        o.findings.every((f) => f.kind !== "lost" && f.kind !== "incomplete"),
      );
      faults.push({
        fault: "Odoo restored from a backup taken earlier",
        noticed: `threadline odoo reconcile: ${lost.length} lost postings named (exit ${reconcileCode}), ${noticedMs} ms`,
        backMs: r.backMs,
        drainedMs: r.drainedMs,
        note: `${replay.sentTotal} reports since the backup replayed (${replay.handled ?? 0} handled, ${replay.deadLettered} dead-lettered); afterwards ${lostRepaired ? "nothing lost" : "STILL LOST"}`,
      });
      say(
        `Odoo restored: ${lost.length} lost postings found, replayed, ${lostRepaired ? "repaired" : "NOT repaired"}`,
      );
      await steady();
    }

    // Several at once: a node crashes while Odoo answers 503, a connector replica is killed and a
    // bridge replica freezes; all come back together.
    if (wanted("combined") && hub && replicas > 1) {
      const node = rng.int(0, 2);
      const connector = rng.int(0, connectors.replicas.length - 1);
      const bridge = rng.int(0, bridges.replicas.length - 1);
      // The active quality replica killed, a genealogy replica paused (where each has one to spare).
      const qualityVictim = quality && quality.replicas.length > 1 ? await victimOf(quality) : undefined;
      const genealogyVictim =
        genealogy && genealogy.replicas.length > 1 ? rng.int(0, genealogy.replicas.length - 1) : undefined;
      const injected = inject();
      await simAdmin("POST", "/__sim/faults", { outage: { mode: "503", durationMs: outageMs } });
      await hub.kill(node);
      await connectors.kill(connector);
      await bridges.pause(bridge);
      if (quality && qualityVictim !== undefined) await quality.kill(qualityVictim);
      if (genealogy && genealogyVictim !== undefined) await genealogy.pause(genealogyVictim);
      let noticedMs: number | null = null;
      while (Date.now() - injected < outageMs) {
        if (noticedMs === null && (await connectors.someAnswers(503))) noticedMs = Date.now() - injected;
        await sleep(200);
      }
      await hub.start(node);
      await connectors.restart(connector);
      await bridges.resume(bridge);
      if (quality && qualityVictim !== undefined) await quality.restart(qualityVictim);
      if (genealogy && genealogyVictim !== undefined) await genealogy.resume(genealogyVictim);
      const also = [
        ...(quality && qualityVictim !== undefined ? [`${quality.replica(qualityVictim).name} killed`] : []),
        ...(genealogy && genealogyVictim !== undefined
          ? [`${genealogy.replica(genealogyVictim).name} paused`]
          : []),
      ];
      record({
        fault: `at once for ${outageMs / 1000} s: node ${node + 1} killed, Odoo answering 503, ${connectors.replica(connector).name} killed, ${bridges.replica(bridge).name} paused${also.map((a) => `, ${a}`).join("")}`,
        noticed:
          noticedMs === null
            ? "breaker NOT open within the outage"
            : `breaker open, /readyz 503 after ${noticedMs} ms`,
        ...(await recovery(Date.now())),
        note: exitedNote(),
      });
      await waitUntil("every replica ready", allReady, 90_000);
      await steady();
    }

    // ---------------------------------------------------------------- end of the shift
    for (const m of machines) await control.stopMachine(m.ids);
    say("the machines are stopped");
    const bridged = async () => {
      const totals = new Map<string, { good: number; reject: number }>();
      const seen = new Set<string>();
      for (const r of await storedReports(nc, codec)) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        const t = totals.get(r.machine) ?? { good: 0, reject: 0 };
        t.good += Number(r.value.goodQuantity.value);
        t.reject += Number(r.value.rejectQuantity.value);
        totals.set(r.machine, t);
      }
      return totals;
    };
    let truth = await control.groundTruth();
    const matches = async () => {
      truth = await control.groundTruth();
      const totals = await bridged();
      return Object.values(truth.machines).every(
        (m) => totals.get(m.id)?.good === m.good && totals.get(m.id)?.reject === m.reject,
      );
    };
    await waitUntil("the bridged totals to reach the plant's", matches, 60_000, 1_000).catch(() => undefined);
    const totals = await bridged();
    for (const m of Object.values(truth.machines)) {
      const t = totals.get(m.id) ?? { good: 0, reject: 0 };
      check(
        `bridged totals = ground truth (${m.id})`,
        t.good === m.good && t.reject === m.reject,
        `good ${t.good}/${m.good}, reject ${t.reject}/${m.reject}`,
      );
    }
    // Every machine leaves its order: the counting points end their runs, the connector closes them.
    for (const m of machines) await control.call(m.ids, "SetOrder", ["", ""]);
    // Bounded, and a finding when not met (a run end dead-lettered leaves its order open): the
    // invariants below say what happened instead of the run timing out.
    const closed = await waitUntil(
      "both orders closed in Odoo",
      async () => {
        for (const o of orders.values())
          if (!(await familyOf(odoo, o.order)).some((f) => f.state === "done")) return false;
        return true;
      },
      90_000,
      1_000,
    ).then(
      () => true,
      () => false,
    );
    // The genealogy builder's and the quality service's durables too, with them in the run: what a
    // killed replica held comes back after their ack wait (30 s). Drained and quiet: closing the
    // orders makes Odoo changes that the connector's inbound sync publishes at its next poll (5 s by
    // default), after a first empty look at the durables (a run failed on that: 2 and 8 events of
    // the closed orders pending a second after it).
    let emptySince: number | undefined;
    await waitUntil(
      "the backlog drained and quiet",
      async () => {
        if ((await backlog()) !== 0) emptySince = undefined;
        else emptySince ??= Date.now();
        return emptySince !== undefined && Date.now() - emptySince >= QUIET_MS;
      },
      (everyService ? 120_000 : 60_000) + QUIET_MS,
    ).catch(() => undefined);
    say(
      closed
        ? "the runs ended; both orders closed in Odoo"
        : "the runs ended; an order is STILL OPEN in Odoo",
    );
    check(
      "every order closed when its run ended",
      closed,
      closed ? `${orders.size} orders done` : "see the dead letters",
    );
    const probes = await prober.stop();
    const actives = await activeWatch?.stop();
    proberStopped = true;

    // ---------------------------------------------------------------- invariants
    check(
      "back to work and backlog drained after every fault",
      faults.every((f) => f.backMs !== null && f.drainedMs !== null),
      faults
        .filter((f) => f.backMs === null || f.drainedMs === null)
        .map(
          (f) =>
            `${f.fault}: ${f.backMs === null ? "never back within 3 min" : "backlog not drained within 5 min"}`,
        )
        .join("; ") || `${faults.length} faults`,
    );
    const reports = await storedReports(nc, codec);
    const byId = new Map<string, number>();
    for (const r of reports) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
    const twice = [...byId].filter(([, n]) => n > 1).map(([id]) => id);
    check(
      "no report stored twice",
      twice.length === 0,
      `${reports.length} stored, ${byId.size} distinct, ${twice.length} twice${twice.length ? `: ${twice.slice(0, 5).join(", ")}` : ""}`,
    );
    const machineIds = new Map<string, number>();
    await readStream(nc, { stream: "MFG_MACHINE", headersOnly: true }, (m) => {
      const id = m.headers?.get("ce-id") ?? "";
      machineIds.set(id, (machineIds.get(id) ?? 0) + 1);
    });
    const machineTwice = [...machineIds.values()].filter((n) => n > 1).length;
    check(
      "no machine event stored twice",
      machineTwice === 0,
      `${machineIds.size} events, ${machineTwice} twice`,
    );
    const gaps: string[] = [];
    const last = new Map<string, bigint>();
    const once = new Set<string>();
    for (const r of reports) {
      if (once.has(r.id)) continue;
      once.add(r.id);
      const from = BigInt(r.value.goodCounterFrom ?? 0);
      const prev = last.get(r.machine);
      if (prev !== undefined && prev !== from) gaps.push(`${r.machine} ${prev} -> ${from} (seq ${r.seq})`);
      last.set(r.machine, BigInt(r.value.goodCounterTo ?? 0));
    }
    check(
      "counter ranges continuous",
      gaps.length === 0,
      gaps.length === 0 ? `${machines.length} machines` : gaps.slice(0, 5).join("; "),
    );
    const ran = new Map<string, number>();
    const counted = new Set<string>();
    for (const r of reports) {
      if (counted.has(r.id)) continue;
      counted.add(r.id);
      const ms = r.value.running.reduce((n, p) => n + (p.endedAt.getTime() - p.startedAt.getTime()), 0);
      ran.set(r.machine, (ran.get(r.machine) ?? 0) + ms);
    }
    {
      const t = await control.groundTruth();
      unwatched = await unwatchedStretches(nc, codec, {
        injectedAt: injections,
        plantOffsetMs: Date.now() - t.now,
      });
      const plantRan = plantTruth(t.machines, t.now, unwatched);
      const blindStops = unseenStops(t.machines, unwatched);
      const off = [...plantRan.machines]
        .map(([id, m]) => ({ id, plant: m.runningMinutes * 60, bridged: (ran.get(id) ?? 0) / 1000 }))
        .filter((x) => Math.abs(x.plant - x.bridged) > 1);
      check(
        "running time bridged = the plant's (within 1 s per machine)",
        off.length === 0,
        (off.length === 0
          ? `${plantRan.machines.size} machines`
          : off.map((x) => `${x.id} ${x.bridged.toFixed(1)} s of ${x.plant.toFixed(1)} s`).join("; ")) +
          (blindStops.length > 0
            ? `; counted as running, as no observer could see them: ${blindStops.join(", ")}`
            : ""),
      );
    }
    const postings = await odoo.searchRead(POSTING_MODEL, [], { fields: ["x_name"] });
    const postingIds = new Map<string, number>();
    for (const p of postings)
      postingIds.set(String(p["x_name"]), (postingIds.get(String(p["x_name"])) ?? 0) + 1);
    const postedTwice = [...postingIds.values()].filter((n) => n > 1).length;
    check(
      "each report posted in Odoo once",
      postedTwice === 0,
      `${postings.length} posting records, ${postedTwice} event ids twice`,
    );
    const deadLetters: string[] = [];
    for await (const m of readMessages(nc, { stream: DLQ_STREAM, headersOnly: true })) {
      const d = readDeadLetter(m);
      deadLetters.push(
        `${d.consumer}: ${d.code} ${d.message} (${d.stream} #${d.sequence ?? "-"}, ${d.subject})`,
      );
    }
    check(
      "nothing dead-lettered",
      deadLetters.length === 0,
      `${deadLetters.length} dead letters${deadLetters.length > 0 ? `: ${deadLetters.slice(0, 3).join("; ")}` : ""}`,
    );
    for (const [s, manifest] of [
      [quality, qualityServiceManifest],
      [genealogy, genealogyBuilderManifest],
    ] as const) {
      if (!s) continue;
      const durables = durablesOf(manifest);
      let dead = 0;
      for (const { stream, durable } of durables)
        dead += await subjectCount(nc, DLQ_STREAM, dlqSubject(stream, durable));
      const left = await durablesBacklog(nc, manifest);
      check(
        `${manifest.service} consumed everything`,
        left === 0 && dead === 0,
        `${durables.length} durables (${durables.map((d) => d.stream).join(", ")}): ${left} pending or unacknowledged, ${dead} dead-lettered`,
      );
    }
    if (actives)
      check(
        "quality-service: never two replicas active at once",
        actives.twoActive.length === 0,
        `/readyz of the replicas up, asked together every 0.5 s: ${actives.rounds} rounds, ${actives.oneActive} with one active, ${actives.noActive} with none (take-overs), ${actives.twoActive.length} with two${
          actives.twoActive.length
            ? ` (at ${actives.twoActive
                .slice(0, 5)
                .map((ms) => `${(ms / 1000).toFixed(1)} s`)
                .join(", ")})`
            : ""
        }`,
      );
    if (genealogyApi)
      for (const row of await genealogyComplete(nc, codec, genealogyApi))
        check(row.invariant, row.ok, row.detail);
    const env = { ...operatorEnv, ...integration, WORKCENTER_BY_LINE: JSON.stringify(WORKCENTER_BY_MACHINE) };
    const final = await runCommand(
      logs,
      "odoo-reconcile",
      ["odoo", "reconcile", "--since", "2h", "--until", new Date(Date.now() + 600_000).toISOString()],
      env,
      [0, 1],
    );
    check(
      "reconciliation exact (threadline odoo reconcile)",
      final.code === 0,
      final.stdout.trim().split("\n").slice(-8).join(" | "),
    );
    if (wanted("odoo-restore"))
      check(
        "lost postings found and repaired",
        lostFound > 0 && lostRepaired,
        `${lostFound} found, ${lostRepaired ? "repaired" : "not repaired"}`,
      );
    truth = await control.groundTruth();
    const plantSide = plantTruth(truth.machines, truth.now, unwatched);
    for (const r of LINE_RELEASES) {
      const o = orders.get(r.line);
      if (!o) continue;
      const views: OrderView[] = await orderAgainstPlant(
        odoo,
        { ref: o.order, countingPoint: r.countingPoint, componentScrap: r.componentScrap },
        plantSide,
      );
      const done = views.filter((v) => v.state === "done");
      const counted = done.flatMap((v) => v.checks);
      check(
        `Odoo = the plant (${o.order}, ${r.line})`,
        done.length === 1 && counted.every((c) => c.ok),
        done
          .flatMap((v) => v.checks)
          .map((c) => `${c.what} ${c.odoo} [${c.plant}]${c.ok ? "" : " MISMATCH"}`)
          .join("; "),
      );
    }
    const pausedOnPurpose = new Set(
      services()
        .flatMap((s) => s.replicas)
        .filter((r) => r.paused)
        .map((r) => r.name),
    );
    for (const [name, s] of probes) {
      // A SIGSTOPped process's event-loop delay includes the pause: only its answers are judged.
      const paused = pausedOnPurpose.has(name);
      check(
        `${name} answered its probes`,
        s.unanswered === 0 && (paused || s.lagP99 < 0.5),
        `${s.probes} probes, ${s.unanswered} unanswered, slowest ${s.slowestMs} ms, event-loop p99 max ${s.lagP99.toFixed(3)} s${paused ? " (paused on purpose: lag not judged)" : ""}`,
      );
    }
    const calls = (await simAdmin("GET", "/__sim/calls")) as unknown as unknown[];
    say(
      `Odoo served ${calls.length} calls for ${byId.size} reports (${(calls.length / Math.max(1, byId.size)).toFixed(1)} per report, inbound sync and reconciliation included)`,
    );
    const ok = invariants.every((i) => i.ok);
    printTables(faults, invariants, print);
    say(`${ok ? "every invariant holds" : "INVARIANTS BROKEN"}; logs in ${logs}`);
    say(`seed ${seed}: run it again with --seed ${seed}`);
    return { seed, faults, invariants, ok, workDir: work };
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

function printTables(
  faults: readonly FaultRow[],
  invariants: readonly InvariantRow[],
  print: (line: string) => void,
): void {
  const ms = (n: number | null) => (n === null ? "-" : `${(n / 1000).toFixed(1)} s`);
  print("");
  print("| fault | noticed | back to work | backlog drained | note |");
  print("|---|---|---|---|---|");
  for (const f of faults)
    print(`| ${f.fault} | ${f.noticed} | ${ms(f.backMs)} | ${ms(f.drainedMs)} | ${f.note} |`);
  print("");
  print("| invariant | holds | detail |");
  print("|---|---|---|");
  for (const i of invariants)
    print(`| ${i.invariant} | ${i.ok ? "yes" : "**NO**"} | ${i.detail.replaceAll("|", "/")} |`);
  print("");
}
