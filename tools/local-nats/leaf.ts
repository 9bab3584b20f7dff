/**
 * A hub and a leaf with separate JetStream domains, the leaf dialing the hub through a link proxy
 * so that a test can cut the WAN link and restore it without restarting either server.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { LeafnodeRemote } from "./config.js";
import { NatsLeafLinkTimeoutError } from "./errors.js";
import type { LeafzInfo } from "./monitor.js";
import { LinkProxy } from "./proxy.js";
import {
  type LocalNatsServer,
  logTails,
  type NatsServerOptions,
  startNatsServer,
  uniqueName,
} from "./server.js";

export interface LeafAndHubOptions {
  /**
   * JetStream domain of the hub.
   * @default "hub"
   */
  hubDomain?: string;
  /**
   * JetStream domain of the leaf (the plant).
   * @default "plant"
   */
  leafDomain?: string;
  /**
   * Extra options for the hub server (e.g. `extraConfig` with accounts).
   * @default {}
   */
  hub?: Omit<NatsServerOptions, "domain" | "leafnodeListen">;
  /**
   * Extra options for the leaf server.
   * @default {}
   */
  leaf?: Omit<NatsServerOptions, "domain" | "leafnodeRemotes">;
  /**
   * Raw config inside the leaf's remote entry, e.g. `account: "PLANT"` or `credentials: "/path"`.
   * @default undefined
   */
  remoteExtraConfig?: string;
  /**
   * How long to wait for the leaf connection to come up (also used by cut/restore).
   * @default 20000
   */
  linkTimeoutMs?: number;
}

/** Number of leafnode connections `server` reports; 0 when its monitoring port does not answer. */
async function leafConnections(server: LocalNatsServer): Promise<number> {
  try {
    return (await server.monitor<LeafzInfo>("leafz")).leafnodes;
  } catch {
    return 0;
  }
}

/**
 * A hub (JetStream domain "hub", accepting leafnode connections) and a leaf (domain "plant")
 * connected to it. The leaf's remote points at an in-process TCP proxy in front of the hub's
 * leafnode port, so the WAN link can be cut and restored without restarting either server:
 *
 * - {@link cutLink}: closes the leaf↔hub TCP connection and refuses reconnects. Both servers keep
 *   running, local clients stay connected, the leaf keeps its JetStream domain and store and keeps
 *   retrying every second. From the hub, `$JS.<leafDomain>.API` then has no responders.
 * - {@link restoreLink}: accepts connections again and waits until the leaf has reconnected.
 */
export class LocalLeafAndHub {
  readonly hub: LocalNatsServer;
  readonly leaf: LocalNatsServer;
  readonly hubDomain: string;
  readonly leafDomain: string;
  readonly #proxy: LinkProxy;
  readonly #linkTimeoutMs: number;

  constructor(init: {
    hub: LocalNatsServer;
    leaf: LocalNatsServer;
    hubDomain: string;
    leafDomain: string;
    proxy: LinkProxy;
    linkTimeoutMs: number;
  }) {
    this.hub = init.hub;
    this.leaf = init.leaf;
    this.hubDomain = init.hubDomain;
    this.leafDomain = init.leafDomain;
    this.#proxy = init.proxy;
    this.#linkTimeoutMs = init.linkTimeoutMs;
  }

  /** Port of the proxy the leaf dials (stands for the hub's WAN address). */
  get linkPort(): number {
    return this.#proxy.port;
  }

  /** False between {@link cutLink} and {@link restoreLink}. */
  get linkEnabled(): boolean {
    return !this.#proxy.cut;
  }

  /** Number of leafnode connections the hub currently has (0 or 1). */
  hubLeafConnections(): Promise<number> {
    return leafConnections(this.hub);
  }

