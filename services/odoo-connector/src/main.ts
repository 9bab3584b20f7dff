/**
 * The Odoo connector as a service: inbound sync (Odoo changes → events), outbound postings (shop-floor
 * events → Odoo, exactly once in effect), the webhook trigger route, periodic reconciliation.
 *
 * `ODOO_URL=... ODOO_DB=... ODOO_LOGIN=... ODOO_API_KEY=... node dist/services/odoo-connector/src/main.js`
 * (or `npx threadline odoo run`); every setting in ./config.ts. A wrong URL, database or key stops
 * the start with a message saying which.
 */

import { hostname } from "node:os";
import { Kvm } from "@nats-io/kv";
import type { Registry } from "prom-client";
import {
  ConfigError,
  Lease,
  type Logger,
  MasterData,
  type RunningService,
  runService,
  startOrExit,
} from "../../../streams/src/index.js";
import { OdooConnectorConfig, odooClientOptions } from "./config.js";
import { EquipmentMap } from "./equipment.js";
import { INBOUND_DEFAULTS, InboundSync, registerOdooWebhook } from "./inbound/index.js";
import { odooConnectorManifest } from "./manifest.js";
import { MasterDataWatch } from "./masterdata/index.js";
import { OdooClient } from "./odoo/client.js";
import { checkOdooSetup } from "./odoo-setup.js";
import { outboundParts } from "./outbound/index.js";
import { startShiftSchedule } from "./outbound/shifts.js";
import { type ReconcileOptions, reconcile, recordDrift } from "./reconcile/index.js";
import { MasterDataReference } from "./reference/index.js";

/** KV bucket of cursors, order snapshots and waiting dead letters (declared in streams/src/declarations.ts). */
const STATE_BUCKET = "THREADLINE_CONNECTOR_STATE";

