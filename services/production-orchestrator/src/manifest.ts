/**
 * What the production orchestrator declares about itself (streams/src/manifest.ts): the durables it
 * follows an order's life with, the bucket it keeps each order's process in, the events it publishes
 * and the commands it may send to machines. `threadline streams plan|apply|k8s|permissions` read it.
 */
import { MACHINE_COMMANDS_ALL, serviceManifest } from "../../../streams/src/index.js";

/** Its durables, spelled here only (each name starts with the service's). */
export const ORCHESTRATOR_DURABLES = {
  orders: "production-orchestrator-orders",
  downtimeStarted: "production-orchestrator-downtime-started",
  downtimeEnded: "production-orchestrator-downtime-ended",
  quality: "production-orchestrator-quality",
  deliveries: "production-orchestrator-deliveries",
  postingFailures: "production-orchestrator-posting-failures",
} as const;

/** Each order's process (`order.<ref>`), each line's open stops (`line.<line>`), lot → order (`lot.<lot>`). */
export const ORDERS_BUCKET = "THREADLINE_ORDERS";

/**
 * The dead letters of the Odoo connector's production postings (streams' dlqSubject of MFG_PRODUCTION
 * and the connector's durable `odoo-connector-production-reported`): a posting that failed for good.
 */
export const POSTING_DEAD_LETTERS = "mfg.dlq.MFG_PRODUCTION.odoo-connector-production-reported";

/** Order events come rarely and matter: a few in flight, retried for about an hour. */
const ORDER_REDELIVERY = {
  ackWait: "30s",
  backoff: ["30s", "1m", "5m", "15m"],
  maxDeliver: 8,
  maxAckPending: 64,
} as const;

export const productionOrchestratorManifest = serviceManifest({
  service: "production-orchestrator",
  deployment: {
    entry: "dist/services/production-orchestrator/src/main.js",
    port: 9464,
    // Active/standby: `production-orchestrator-orders` needs each order's events in stream order and
    // which order holds a line (LineClaims) is decided in memory, so only the replica holding the lease
    // works; the other is a hot standby taking over within LEASE_TTL_MS (README "Running several
    // replicas"). Two, fixed: a standby adds no throughput, so nothing to scale on lag.
    singleton: false,
    replicas: 2,
    activeStandby: true,
    secrets: ["METRICS_TOKEN"],
    resources: { cpu: "250m", memory: "256Mi" },
  },
  description:
    "production orders from release to shipment: material check, dispatch to a line, running, completed, closed; every step timed",
  consumers: {
    // Releases, changes, counts, postings, run ends and Odoo's done: one durable keeps an order's
    // events in stream order (2.9 has no multiple filters). Its own events are acknowledged unread.
    [ORCHESTRATOR_DURABLES.orders]: {
      stream: "MFG_PRODUCTION",
      description:
        "production-orchestrator: an order's life (released, changed, reported, posted, run ended, done)",
      filterSubjects: ["mfg.production.>"],
      ...ORDER_REDELIVERY,
    },
    [ORCHESTRATOR_DURABLES.downtimeStarted]: {
      stream: "MFG_MACHINE",
      description: "production-orchestrator: a line's stops (its orders wait past the threshold)",
      filterSubjects: ["mfg.machine.downtime_started.>"],
      ...ORDER_REDELIVERY,
    },
    [ORCHESTRATOR_DURABLES.downtimeEnded]: {
      stream: "MFG_MACHINE",
      description: "production-orchestrator: a line's stop ended",
      filterSubjects: ["mfg.machine.downtime_ended.>"],
      ...ORDER_REDELIVERY,
    },
    [ORCHESTRATOR_DURABLES.quality]: {
      stream: "MFG_QUALITY",
      description: "production-orchestrator: quality holds on an order's lot (it waits until released)",
      filterSubjects: ["mfg.quality.>"],
      ...ORDER_REDELIVERY,
    },
    [ORCHESTRATOR_DURABLES.deliveries]: {
      stream: "MFG_INVENTORY",
      description: "production-orchestrator: deliveries of an order's lot (shipped)",
      filterSubjects: ["mfg.inventory.goods_movement_posted.>"],
      ...ORDER_REDELIVERY,
    },
    [ORCHESTRATOR_DURABLES.postingFailures]: {
      stream: "MFG_DLQ",
      description:
        "production-orchestrator: the connector's dead-lettered postings (the order waits for the redrive)",
      filterSubjects: [POSTING_DEAD_LETTERS],
      ...ORDER_REDELIVERY,
    },
  },
  kv: {
    [ORDERS_BUCKET]: {
      description: "production-orchestrator: each order's process, each line's open stops, lot -> order",
      history: 5,
      // An order not touched for half a year (shipped, cancelled, forgotten) leaves the status list.
      ttl: "180d",
      storage: "file",
    },
  },
  publishes: [
    "mfg.production.order_step_changed.v1",
    "mfg.production.material_shortage_detected.v1",
    "mfg.production.order_dispatched.v1",
    "mfg.production.order_step_overdue.v1",
    "mfg.quality.inspection_requested.v1",
  ],
  access: {
    // Work centres, products and BoMs: an order is routed only to what the master data knows.
    reads: [{ stream: "MFG_MASTERDATA", filter: "mfg.masterdata.>" }],
    // The order writes to machines (SET_ORDER through the bridge): the only service allowed to.
    commands: [MACHINE_COMMANDS_ALL],
  },
});
