/**
 * NATS test harness: real nats-server processes whose lifetime is tied to node:test.
 *
 * ```ts
 * import { test } from "node:test";
 * import { withJetStream } from "../harness/nats.js";
 *
 * test("publishes", async (t) => {
 *   const { server, nc, js, jsm } = await withJetStream(t);
 *   // ... server and nc are cleaned up after this test
 * });
 * ```
 *
 * Every `start*` helper registers cleanup with node:test: on the given `TestContext` (`t.after`)
 * or, without one, with `after()` from node:test, which attaches to the test currently running or,
 * at module top level, to the whole file. Connections made with {@link connectTo} are closed before
 * the server they point at is disposed, whatever order node:test runs the hooks in. If a test
 * process dies anyway, the exit hooks in tools/local-nats kill the servers and remove their storage.
 */
import { after, type TestContext } from "node:test";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import {
  type LeafAndHubOptions,
  type LocalLeafAndHub,
  type LocalNatsCluster,
  LocalNatsServer,
  type NatsClusterOptions,
  type NatsServerOptions,
  startCluster,
  startLeafAndHub,
  startNatsServer,
} from "../../tools/local-nats/index.js";

export * from "../../tools/local-nats/index.js";

/** Anything {@link connectTo} can connect to. */
export type NatsTarget = LocalNatsServer | LocalNatsCluster | string | readonly string[];

/** Connections opened by connectTo, per server/cluster handle, closed before that handle is disposed. */
const connectionsByTarget = new WeakMap<object, Set<NatsConnection>>();

function registerCleanup(fn: () => Promise<void>, t?: TestContext): void {
  if (t) t.after(fn);
  else after(fn);
}

async function closeQuietly(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    nc.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2_000);
    }),
  ]);
  clearTimeout(timer);
}

async function closeConnectionsOf(...targets: object[]): Promise<void> {
  const all: NatsConnection[] = [];
  for (const target of targets) {
    const set = connectionsByTarget.get(target);
    if (set) all.push(...set);
    connectionsByTarget.delete(target);
  }
  await Promise.all(all.map(closeQuietly));
}

/** Start a single JetStream node (see `startNatsServer`), disposed after the test/file. */
export async function startTestServer(
  options: NatsServerOptions = {},
  t?: TestContext,
): Promise<LocalNatsServer> {
  const server = await startNatsServer(options);
  registerCleanup(async () => {
    await closeConnectionsOf(server);
    await server.dispose();
  }, t);
  return server;
}

/** Start a JetStream cluster (default 3 nodes, see `startCluster`), disposed after the test/file. */
export async function startTestCluster(
  options: NatsClusterOptions = {},
  t?: TestContext,
): Promise<LocalNatsCluster> {
  const cluster = await startCluster(options);
  registerCleanup(async () => {
    await closeConnectionsOf(cluster, ...cluster.nodes);
    await cluster.dispose();
  }, t);
  return cluster;
}

/** Start a hub + leaf pair (see `startLeafAndHub`), disposed after the test/file. */
export async function startTestLeafAndHub(
  options: LeafAndHubOptions = {},
  t?: TestContext,
): Promise<LocalLeafAndHub> {
  const pair = await startLeafAndHub(options);
  registerCleanup(async () => {
    await closeConnectionsOf(pair, pair.hub, pair.leaf);
    await pair.dispose();
  }, t);
  return pair;
}

/** Defaults for test connections: reconnect quickly and forever (servers get restarted in tests). */
export const TEST_CONNECTION_DEFAULTS: Readonly<NodeConnectionOptions> = {
  name: "threadline-test",
  reconnectTimeWait: 100,
  maxReconnectAttempts: -1,
  timeout: 5_000,
};

function serversOf(target: NatsTarget): string[] {
  if (typeof target === "string") return [target];
  if (target instanceof LocalNatsServer) return [target.clientUrl];
  if ("serverUrls" in target) return target.serverUrls;
  return [...target];
}

/**
 * Connect (with `@nats-io/transport-node`) to a server, a cluster (all node URLs) or explicit URLs.
 * The connection is closed after the test/file, and always before its server handle is disposed.
 */
export async function connectTo(
  target: NatsTarget,
  options: NodeConnectionOptions = {},
  t?: TestContext,
): Promise<NatsConnection> {
  const nc = await connect({ ...TEST_CONNECTION_DEFAULTS, ...options, servers: serversOf(target) });
  if (typeof target === "object" && !Array.isArray(target)) {
    let set = connectionsByTarget.get(target);
    if (!set) {
      set = new Set();
      connectionsByTarget.set(target, set);
    }
    set.add(nc);
  }
  registerCleanup(() => closeQuietly(nc), t);
  return nc;
}

/** What {@link withJetStream} returns. */
export interface JetStreamFixture {
  server: LocalNatsServer;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * One JetStream node plus a connected client, JetStream client and manager; everything is cleaned
 * up after the test (with `t`) or after the current test/file (without).
 */
export async function withJetStream(
  t?: TestContext,
  options: NatsServerOptions = {},
): Promise<JetStreamFixture> {
  const server = await startTestServer(options, t);
  const nc = await connectTo(server, {}, t);
  const jsOptions = options.domain === undefined ? {} : { domain: options.domain };
  return { server, nc, js: jetstream(nc, jsOptions), jsm: await jetstreamManager(nc, jsOptions) };
}
