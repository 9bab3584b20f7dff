/**
 * What the Odoo connector declares about itself: its durables (one per outbound posting kind), the
 * master-data stream it alone writes, the events it publishes (inbound sync, ProductionPosted, run
 * ends), its HTTP route and the rest of its NATS access (its state bucket, the reads of reconciliation
 * and of its own master data, the dead letters of refused records). `threadline streams
 * plan|apply|k8s|permissions` read it (tools/manifests.ts).
 */
import { dlqSubject, MASTERDATA_STREAM, serviceManifest } from "../../../streams/src/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The connector's durables: their names, spelled here only. */
export const CONNECTOR_DURABLES = {
  production: "odoo-connector-production-reported",
  downtimeStarted: "odoo-connector-downtime-started",
  downtimeEnded: "odoo-connector-downtime-ended",
  quality: "odoo-connector-quality",
  shipping: "odoo-connector-shipping",
} as const;

/**
 * Partitions of each ordered durable (production, quality, shipping): the most replicas that post
 * in parallel while keeping each order's (lot's, shipment's) postings in stream order. Four: Odoo is
 * the bottleneck (its workers serialise writes to one order anyway) and each partition durable reads
 * the whole filtered stream, so more partitions cost server reads for little; it is also KEDA's
 * maxReplicas below (a fifth replica would own no partition). Changing it moves keys to other
 * partitions: change it with the connector stopped and its durables caught up (docs in the README).
 */
export const CONNECTOR_PARTITIONS = 4;

/**
 * Where the inbound sync dead-letters the Odoo records it refuses (src/inbound/dead-letters.ts):
 * `mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound`. A refused record never reached a stream and no
 * durable gave up on it, so the sync's own token takes the consumer's place; the stream is the one the
 * record would have gone to, so `mfg.dlq.*.odoo-connector-inbound` is everything the sync refused.
 */
export const INBOUND_DEAD_LETTERS = { stream: "MFG_MASTERDATA", producer: "odoo-connector-inbound" } as const;

/** The connector's redelivery policy: the ERP is slow and can be down for hours. */
const ERP_REDELIVERY = {
  ackWait: "1m",
  backoff: ["1m", "5m", "15m", "1h", "4h"],
  maxDeliver: 12,
  maxAckPending: 64,
} as const;

