/**
 * The quality service: SPC on machine telemetry and inspections (spc-monitor.ts), holds placed by the
 * policy and followed through the genealogy (policy.ts, holds.ts), the shipment gate (gate.ts), escapes
 * (escapes.ts) and the HTTP API for labs and quality engineers (http.ts, api.ts).
 * Run it: `NATS_URL=nats://… QUALITY_USERS_FILE=users.json GENEALOGY_API_TOKEN=… [QUALITY_CONFIG=plan.yaml]
 * node dist/services/quality-service/src/main.js` (README.md).
 *
 * Every handler and API decision changes one state in turn (context.ts `serial`); the state is in the
 * KV bucket THREADLINE_QUALITY, so a restart resumes it, and every event the service publishes has an
 * id derived from its cause, so a redelivery or a replay publishes nothing twice.
 */
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import type { EquipmentPath } from "../../../contracts/src/index.js";
import { type RunningService, runService, startOrExit } from "../../../streams/src/index.js";
import { qualityApi } from "./api.js";
import { QualityConfig } from "./config.js";
import { ignoredReporter, type QualityContext, serialQueue } from "./context.js";
import { EscapeWatch } from "./escapes.js";
import { ShipmentGate } from "./gate.js";
import { GenealogyHttpReader } from "./genealogy.js";
import { Holds } from "./holds.js";
import { type QualityApi, registerQualityRoutes } from "./http.js";
import { type LineLot, recordDispatch, recordReport } from "./machine-lots.js";
import { QUALITY_BUCKET, QUALITY_DURABLES, qualityServiceManifest } from "./manifest.js";
import { qualityMetrics } from "./metrics.js";
import { loadPlan, type QualityPlan } from "./plan.js";
import { HoldPolicy } from "./policy.js";
import { SpcMonitor } from "./spc-monitor.js";
import { QualityState } from "./state.js";
import { ApiUsers } from "./users.js";

