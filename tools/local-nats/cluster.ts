/**
 * A JetStream cluster of local servers: N nodes on 127.0.0.1 with routes between all of them,
 * started together (the meta group needs a quorum), ready once all agree on a meta leader.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { NatsClusterNotReadyError } from "./errors.js";
import type { JszInfo } from "./monitor.js";
import { getFreePort, releasePort, retryOnAddressInUse } from "./ports.js";
import { LinkProxy } from "./proxy.js";
import { LocalNatsServer, logTails, type NatsServerOptions } from "./server.js";

export interface NatsClusterOptions
  extends Omit<NatsServerOptions, "name" | "port" | "monitorPort" | "cluster" | "leafnodeListen"> {
  /**
   * Number of nodes.
   * @default 3
   */
  size?: number;
  /**
   * Cluster name; node `server_name`s are `<name>-n1`, `<name>-n2`, ... (plus a unique suffix).
   * @default "threadline"
   */
  name?: string;
  /**
   * How long to wait for a JetStream meta leader after the nodes are up.
   * @default 30000
   */
  clusterReadyTimeoutMs?: number;
  /**
   * Route every node-to-node link through its own in-process proxy, so that {@link LocalNatsCluster.partition}
   * can cut a node off from the others while its clients stay connected to it. Nodes advertise no
   * reachable route address: the mesh is the explicit routes alone, all of them through the proxies.
   * @default false
   */
  partitionable?: boolean;
  /**
   * Every node accepts leafnode connections (a hub), each behind its own in-process proxy which it
   * advertises: {@link LocalNatsCluster.leafnodeUrls} is where leaves dial, and
   * {@link LocalNatsCluster.cutLeafLinks} cuts the WAN of every leaf at once.
   * @default false
   */
  leafnodes?: boolean;
}

/** A running N-node JetStream cluster (all nodes on 127.0.0.1, routes between all of them). */
export class LocalNatsCluster {
  readonly name: string;
  readonly nodes: readonly LocalNatsServer[];
  readonly #readyTimeoutMs: number;
  /** Partitionable clusters: the proxy of each route link, by `<from>-><to>` node index. */
  readonly #links: ReadonlyMap<string, LinkProxy>;
  /** Hubs: the proxy in front of each node's leafnode port. */
  readonly #leafLinks: readonly LinkProxy[];

  constructor(
    name: string,
    nodes: LocalNatsServer[],
    readyTimeoutMs = 30_000,
    links: { routes?: ReadonlyMap<string, LinkProxy>; leafnodes?: readonly LinkProxy[] } = {},
  ) {
    this.name = name;
    this.nodes = nodes;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#links = links.routes ?? new Map();
    this.#leafLinks = links.leafnodes ?? [];
  }

  /** Where a leaf dials the hub (`nats-leaf://` URLs of the nodes' proxies); only with `leafnodes`. */
  get leafnodeUrls(): string[] {
    return this.#leafLinks.map((p) => `nats-leaf://127.0.0.1:${p.port}`);
  }

