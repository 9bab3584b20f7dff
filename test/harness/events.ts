/** Reading back what services stored: every event of a type, decoded, in stream order. */
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import { domainStream } from "../../streams/src/names.js";

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
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = domainStream(domain);
  const filter = `mfg.${domain}.${event}.>`;
  const info = await jsm.streams.info(stream, { subjects_filter: filter }).catch(() => undefined);
  const total = Object.values(info?.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  const codec = new EventCodec();
  // One filter subject: nats-server 2.9 has no multi-filter consumers.
  const consumer = await js.consumers.get(stream, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.All,
  });
  const out: Stored<K>[] = [];
  let seen = 0;
  while (seen < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - seen), expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      seen++;
      if (site !== undefined && m.subject.split(".")[3] !== site) continue;
      out.push({
        seq: m.seq,
        id: m.headers?.get("Nats-Msg-Id") ?? "",
        subject: m.subject,
        key: m.headers?.get("ce-subject") ?? "",
        source: m.headers?.get("ce-source") ?? "",
        value: codec.decodeKnown<EventPayloads[K]>(m.data, { as: type }).value,
      });
    }
    if (got === 0) break;
  }
  return out;
}
