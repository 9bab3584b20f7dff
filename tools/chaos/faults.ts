/** The faults of the fault run (fault-run.ts), in the order they are injected. Light: the CLI loads it. */
export const FAULTS = [
  "odoo-refuse",
  "odoo-503",
  "odoo-hang",
  "connector-kill",
  "bridge-kill",
  "nats-crash",
  "odoo-restore",
] as const;
export type FaultKind = (typeof FAULTS)[number];
