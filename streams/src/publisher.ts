/**
 * Typed publishing of canonical events: validate + encode (nothing invalid is sent), CloudEvents
 * headers, `Nats-Msg-Id` = `ce-id` for server-side dedup, and the PubAck awaited.
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { EventCodec } from "../../contracts/src/codec.js";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import {
  dataschemaOf,
  type EventEnvelope,
  newEventId,
  newTraceparent,
  sourceUrn,
  subjectFor,
  toHeaders,
} from "./envelope.js";

/** Where an event is routed and what it is about. */
export interface PublishTarget {
  /** Site token of the subject. */
  site: string;
  /** Optional line token. */
  line?: string;
  /** Optional machine token (needs `line`). */
  machine?: string;
  /** `ce-subject`: the business key (order, lot, machine). */
  key: string;
  /** Reuse an id to make a retry or a replay idempotent. @default a new UUIDv7 */
  id?: string;
  /** @default now */
  time?: Date;
  /** Continue a trace. @default a new trace */
  traceparent?: string;
}

export interface PublisherOptions {
  /** The service name in `ce-source`. */
  service: string;
  /** The site in `ce-source`. */
  site: string;
}

export interface Published {
  readonly envelope: EventEnvelope;
  readonly ack: PubAck;
  readonly subject: string;
}

export class EventPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly codec: EventCodec,
    private readonly options: PublisherOptions,
  ) {}

  /** Validates, encodes and publishes one event; resolves with the stream's PubAck. */
  async publish<K extends EventType>(
    eventType: K,
    payload: EventPayloads[K],
    target: PublishTarget,
  ): Promise<Published> {
    const contract = this.codec.contract(eventType);
    const data = this.codec.encodeWith(contract, payload);
    const envelope: EventEnvelope = {
      id: target.id ?? newEventId(),
      source: sourceUrn(this.options.service, this.options.site),
      type: eventType,
      time: target.time ?? new Date(),
      subject: target.key,
      dataschema: dataschemaOf(eventType, contract.fingerprint),
      traceparent: target.traceparent ?? newTraceparent(),
    };
    const subject = subjectFor(eventType, target.site, target.line, target.machine);
    const ack = await this.js.publish(subject, data, { headers: toHeaders(envelope), msgID: envelope.id });
    return { envelope, ack, subject };
  }
}