  /** Cut the WAN: every leaf connection closed and refused until {@link restoreLeafLinks}. */
  cutLeafLinks(): void {
    for (const p of this.#leafLinks) p.setCut(true);
  }

  restoreLeafLinks(): void {
    for (const p of this.#leafLinks) p.setCut(false);
  }

  /**
   * Cut node `i` off from the other nodes (a network partition): its route links are closed and
   * refused, both ways; the node and its clients keep running. Only on a `partitionable` cluster.
   */
  partition(i: number): void {
    this.#routeLinksOf(i, true);
  }

  /** End the partition of node `i`: its routes reconnect by themselves. */
  heal(i: number): void {
    this.#routeLinksOf(i, false);
  }

  #routeLinksOf(i: number, cut: boolean): void {
    this.node(i);
    if (this.#links.size === 0) throw new Error(`cluster ${this.name} was not started partitionable`);
    for (const [pair, proxy] of this.#links) if (pair.split("->").includes(String(i))) proxy.setCut(cut);
  }

  /** Client URLs of all nodes joined by commas (for `NATS_URL` / the nats CLI `--server`). */
  get servers(): string {
    return this.serverUrls.join(",");
  }

  /** Client URLs of all nodes, for `connect({ servers })` (nats.js does not split comma lists). */
  get serverUrls(): string[] {
    return this.nodes.map((n) => n.clientUrl);
  }

  /** Node `i` (0-based). */
  node(i: number): LocalNatsServer {
    const node = this.nodes[i];
    if (!node) throw new RangeError(`cluster ${this.name} has ${this.nodes.length} nodes; no node ${i}`);
    return node;
  }

  /** Gracefully stop node `i`. */
  stop(i: number): Promise<void> {
    return this.node(i).stop();
  }

  /** Crash node `i` (SIGKILL). */
  kill(i: number): Promise<void> {
    return this.node(i).kill();
  }

  /**
   * Start node `i` again (after stop/kill), then by default wait until the running nodes agree on
   * a meta leader.
   */
  async start(i: number, options: { waitForCluster?: boolean } = {}): Promise<void> {
    await this.node(i).start();
    if (options.waitForCluster ?? true) await this.waitForMetaLeader();
  }

  /** Restart node `i` (same ports and storage), then by default wait for the meta leader. */
  async restart(i: number, options: { waitForCluster?: boolean } = {}): Promise<void> {
    await this.node(i).restart();
    if (options.waitForCluster ?? true) await this.waitForMetaLeader();
  }

  /** The meta leader's server name as reported by a running node (may be stale right after a crash). */
  async metaLeader(): Promise<string | undefined> {
    for (const node of this.nodes) {
      if (!node.running) continue;
      try {
        const jsz = await node.monitor<JszInfo>("jsz");
        if (jsz.meta_cluster?.leader) return jsz.meta_cluster.leader;
      } catch {
        // try the next node
      }
    }
    return undefined;
  }

  /** The node currently acting as JetStream meta leader, if any. */
  async metaLeaderNode(): Promise<LocalNatsServer | undefined> {
    const leader = await this.metaLeader();
    return this.nodes.find((n) => n.name === leader);
  }

  /**
   * Wait until every *running* node reports the same JetStream meta leader, that leader is one of
   * the running nodes (nodes keep reporting a crashed leader for a moment), and every running
   * node's full `/healthz` is ok. Returns the leader's server name.
   *
   * @throws {NatsClusterNotReadyError} on timeout (e.g. no quorum), with per-node state and logs.
   */
  async waitForMetaLeader(timeoutMs: number = this.#readyTimeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let state = "";
    while (Date.now() < deadline) {
      const running = this.nodes.filter((n) => n.running);
      const views = await Promise.all(
        running.map(async (n) => {
          const health = await n.health();
          let leader: string | undefined;
          try {
            leader = (await n.monitor<JszInfo>("jsz")).meta_cluster?.leader || undefined;
          } catch {
            leader = undefined;
          }
          return { name: n.name, leader, health };
        }),
      );
      state = views
        .map(
          (v) =>
            `${v.name}: leader=${v.leader ?? "-"} health=${v.health.status}${v.health.error ? ` (${v.health.error})` : ""}`,
        )
        .join("; ");
      const leader = views[0]?.leader;
      if (
        leader !== undefined &&
        running.some((n) => n.name === leader) &&
        views.every((v) => v.leader === leader && v.health.ok)
      ) {
        return leader;
      }
      await sleep(100);
    }
    const logs = logTails(this.nodes.map((n) => [n.name, n]));
    throw new NatsClusterNotReadyError(
      `cluster ${this.name} has no agreed JetStream meta leader after ${timeoutMs} ms: ${state || "no running nodes"}\n${logs}`,
    );
  }

  /** Stop all nodes and delete their storage. Idempotent. */
  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
    await Promise.all([...this.#links.values(), ...this.#leafLinks].map((p) => p.close()));
  }
}

/**
 * Start an N-node (default 3) JetStream cluster: one `cluster { name, listen, routes }` block per
 * node with routes to all nodes, unique `server_name`s, each node with its own temp storage.
 * Resolves once every node is up and all agree on a JetStream meta leader.
 */
export async function startCluster(options: NatsClusterOptions = {}): Promise<LocalNatsCluster> {
  const {
    size = 3,
    name = "threadline",
    clusterReadyTimeoutMs = 30_000,
    partitionable = false,
    leafnodes = false,
    ...nodeOptions
  } = options;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`cluster size must be a positive integer, got ${size}`);
  const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  return retryOnAddressInUse(3, async () => {
    const routePorts: number[] = [];
    const nodes: LocalNatsServer[] = [];
    const links = new Map<string, LinkProxy>();
    const leafLinks: LinkProxy[] = [];
    try {
      for (let i = 0; i < size; i++) routePorts.push(await getFreePort());
      const direct = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
      for (let i = 0; i < size; i++) {
        let routes = direct;
        if (partitionable) {
          routes = [];
          for (let j = 0; j < size; j++) {
            if (j === i) continue;
            const proxy = await LinkProxy.listen(routePorts[j]);
            links.set(`${i}->${j}`, proxy);
            routes.push(`nats-route://127.0.0.1:${proxy.port}`);
          }
        }
        const leafLink = leafnodes ? await LinkProxy.listen() : undefined;
        if (leafLink) leafLinks.push(leafLink);
        nodes.push(
          await LocalNatsServer.create({
            ...nodeOptions,
            ...(leafLink ? { leafnodeListen: true, leafnodeAdvertise: `127.0.0.1:${leafLink.port}` } : {}),
            name: `${name}-n${i + 1}-${suffix}`,
            // Port 1 refuses at once: gossiped (implicit) routes fail, so none goes around a proxy.
            cluster: {
              name,
              port: routePorts[i],
              routes,
              ...(partitionable ? { advertise: "127.0.0.1:1" } : {}),
            },
          }),
        );
      }
      for (const [i, link] of leafLinks.entries()) link.setTarget(nodes[i]?.leafnodePort as number);
      // Nodes must start together: the meta group needs a quorum.
      const results = await Promise.allSettled(nodes.map((n) => n.start()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      const cluster = new LocalNatsCluster(name, nodes, clusterReadyTimeoutMs, {
        routes: links,
        leafnodes: leafLinks,
      });
      await cluster.waitForMetaLeader();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
      await Promise.all([...links.values(), ...leafLinks].map((p) => p.close()));
      for (const p of routePorts) releasePort(p);
      throw err;
    }
  });
}