  /**
   * True when both sides see the leafnode connection and the hub has received the leaf's
   * subscriptions (so requests to `$JS.<leafDomain>.API.>` are routed).
   */
  async isLinkUp(): Promise<boolean> {
    try {
      const [hubView, leafView] = await Promise.all([
        this.hub.monitor<LeafzInfo>("leafz"),
        this.leaf.monitor<LeafzInfo>("leafz"),
      ]);
      const link = hubView.leafs?.[0];
      return hubView.leafnodes > 0 && leafView.leafnodes > 0 && (link?.subscriptions ?? 0) > 0;
    } catch {
      return false;
    }
  }

  /** Wait until the link is up (`up = true`) or down on both sides (`up = false`). */
  async waitForLink(up: boolean, timeoutMs: number = this.#linkTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (up) {
        if (await this.isLinkUp()) return;
      } else {
        const [hubCount, leafCount] = await Promise.all([
          leafConnections(this.hub),
          leafConnections(this.leaf),
        ]);
        if (hubCount === 0 && leafCount === 0) return;
      }
      await sleep(50);
    }
    throw new NatsLeafLinkTimeoutError(
      `leaf ${this.leaf.name} -> hub ${this.hub.name} link not ${up ? "up" : "down"} after ${timeoutMs} ms.\n` +
        logTails([
          ["hub", this.hub],
          ["leaf", this.leaf],
        ]),
    );
  }

  /**
   * Simulate a WAN outage: drop the leaf↔hub TCP connection and refuse reconnects. Both servers
   * stay up. By default waits until neither side reports the leafnode connection any more.
   */
  async cutLink(options: { wait?: boolean } = {}): Promise<void> {
    this.#proxy.setCut(true);
    if (options.wait ?? true) await this.waitForLink(false);
  }

  /**
   * End the simulated outage. The leaf reconnects on its own (reconnect interval 1 s); by default
   * waits until the link is fully up again.
   */
  async restoreLink(options: { wait?: boolean } = {}): Promise<void> {
    this.#proxy.setCut(false);
    if (options.wait ?? true) await this.waitForLink(true);
  }

  /** Stop both servers, close the proxy, delete all storage. Idempotent. */
  async dispose(): Promise<void> {
    await Promise.all([this.leaf.dispose(), this.hub.dispose()]);
    await this.#proxy.close();
  }
}

/**
 * Start a hub (JetStream domain `hubDomain`, leafnode listener) and a leaf (JetStream domain
 * `leafDomain`) whose `leafnodes { remotes }` dials the hub through a cuttable in-process proxy;
 * resolves once the leaf connection is established.
 */
export async function startLeafAndHub(options: LeafAndHubOptions = {}): Promise<LocalLeafAndHub> {
  const hubDomain = options.hubDomain ?? "hub";
  const leafDomain = options.leafDomain ?? "plant";
  const linkTimeoutMs = options.linkTimeoutMs ?? 20_000;
  let hub: LocalNatsServer | undefined;
  let leaf: LocalNatsServer | undefined;
  let proxy: LinkProxy | undefined;
  try {
    // The hub advertises the proxy: otherwise the leaf learns the hub's own leafnode address and,
    // a second after a cut, reconnects straight to it around the proxy.
    proxy = await LinkProxy.listen();
    hub = await startNatsServer({
      name: uniqueName(hubDomain),
      ...options.hub,
      domain: hubDomain,
      leafnodeListen: true,
      leafnodeAdvertise: `127.0.0.1:${proxy.port}`,
    });
    proxy.setTarget(hub.leafnodePort!);
    const remote: LeafnodeRemote = { url: `nats-leaf://127.0.0.1:${proxy.port}` };
    if (options.remoteExtraConfig) remote.extraConfig = options.remoteExtraConfig;
    leaf = await startNatsServer({
      name: uniqueName(leafDomain),
      ...options.leaf,
      domain: leafDomain,
      leafnodeRemotes: [remote],
    });
    const pair = new LocalLeafAndHub({ hub, leaf, hubDomain, leafDomain, proxy, linkTimeoutMs });
    await pair.waitForLink(true);
    return pair;
  } catch (err) {
    await Promise.all([leaf?.dispose(), hub?.dispose()].map((p) => p?.catch(() => undefined)));
    await proxy?.close();
    throw err;
  }
}
