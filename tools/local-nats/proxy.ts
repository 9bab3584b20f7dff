/** A TCP link between two local endpoints that a test can cut and restore ({@link LinkProxy}). */
import net from "node:net";
import { closeServer, listenOnFreePort, releasePort } from "./ports.js";

/**
 * In-process TCP forwarder: between the leaf's remote URL and the hub's leafnode port, or between
 * any client and server (the machine bridge and an OPC UA server). Cutting it closes the forwarded
 * connections and refuses new ones, which to both ends looks exactly like the network link going
 * down; neither end is restarted.
 */
export class LinkProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #targetPort: number | undefined;
  #cut = false;
  readonly port: number;

  private constructor(server: net.Server, port: number, targetPort: number | undefined) {
    this.#server = server;
    this.port = port;
    this.#targetPort = targetPort;
    server.on("connection", (socket) => this.#onConnection(socket));
  }

  /** Listens on a free port; the target can be given later ({@link setTarget}), before the first connection. */
  static async listen(targetPort?: number): Promise<LinkProxy> {
    const { server, port } = await listenOnFreePort();
    return new LinkProxy(server, port, targetPort);
  }

  get cut(): boolean {
    return this.#cut;
  }

  setTarget(port: number): void {
    this.#targetPort = port;
  }

  #onConnection(downstream: net.Socket): void {
    downstream.unref();
    if (this.#cut || this.#targetPort === undefined) {
      downstream.destroy();
      return;
    }
    const upstream = net.connect({ port: this.#targetPort, host: "127.0.0.1" });
    upstream.unref();
    this.#sockets.add(downstream);
    this.#sockets.add(upstream);
    const teardown = () => {
      downstream.destroy();
      upstream.destroy();
      this.#sockets.delete(downstream);
      this.#sockets.delete(upstream);
    };
    downstream.on("error", teardown).on("close", teardown);
    upstream.on("error", teardown).on("close", teardown);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  }

  setCut(cut: boolean): void {
    this.#cut = cut;
    if (cut) {
      for (const socket of this.#sockets) socket.destroy();
      this.#sockets.clear();
    }
  }

  async close(): Promise<void> {
    this.setCut(true);
    await closeServer(this.#server);
    releasePort(this.port);
  }
}
