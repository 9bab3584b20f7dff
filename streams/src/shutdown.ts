/**
 * The one shutdown deadline every service keeps, so that a platform can give it enough time and no
 * more: on SIGTERM the consumers drain for at most DRAIN_TIMEOUT_MS (in-flight handlers finish or their
 * messages go back unacknowledged, to be redelivered), then the service's own stop, the HTTP server
 * and the NATS connection's drain get AFTER_DRAIN_MS between them; when the whole deadline has passed
 * the process exits anyway. The pods' terminationGracePeriodSeconds is the deadline with the default
 * drain plus a margin (tools/deploy/generate-workloads.ts), so Kubernetes never SIGKILLs a shutdown
 * that keeps to it.
 */

/** The default of DRAIN_TIMEOUT_MS: how long consumers may drain. */
export const DEFAULT_DRAIN_MS = 25_000;
/** After the drain: the service's own `onStop`, closing HTTP, and the NATS drain (5 s of it at most). */
export const AFTER_DRAIN_MS = 15_000;
/** The NATS connection's drain, within AFTER_DRAIN_MS: it needs the server, which may be gone. */
export const CONNECTION_DRAIN_MS = 5_000;

/** The whole shutdown's deadline for a drain timeout: the process exits when it passes. */
export function shutdownDeadlineMs(drainMs: number = DEFAULT_DRAIN_MS): number {
  return drainMs + AFTER_DRAIN_MS;
}