export const odooConnectorManifest = serviceManifest({
  service: "odoo-connector",
  deployment: {
    entry: "dist/services/odoo-connector/src/main.js",
    port: 9464,
    // Several replicas: the inbound sync and the periodic work run under a lease (one replica), the
    // ordered durables are partitioned (one owner per partition), the downtime durables are shared.
    singleton: false,
    scaling: { minReplicas: 1, maxReplicas: CONNECTOR_PARTITIONS, lagThreshold: 500 },
    secrets: ["ODOO_API_KEY", "WEBHOOK_TOKEN", "METRICS_TOKEN"],
    egress: [{ to: "*", port: 443 }],
    ingressPaths: ["/odoo/webhook"],
    resources: { cpu: "500m", memory: "512Mi" },
  },
  description:
    "Odoo changes -> events; production, downtime, quality and shipment events -> Odoo, exactly once",
  consumers: {
    // Posts production reports to Odoo. Few messages in flight (64), a 1 min ack wait (long postings
    // call working()), then 5 min, 15 min, 1 h and 4 h between redeliveries; 12 deliveries span about a
    // day of ERP outage before dead-lettering. Reports and run ends share one durable: a run's end
    // must be handled after its counts. Only those two: the ProductionPosted events the connector
    // itself appends to the stream would otherwise sit behind a backlog as pending, and its backlog
    // gauge read the whole backlog until the drain's very end. On the 2.9 floor (no multiple filter
    // subjects) the one filter `mfg.production.>` takes everything, the rest acknowledged unhandled.
    // Partitioned by the order's family: several replicas post, one order's postings never reorder.
    [CONNECTOR_DURABLES.production]: {
      stream: "MFG_PRODUCTION",
      partitions: CONNECTOR_PARTITIONS,
      description:
        "odoo-connector: posts production reports to Odoo and closes orders when runs end (ProductionReported, ProductionRunEnded -> ERP)",
      filterSubjects: ["mfg.production.production_reported.>", "mfg.production.production_run_ended.>"],
      floorFilterSubject: "mfg.production.>",
      ...ERP_REDELIVERY,
    },
    // Downtime to Odoo work-center productivity logs. One durable per event type: a single filter
    // cannot pick two event types out of the telemetry-heavy machine stream without 2.10's multiple
    // filters; the posting tolerates an end that arrives before its start, so neither needs an order
    // across replicas: shared by the replicas as they are.
    [CONNECTOR_DURABLES.downtimeStarted]: {
      stream: "MFG_MACHINE",
      description: "odoo-connector: opens a work-center productivity (availability loss) log in Odoo",
      filterSubjects: ["mfg.machine.downtime_started.>"],
      ...ERP_REDELIVERY,
    },
    [CONNECTOR_DURABLES.downtimeEnded]: {
      stream: "MFG_MACHINE",
      description: "odoo-connector: closes the work-center productivity log in Odoo",
      filterSubjects: ["mfg.machine.downtime_ended.>"],
      ...ERP_REDELIVERY,
    },
    // Quality holds to Odoo (alert + quarantine move). The whole quality stream is small; one durable
    // keeps a lot's placed/released in order, partitioned by the hold's key (ce-subject) across replicas.
    [CONNECTOR_DURABLES.quality]: {
      stream: "MFG_QUALITY",
      partitions: CONNECTOR_PARTITIONS,
      description: "odoo-connector: quality holds -> Odoo quality alerts and quarantine moves",
      filterSubjects: ["mfg.quality.>"],
      ...ERP_REDELIVERY,
    },
    // Shipment gate decisions to Odoo (a blocked picking cannot be validated); blocked/cleared in
    // order, partitioned by the shipment's key (ce-subject) across replicas.
    [CONNECTOR_DURABLES.shipping]: {
      stream: "MFG_SHIPPING",
      partitions: CONNECTOR_PARTITIONS,
      description: "odoo-connector: blocked shipments -> Odoo pickings that cannot be validated",
      filterSubjects: ["mfg.shipping.>"],
      ...ERP_REDELIVERY,
    },
  },
  streams: {
    // Master data from Odoo (units, products, BoMs, work centres, locations, partners): reference
    // data every service loads at start-up, so the stream keeps the LATEST VALUE PER KEY, not the
    // history. Each record has its own subject, `mfg.masterdata.<kind>.<site>.<odoo id>` (the key in
    // the subject is what makes per-key compaction possible), and `maxMsgsPerSubject: 1` makes the
    // server drop a record's previous version when a new one is stored — on every server from the
    // 2.9 floor on, unlike KV-only features. Kept forever (`maxAge: 0s`): an unchanged product must
    // not expire. When full it refuses new records rather than forgetting old ones. Duplicate window
    // 24 h: a re-read of Odoo re-derives the same ids (content and write_date), which the server drops.
    // Only the connector writes it, so the connector owns it; readers (the SDK's MasterData) name it
    // MASTERDATA_STREAM and list it in their manifest's `access.reads`.
    [MASTERDATA_STREAM]: {
      description:
        "Master data from Odoo: the latest version of each unit, product, BoM, work centre, location, partner",
      subjects: ["mfg.masterdata.>"],
      retention: "limits",
      storage: "file",
      maxAge: "0s",
      maxBytes: { production: 5 * GiB, local: 32 * MiB },
      maxMsgSize: 256 * KiB,
      maxMsgsPerSubject: 1,
      discard: "new",
      duplicateWindow: "24h",
    },
  },
  publishes: [
    // inbound sync
    "mfg.production.production_order_released.v1",
    "mfg.production.production_order_changed.v1",
    "mfg.production.production_order_completed.v1",
    "mfg.inventory.lot_registered.v1",
    "mfg.inventory.material_consumed.v1",
    "mfg.inventory.goods_movement_posted.v1",
    "mfg.shipping.shipment_requested.v1",
    "mfg.shipping.shipment_cancelled.v1",
    "mfg.inventory.unbuild_posted.v1",
    // inbound sync: master data, the latest version per record in MFG_MASTERDATA
    "mfg.masterdata.unit.v1",
    "mfg.masterdata.product.v1",
    "mfg.masterdata.bill_of_materials.v1",
    "mfg.masterdata.work_center.v1",
    "mfg.masterdata.location.v1",
    "mfg.masterdata.partner.v1",
    // outbound: the ERP accepted a production report
    "mfg.production.production_posted.v1",
    // the close schedule (SHIFT_END) and the planned quantity reached
    "mfg.production.production_run_ended.v1",
  ],
  http: [
    {
      method: "POST",
      path: "/odoo/webhook/:token",
      auth: "path-token",
      description:
        "Odoo's webhook (WEBHOOK_TOKEN): triggers a re-read of the model, its payload is never data",
    },
  ],
  access: {
    // cursors and order snapshots
    kvWrite: ["THREADLINE_CONNECTOR_STATE"],
    // the periodic reconciliation (RECONCILE_INTERVAL_MS): the production log and its dead letters
    reads: [
      { stream: "MFG_PRODUCTION", filter: "mfg.production.>" },
      { stream: "MFG_DLQ", filter: dlqSubject("MFG_PRODUCTION", CONNECTOR_DURABLES.production) },
      // the postings' units and products: the master data it publishes, read back (reference/)
      { stream: "MFG_MASTERDATA", filter: "mfg.masterdata.>" },
    ],
    // the inbound sync's refused master-data records: exactly mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound
    deadLetters: [INBOUND_DEAD_LETTERS],
  },
});
