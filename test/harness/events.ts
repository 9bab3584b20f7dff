/** Reading back what services stored: every event of a type, decoded, in stream order. */
import type { NatsConnection } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import { domainStream } from "../../streams/src/names.js";
import { readStream } from "../../streams/src/read.js";

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
  const codec = new EventCodec();
  const out: Stored<K>[] = [];
  const read = {
    stream: domainStream(domain),
    filter: `mfg.${domain}.${event}.>`,
    ifMissing: "empty",
  } as const;
  await readStream(nc, read, (m) => {
    if (site !== undefined && m.subject.split(".")[3] !== site) return;
    out.push({
      seq: m.seq,
      id: m.headers?.get("Nats-Msg-Id") ?? "",
      subject: m.subject,
      key: m.headers?.get("ce-subject") ?? "",
      source: m.headers?.get("ce-source") ?? "",
      value: codec.decodeKnown<EventPayloads[K]>(m.data, { as: type }).value,
    });
  });
  return out;
}
