/** Reading back what services stored: every event of a type, decoded, in stream order. */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import { domainStream } from "../../streams/src/names.js";
import { readEvents } from "../../streams/src/read.js";

export interface Stored<K extends EventType> {
  readonly seq: number;
  /** Nats-Msg-Id (= ce-id). */
  readonly id: string;
  readonly subject: string;
  /** ce-subject: the business key. */
  readonly key: string;
  /** ce-source: `urn:threadline:<service>:<site>`. */
  readonly source: string;
  readonly value: EventPayloads[K];
}

/** Every stored event of a type (of one site when given), in stream order, decoded. */
export async function storedEvents<K extends EventType>(
  nc: NatsConnection,
  type: K,
  site?: string,
): Promise<Stored<K>[]> {
  const [, domain, event] = type.split(".") as [string, string, string];
  const out: Stored<K>[] = [];
  const read = readEvents(nc, {
    stream: domainStream(domain),
    filter: `mfg.${domain}.${event}.>`,
    ifMissing: "empty",
    types: [type],
  });
  for await (const e of read) {
    if (site !== undefined && e.routingSubject.split(".")[3] !== site) continue;
    out.push({
      seq: e.streamSequence,
      id: e.headers?.get("Nats-Msg-Id") ?? "",
      subject: e.routingSubject,
      key: e.envelope.subject,
      source: e.envelope.source,
      value: e.value as EventPayloads[K],
    });
  }
  return out;
}
