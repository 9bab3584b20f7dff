/**
 * What the quality service declares about itself (streams/src/manifest.ts): a durable per stream it
 * watches, the bucket its state lives in, the events it publishes and its HTTP API.
 * `threadline streams plan|apply|k8s|permissions` read it.
 *
 * Each durable has one filter (the 2.9 floor has no multiple filters): the types it does not handle
 * are acknowledged unread. One replica is active at a time (its lease): its state is in memory,
 * mirrored in the bucket.
 */
import { serviceManifest } from "../../../streams/src/index.js";
import { QUALITY_ROUTES } from "./http.js";

/** Its durables, spelled here only. */
export const QUALITY_DURABLES = {
  telemetry: "quality-service-telemetry",
  production: "quality-service-production",
  quality: "quality-service-quality",
  shipping: "quality-service-shipping",
  inventory: "quality-service-inventory",
} as const;

/** Holds, watched deliveries, SPC episodes and limits, lots per line, escapes (state.ts). */
export const QUALITY_BUCKET = "THREADLINE_QUALITY";

/** Quality decisions are rare and matter: retried for about an hour, a genealogy outage waited out. */
const DECISIONS = {
  ackWait: "30s",
  backoff: ["30s", "1m", "5m", "15m"],
  maxDeliver: 8,
  maxAckPending: 256,
} as const;

export const qualityServiceManifest = serviceManifest({
  service: "quality-service",
  deployment: {
    entry: "dist/services/quality-service/src/main.js",
    port: 9480,
    // Active/standby: the state is loaded into memory and is the truth while active, every handler and
    // API decision runs in one in-process queue, each durable is `ordered` (an SPC chart needs every
    // sample in order): only the replica holding the lease works, the other is a hot standby taking
    // over within LEASE_TTL_MS (README "Running several replicas"). Two, fixed: a standby adds no
    // throughput, so nothing to scale on lag.
    singleton: false,
    replicas: 2,
    activeStandby: true,
    secrets: ["GENEALOGY_API_TOKEN", "METRICS_TOKEN"],
    settings: {
      QUALITY_CONFIG: "/etc/threadline/quality-service/plan.yaml",
      QUALITY_USERS_FILE: "/etc/threadline/quality-service/users.json",
      GENEALOGY_URL: "http://genealogy-builder:9470",
    },
    egress: [{ to: "genealogy-builder", port: 9470 }],
    resources: { cpu: "250m", memory: "256Mi" },
  },
  description: "SPC on telemetry and inspections, quality holds that follow the genealogy, the shipment gate",
  consumers: {
    [QUALITY_DURABLES.telemetry]: {
      stream: "MFG_MACHINE",
      description: "quality-service: machine telemetry on the SPC charts of the characteristics it charts",
      filterSubjects: ["mfg.machine.telemetry_sampled.>"],
      ackWait: "30s",
      backoff: ["30s", "1m", "5m"],
      maxDeliver: 6,
      maxAckPending: 1024,
    },
    [QUALITY_DURABLES.production]: {
      stream: "MFG_PRODUCTION",
      description:
        "quality-service: which lot each line makes (dispatches and counts), for the holds of an SPC episode",
      filterSubjects: ["mfg.production.>"],
      ...DECISIONS,
    },
    [QUALITY_DURABLES.quality]: {
      stream: "MFG_QUALITY",
      description:
        "quality-service: inspections (SPC, specification), violations and nonconformances (holds), holds placed and decided",
      filterSubjects: ["mfg.quality.>"],
      ...DECISIONS,
    },
    [QUALITY_DURABLES.shipping]: {
      stream: "MFG_SHIPPING",
      description: "quality-service: the shipment gate (deliveries requested and cancelled)",
      filterSubjects: ["mfg.shipping.>"],
      ...DECISIONS,
    },
    [QUALITY_DURABLES.inventory]: {
      stream: "MFG_INVENTORY",
      description: "quality-service: deliveries posted in Odoo (a held lot that left is an escape)",
      filterSubjects: ["mfg.inventory.goods_movement_posted.>"],
      ...DECISIONS,
    },
  },
  kv: {
    [QUALITY_BUCKET]: {
      description:
        "quality-service: holds, watched deliveries, SPC episodes and frozen limits, lots per line, escapes",
      history: 5,
      storage: "file",
    },
  },
  publishes: [
    "mfg.quality.inspection_recorded.v1",
    "mfg.quality.spc_violation_detected.v1",
    "mfg.quality.spc_violation_ended.v1",
    "mfg.quality.nonconformance_raised.v1",
    "mfg.quality.quality_hold_placed.v1",
    "mfg.quality.quality_hold_released.v1",
    "mfg.shipping.shipment_blocked.v1",
    "mfg.shipping.shipment_cleared.v1",
  ],
  http: QUALITY_ROUTES.map((r) => ({ ...r })),
});
