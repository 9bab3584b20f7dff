/**
 * Local, real `nats-server` processes for tests, the demo and tools.
 *
 * Everything here starts the actual `nats-server` binary (no mocks): a single JetStream node
 * ({@link startNatsServer}), a JetStream cluster ({@link startCluster}) and a hub + leaf pair with
 * separate JetStream domains ({@link startLeafAndHub}); {@link LinkProxy} cuts a TCP link.
 *
 * Guarantees:
 * - Every server binds to 127.0.0.1 only, on ports the OS reported as free, never on 4222 (nor the
 *   other NATS default ports 6222/7422/8222): tests never touch a server someone else started.
 * - Storage lives in a fresh `mkdtemp(os.tmpdir()/threadline-nats-*)` directory per server; the
 *   server's stdout/stderr go to `<dir>/nats-server.log`; the generated config is `<dir>/nats-server.conf`.
 * - Servers are cleaned up even when the caller forgets: on process `exit` (and SIGINT / SIGTERM /
 *   SIGHUP) every live server is SIGKILLed and its directory removed synchronously. Servers left
 *   behind by a parent that died from SIGKILL are reaped the next time this module starts a server
 *   (each directory records its owner pid in `owner.json`).
 *
 * Files, one job each: binary.ts (find or install the binary), ports.ts (free ports), config.ts
 * (the config file), monitor.ts (monitoring endpoints, readiness), cleanup.ts (exit hooks, orphans),
 * server.ts (one server process), cluster.ts, leaf.ts (hub + leaf), proxy.ts (link proxy),
 * errors.ts. Import from this file.
 */
export { type FindNatsServerBinaryOptions, findNatsServerBinary, natsServerVersion } from "./binary.js";
export { reapOrphanedServers } from "./cleanup.js";
export { LocalNatsCluster, type NatsClusterOptions, startCluster } from "./cluster.js";
export type { ClusterMembership, LeafnodeRemote } from "./config.js";
export {
  type LocalNatsErrorCode,
  NatsClusterNotReadyError,
  NatsLeafLinkTimeoutError,
  NatsPortAllocationError,
  NatsServerDisposedError,
  NatsServerError,
  NatsServerNotFoundError,
  NatsServerReadyTimeoutError,
  NatsServerStartError,
  NatsServerStopError,
} from "./errors.js";
export { type LeafAndHubOptions, LocalLeafAndHub, startLeafAndHub } from "./leaf.js";
export type { HealthStatus, JszInfo, LeafzInfo } from "./monitor.js";
export { getFreePort, releasePort } from "./ports.js";
export { LinkProxy } from "./proxy.js";
export { LocalNatsServer, type NatsServerOptions, startNatsServer } from "./server.js";
