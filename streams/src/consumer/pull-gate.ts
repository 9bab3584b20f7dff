/**
 * Keeps the pull requests of a stopped consume off the wire.
 *
 * nats.js queues a consume's follow-up pull request in its iterator, behind the messages it has
 * received; draining a stopped consume runs it, and it is published with the closed inbox as reply.
 * A plain server drops it (no interest in the reply). A server that accepts leaf nodes or gateways —
 * a hub — serves a pull request younger than 2 s without that check (nats-server consumer.go
 * `nextWaiting`, `defaultGatewayRecentSubExpiration`): the messages go to nobody and come back only
 * after their ack wait (2.9; the current release sooner), behind later ones. Measured on a leaf-node
 * server: every hand-over of a full consumer lost a pull's worth of messages.
 *
 * The gate is a view of the connection, given to the consumer's JetStream client, that drops pull
 * requests (`…CONSUMER.MSG.NEXT.…`) while shut; everything else goes through untouched. A consumer
 * runs one consume at a time: it opens the gate before starting one and shuts it when stopping it.
 *
 * On a durable that pins one client (`priority_policy: pinned_client`, a partition durable on 2.11+)
 * the gate also carries the server's pin from one consume to the next (see `#pinned`).
 */
import type { NatsConnection, Payload, PublishOptions } from "@nats-io/nats-core";

const PULL_REQUEST = ".CONSUMER.MSG.NEXT.";

export class PullGate {
  /** The connection for the JetStream client whose consumes the gate guards. */
  readonly connection: NatsConnection;
  #open = true;
  /** The pin the server gave this consumer's pull requests, carried from one consume to the next. */
  #pin: string | undefined;

  /**
   * `mayPull`: asked before each pull request; false drops it (a partition's consumer once its lease
   * is no longer current: it must not ask the server for a pin the new owner is waiting for).
   * @default always true
   */
  constructor(nc: NatsConnection, mayPull: () => boolean = () => true) {
    const publish = (subject: string, payload?: Payload, options?: PublishOptions): void => {
      if (!subject.includes(PULL_REQUEST)) nc.publish(subject, payload, options);
      else if (this.#open && mayPull()) nc.publish(subject, this.#pinned(payload), options);
    };
    this.connection = new Proxy(nc, {
      get(target, property) {
        if (property === "publish") return publish;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** Lets pull requests through (before a consume starts). */
  open(): void {
    this.#open = true;
  }

  /** Drops pull requests from now on (as a consume stops). */
  shut(): void {
    this.#open = false;
  }

  /** The pin this consumer holds, if any. */
  get pin(): string | undefined {
    return this.#pin;
  }

  /** The server pinned this consumer (a pinned_client durable, 2.11+): its next consumes keep the pin. */
  pinned(id: string): void {
    this.#pin = id;
  }

  /** The server took the pin away (423): the next pull request asks for a new one. */
  unpinned(): void {
    this.#pin = undefined;
  }

  /**
   * A pull request of a priority group that carries no pin gets the pin this consumer holds: a new
   * consume starts without one (nats.js keeps it per consume), and the server leaves a request
   * without the current pin waiting until the pin times out (nats-server consumer.go `nextWaiting`).
   */
  #pinned(payload: Payload | undefined): Payload | undefined {
    if (this.#pin === undefined || typeof payload !== "string") return payload;
    const request = JSON.parse(payload) as { group?: unknown; id?: unknown };
    if (typeof request.group !== "string" || request.id) return payload;
    return JSON.stringify({ ...request, id: this.#pin });
  }
}
