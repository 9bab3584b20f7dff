/** The faults of the fault run (fault-run.ts), in the order they are injected. Light: the CLI loads it. */
export const FAULTS = [
  "odoo-refuse",
  "odoo-503",
  "odoo-hang",
  "connector-kill",
  "bridge-kill",
  "nats-crash",
  "odoo-restore",
  // On a 3-node cluster with replicas of each service (`--cluster`):
  "leader-kill",
  "node-kill",
  "node-partition",
  "wan-cut",
  "replica-kill",
  "replica-pause",
  "replica-storm",
  "combined",
] as const;
export type FaultKind = (typeof FAULTS)[number];

/** What a single nats-server can go through (nats-crash restarts the only server). */
export const SINGLE_SERVER_FAULTS: readonly FaultKind[] = [
  "odoo-refuse",
  "odoo-503",
  "odoo-hang",
  "connector-kill",
  "bridge-kill",
  "nats-crash",
  "odoo-restore",
];

/**
 * The chaos suite on a 3-node cluster, the plant behind its WAN link and two replicas of each
 * service: every fault of the issue, the hardest last (several at once).
 */
export const CLUSTER_FAULTS: readonly FaultKind[] = [
  "odoo-refuse",
  "leader-kill",
  "node-kill",
  "node-partition",
  "wan-cut",
  "replica-kill",
  "replica-pause",
  "replica-storm",
  "odoo-restore",
  "combined",
];