export function startService(env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  let api: QualityApi | undefined;
  let plan: QualityPlan | undefined;
  return runService({
    manifest: qualityServiceManifest,
    configSchema: QualityConfig,
    env,
    // The plan and the users are read first: a wrong entry stops the start before anything connects.
    routes: (app, { config, logger }) => {
      plan = loadPlan(config.QUALITY_CONFIG);
      registerQualityRoutes(app, { users: ApiUsers.load(config.QUALITY_USERS_FILE), api: () => api, logger });
    },
    // One active replica, the others hot standbys (README "Running several replicas"): the state is
    // in memory and the durables ordered (SPC needs every sample in order), so two must never both work.
    activeStandby: { bucket: QUALITY_BUCKET },
    setup: async ({ config, logger, nc, publisher, metrics: registry, lease }) => {
      if (!plan) throw new Error("the quality plan was not read");
      // Run at each take-over: the state is read fresh from the bucket, which the previous active wrote.
      const state = await QualityState.load(await new Kvm(nc).open(QUALITY_BUCKET), Date.now(), lease);
      const metrics = qualityMetrics(registry);
      const ctx: QualityContext = {
        state,
        plan,
        publisher,
        genealogy: new GenealogyHttpReader(
          config.GENEALOGY_URL,
          config.GENEALOGY_API_TOKEN,
          config.GENEALOGY_TIMEOUT_MS,
        ),
        logger,
        metrics,
        serial: serialQueue(),
        ignored: ignoredReporter(logger, metrics),
      };
      const spc = new SpcMonitor(ctx);
      const holds = new Holds(ctx);
      const gate = new ShipmentGate(ctx);
      holds.listen(gate);
      const policy = new HoldPolicy(ctx, holds, spc);
      const escapes = new EscapeWatch(ctx, gate);
      metrics.watch(() => {
        let blocked = 0;
        let failClosed = 0;
        for (const s of gate.shipments()) {
          if (s.state === "blocked") blocked++;
          if (s.state === "failclosed") failClosed++;
        }
        return {
          activeHolds: [...state.holds.values()].filter((h) => h.status === "ACTIVE").length,
          blocked,
          failClosed,
        };
      });
      logger.info(
        {
          characteristics: plan.characteristics.length,
          holds: state.holds.size,
          shipments: state.shipments.size,
          genealogy: config.GENEALOGY_URL,
        },
        "quality state loaded",
      );
      api = qualityApi(ctx, holds, gate, spc);

      const serial = <T>(fn: () => Promise<T>) => ctx.serial(fn);
      const recheck = setInterval(() => {
        if (gate.shipments().some((s) => s.state === "failclosed"))
          void serial(() => gate.recheck()).catch((err: unknown) =>
            logger.error({ err }, "shipment gate recheck failed"),
          );
      }, config.QUALITY_GATE_RECHECK_MS);
      recheck.unref();
      // A lot new on a line: an SPC episode running there holds it too.
      const lotStarted = async ({ equipment }: { equipment: EquipmentPath }, lot: LineLot | undefined) => {
        if (lot && equipment.line) await policy.lotStarted(equipment.site, equipment.line, lot);
      };
      return {
        consumers: [
          {
            stream: "MFG_MACHINE",
            durable: QUALITY_DURABLES.telemetry,
            ordered: true,
            concurrency: 64,
            handlers: {
              "mfg.machine.telemetry_sampled.v1": async (e) => {
                const { site, line, machine } = e.value.equipment;
                // Most telemetry is not charted: it is acknowledged without waiting in the queue.
                if (!e.value.samples.some((s) => spc.charts(site, line, machine, s.tag))) return;
                await serial(() => spc.telemetry(e.value));
              },
            },
          },
          {
            stream: "MFG_PRODUCTION",
            durable: QUALITY_DURABLES.production,
            ordered: true,
            handlers: {
              "mfg.production.order_dispatched.v1": (e) =>
                serial(async () => lotStarted(e.value, await recordDispatch(state, e.value))),
              "mfg.production.production_reported.v1": (e) =>
                serial(async () => lotStarted(e.value, await recordReport(state, e.value))),
            },
          },
          {
            stream: "MFG_QUALITY",
            durable: QUALITY_DURABLES.quality,
            ordered: true,
            handlers: {
              "mfg.quality.inspection_recorded.v1": (e) =>
                serial(async () => {
                  await spc.inspection(e.id, e.value);
                  await policy.inspection(e.id, e.value);
                }),
              "mfg.quality.spc_violation_detected.v1": (e) => serial(() => policy.violation(e.id, e.value)),
              "mfg.quality.nonconformance_raised.v1": (e) =>
                serial(() => policy.nonconformance(e.id, e.value)),
              "mfg.quality.quality_hold_placed.v1": (e) =>
                serial(() => holds.applyPlaced(e.id, e.value).then(() => undefined)),
              "mfg.quality.quality_hold_released.v1": (e) =>
                serial(() => holds.applyDecided(e.id, e.value).then(() => undefined)),
            },
          },
          {
            stream: "MFG_SHIPPING",
            durable: QUALITY_DURABLES.shipping,
            ordered: true,
            handlers: {
              "mfg.shipping.shipment_requested.v1": (e) => serial(() => gate.requested(e.id, e.value)),
              "mfg.shipping.shipment_cancelled.v1": (e) =>
                serial(() =>
                  gate.finished(e.value.odooPickingId.toString(), "cancelled", e.value.cancelledAt),
                ),
            },
          },
          {
            stream: "MFG_INVENTORY",
            durable: QUALITY_DURABLES.inventory,
            ordered: true,
            handlers: {
              "mfg.inventory.goods_movement_posted.v1": (e) =>
                serial(() => escapes.movement(e.id, e.value).then(() => undefined)),
            },
          },
        ],
        onStopping: () => clearInterval(recheck),
        onStop: async () => {
          clearInterval(recheck);
          api = undefined;
        },
      };
    },
  });
}

// Started as a program: the running service, or one JSON log line saying why it cannot start (exit 1).
if (process.argv[1] === fileURLToPath(import.meta.url))
  await startOrExit(qualityServiceManifest.service, () => startService());