export async function startOdooConnector(
  env: Record<string, string | undefined> = process.env,
  options: { logDestination?: NodeJS.WritableStream; handleSignals?: boolean } = {},
): Promise<RunningService> {
  // Built by setup; the webhook route exists (and the port is bound) before it is.
  let inbound: InboundSync | undefined;
  return runService({
    manifest: odooConnectorManifest,
    configSchema: OdooConnectorConfig,
    env,
    ...options,
    routes: (app, { config, logger }) => {
      if (config.WEBHOOK_TOKEN)
        registerOdooWebhook(app, {
          token: config.WEBHOOK_TOKEN,
          // While starting, a webhook is ignored: the first pass of every model is on its way anyway.
          sync: { trigger: (model) => inbound?.trigger(model) ?? [] },
          logger,
        });
    },
    setup: async ({ config, nc, js, codec, publisher, logger, metrics }) => {
      if (config.CLOSE_POLICY === "shift" && !config.CLOSE_SHIFTS)
        throw new ConfigError(
          "CLOSE_SHIFTS",
          "is required with CLOSE_POLICY=shift (e.g. 06:00,14:00,22:00, UTC)",
        );
      const client = await OdooClient.connect({ ...odooClientOptions(config), logger, registry: metrics });
      try {
        // Refuse to post into an Odoo that cannot remember what was applied (odoo-setup.ts).
        for (const note of await checkOdooSetup(client)) logger.warn({ odoo: config.ODOO_URL }, note);
      } catch (err) {
        await client.close();
        throw err;
      }
      const equipment = new EquipmentMap(config.WORKCENTER_BY_LINE, config.LINE_BY_WORKCENTER);
      logger.info(
        {
          odoo: config.ODOO_URL,
          db: config.ODOO_DB,
          version: client.version.serverVersion,
          protocol: client.protocol,
        },
        "connected to Odoo",
      );
      const kv = await new Kvm(nc).open(STATE_BUCKET);
      // Unique per process: a copy restarted after a crash waits out its predecessor's ttl like any
      // standby (a shared name would let two copies both believe they own a lease or a partition).
      const holder = `${env["HOSTNAME"] || hostname()}:${process.pid}`;
      const sync = new InboundSync({
        client,
        publisher,
        js,
        kv,
        db: config.ODOO_DB,
        site: config.SITE,
        lineByWorkcenter: equipment.lineByWorkcenter(),
        pollIntervalMs: config.SYNC_POLL_INTERVAL_MS,
        referencePollIntervalMs: config.MASTERDATA_POLL_INTERVAL_MS,
        // A failing model backs off up to a minute, or one poll interval when that is longer.
        maxBackoffMs: Math.max(INBOUND_DEFAULTS.maxBackoffMs, config.SYNC_POLL_INTERVAL_MS),
        overlapMs: config.SYNC_OVERLAP_MS,
        logger,
        registry: metrics,
      });
      // The postings read units and products from the master data the sync publishes, not from Odoo;
      // a key it does not hold yet (created in Odoo since the last master-data poll) re-reads that
      // model at once (reference/masterdata.ts).
      const masterData = MasterData.open(nc, {
        kinds: ["unit", "product"],
        site: config.SITE,
        codec,
        logger,
        cleanup: "expire",
      });
      try {
        await masterData.ready;
      } catch (err) {
        await masterData.close();
        await client.close();
        throw err;
      }
      const reference = new MasterDataReference({
        masterData,
        refresh: async (model) => (await sync.syncNow(model)).reduce((n, r) => n + r.published, 0),
      });
      const outbound = await outboundParts({
        reference,
        nc,
        client,
        publisher,
        codec,
        site: config.SITE,
        logger,
        registry: metrics,
        workcenterByLine: config.WORKCENTER_BY_LINE,
        ...(config.LINE_BY_WORKCENTER ? { lineByWorkcenter: config.LINE_BY_WORKCENTER } : {}),
        close: {
          policy: config.CLOSE_POLICY,
          onAsk: config.ODOO_BACKORDER_ON_ASK,
          moveDate: config.ODOO_MOVE_DATE,
          scrapLocation: config.ODOO_SCRAP_LOCATION,
        },
        closeAtPlannedQuantity: config.CLOSE_AT_PLANNED_QUANTITY,
        // As many postings at once as requests may be in flight: fewer would leave Odoo slots idle.
        consumer: { concurrency: config.ODOO_CONCURRENCY },
        // The ordered durables are partitioned: replicas share the partitions, one owner each.
        partitions: { kv, holder, ttlMs: config.LEASE_TTL_MS },
      });
      inbound = sync;
      const masterDataWatch = new MasterDataWatch({
        client,
        logger,
        registry: metrics,
        intervalMs: config.MASTERDATA_CHECK_INTERVAL_MS,
        check: {
          // Without a mapping, lines are named by their work centres' codes: nothing to check.
          ...(Object.keys(config.WORKCENTER_BY_LINE).length > 0
            ? { workcenterByLine: config.WORKCENTER_BY_LINE }
            : {}),
          ...(config.LOT_PATTERN ? { lotPattern: config.LOT_PATTERN } : {}),
        },
      });
      // The database's singleton work — polling Odoo, the master-data checks, the reconciliation, the
      // shift closes — runs on the replica that owns its lease; the others stand by (streams' lease.ts).
      // The sync's cursor is saved by compare-and-set and its events have content-derived ids, so a
      // one-off pass on a standby (a webhook, a reference refresh) duplicates nothing.
      let stopOwned: (() => Promise<void>) | undefined;
      // Acquired and lost in turn: a pause still under way (its page) finishes before a start.
      let transitions = Promise.resolve();
      const inTurn = (step: () => void | Promise<void>) => {
        transitions = transitions.then(step).catch((err: unknown) => {
          logger.error({ err }, "the lease's owned work failed to start or stop");
        });
      };
      const lease = new Lease({
        kv,
        key: `lease.${odooConnectorManifest.service}.${config.ODOO_DB}`,
        holder,
        ttlMs: config.LEASE_TTL_MS,
        logger,
        registry: metrics,
      });
      lease.on("acquired", () =>
        inTurn(() => {
          sync.start();
          masterDataWatch.start();
          const stopReconciling = startReconciling(config, {
            reference,
            nc,
            codec,
            client,
            logger,
            registry: metrics,
            workcenterByLine: config.WORKCENTER_BY_LINE,
            ...(config.LINE_BY_WORKCENTER ? { lineByWorkcenter: config.LINE_BY_WORKCENTER } : {}),
          });
          const stopShifts =
            config.CLOSE_POLICY === "shift" && config.CLOSE_SHIFTS
              ? startShiftSchedule({
                  client,
                  publisher,
                  site: config.SITE,
                  shifts: config.CLOSE_SHIFTS,
                  logger,
                })
              : () => undefined;
          stopOwned = async () => {
            stopReconciling();
            stopShifts();
            await masterDataWatch.stop();
            await sync.pause();
          };
        }),
      );
      const stopOwnedWork = async () => {
        const stop = stopOwned;
        stopOwned = undefined;
        await stop?.();
      };
      lease.on("lost", () => inTurn(stopOwnedWork));
      lease.start();
      return {
        // The outbound durables (the manifest's), Odoo's gate around every posting, and the
        // breaker pausing them while Odoo is down: runService runs them.
        consumers: outbound.consumers,
        interceptors: outbound.interceptors,
        ...(outbound.pausePolicy ? { pausePolicy: outbound.pausePolicy } : {}),
        onStarted: (consumers) => outbound.onStarted(consumers),
        onStopping: () => outbound.onStopping(),
        onStop: async () => {
          // The owned work stops first, then the lease is released: a standby takes over at once.
          inTurn(stopOwnedWork);
          await transitions;
          await lease.stop();
          await transitions;
          await masterData.close();
          await sync.stop();
          await client.close();
        },
      };
    },
  });
}

/**
 * Every RECONCILE_INTERVAL_MS, the last RECONCILE_WINDOW_MS reconciled into the reconciliation gauges
 * (the same report `threadline odoo reconcile` prints).
 */
function startReconciling(
  config: OdooConnectorConfig,
  deps: Omit<ReconcileOptions, "since"> & { logger: Logger; registry: Registry },
): () => void {
  if (config.RECONCILE_INTERVAL_MS === 0) return () => {};
  let running = false;
  const timer = setInterval(async () => {
    // Odoo is down: the drift would only say so. The next interval tries again.
    if (running || deps.client.breaker.state === "open") return;
    running = true;
    try {
      const since = new Date(Date.now() - config.RECONCILE_WINDOW_MS);
      const report = await reconcile({ ...deps, since, cleanup: "expire" });
      recordDrift(report, deps.registry);
      if (report.drifting.length > 0)
        deps.logger.warn(
          {
            orders: report.drifting.map((o) => o.orderRef),
            findings: report.drifting
              .flatMap((o) => o.findings.map((f) => `${f.kind}: ${f.message}`))
              .slice(0, 20),
          },
          "reconciliation found drift",
        );
    } catch (err) {
      deps.logger.warn({ err }, "reconciliation failed; next try at the next interval");
    } finally {
      running = false;
    }
  }, config.RECONCILE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The process entry point: the running connector, or one JSON log line saying why it cannot start (exit 1). */
export function main(env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  return startOrExit(odooConnectorManifest.service, () => startOdooConnector(env), { env });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
