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
 */
import type { NatsConnection, Payload, PublishOptions } from "@nats-io/nats-core";

const PULL_REQUEST = ".CONSUMER.MSG.NEXT.";

export class PullGate {
  /** The connection for the JetStream client whose consumes the gate guards. */
  readonly connection: NatsConnection;
  #open = true;

  constructor(nc: NatsConnection) {
    const publish = (subject: string, payload?: Payload, options?: PublishOptions): void => {
      if (this.#open || !subject.includes(PULL_REQUEST)) nc.publish(subject, payload, options);
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
}
