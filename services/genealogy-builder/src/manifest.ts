/**
 * What the genealogy builder declares about itself (streams/src/manifest.ts): one durable per stream
 * it builds the lot graph from, its HTTP API, and no events of its own — it only reads.
 * `threadline streams plan|apply|k8s|permissions` read it.
 */
import { serviceManifest } from "../../../streams/src/index.js";
import { GENEALOGY_ROUTES } from "./http.js";

/** The streams the graph is built from: each with its durable (the live path) and the rebuild's filter. */
export const GENEALOGY_SOURCES = [
  { durable: "genealogy-builder-inventory", stream: "MFG_INVENTORY", filter: "mfg.inventory.>" },
  { durable: "genealogy-builder-production", stream: "MFG_PRODUCTION", filter: "mfg.production.>" },
  { durable: "genealogy-builder-quality", stream: "MFG_QUALITY", filter: "mfg.quality.>" },
  { durable: "genealogy-builder-shipping", stream: "MFG_SHIPPING", filter: "mfg.shipping.>" },
  { durable: "genealogy-builder-masterdata", stream: "MFG_MASTERDATA", filter: "mfg.masterdata.>" },
] as const;

/** The builder's leases: `embedded.<schema>`, the one replica an embedded database allows (embedded-owner.ts). */
export const GENEALOGY_LEASES_BUCKET = "THREADLINE_GENEALOGY_LEASES";

/** The HTTP API, declared with its auth where the routes are (http.ts). */
export { GENEALOGY_ROUTES };

/** Events of the graph: rare next to telemetry, each a few rows; a database outage waits them out. */
const PROJECTION = {
  ackWait: "30s",
  backoff: ["30s", "2m", "10m", "30m"],
  maxDeliver: 10,
  maxAckPending: 1024,
} as const;

export const genealogyBuilderManifest = serviceManifest({
  service: "genealogy-builder",
  deployment: {
    entry: "dist/services/genealogy-builder/src/main.js",
    port: 9470,
    // Replicas write one PostgreSQL graph: every write is an upsert keyed by what made it, each event
    // applied once (applied_events), a rebuild runs alone (README "Running several replicas"). More
    // replicas than the database's write rate needs only add contention: a few, on a large backlog.
    singleton: false,
    scaling: { minReplicas: 1, maxReplicas: 3, lagThreshold: 5000 },
    secrets: ["DATABASE_URL", "GENEALOGY_API_TOKEN", "METRICS_TOKEN"],
    egress: [{ to: "*", port: 5432 }],
    resources: { cpu: "500m", memory: "1Gi" },
  },
  description:
    "the lot graph of every system (lots, consumption, production, movements, shipments, holds): traces, recall reports, EPCIS",
  consumers: Object.fromEntries(
    GENEALOGY_SOURCES.map((s) => [
      s.durable,
      {
        stream: s.stream,
        description: `genealogy-builder: the lot graph's ${s.stream.slice(4).toLowerCase()} events`,
        filterSubjects: [s.filter],
        ...PROJECTION,
      },
    ]),
  ),
  kv: {
    [GENEALOGY_LEASES_BUCKET]: {
      description: "genealogy-builder: leases (the one replica an embedded database allows)",
      history: 1,
      storage: "file",
    },
  },
  publishes: [],
  http: GENEALOGY_ROUTES.map((r) => ({ ...r })),
  access: {
    // The rebuild replays the same streams from their start with ordered consumers.
    reads: GENEALOGY_SOURCES.map((s) => ({ stream: s.stream, filter: s.filter })),
  },
});
