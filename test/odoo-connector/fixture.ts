/**
 * Shared set-up of the Odoo connector's tests: the Odoo simulator (over HTTP only), a real
 * nats-server with the declared streams and buckets, the Odoo client, a publisher, and reading back
 * the events stored in the streams.
 */
import type { TestContext } from "node:test";
import { DeliverPolicy, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import type { EventPayloads, EventType } from "../../contracts/src/events.generated.js";
import { OdooClient, type OdooClientOptions } from "../../services/odoo-connector/src/odoo/index.js";
import { declarations } from "../../streams/src/declarations.js";
import { DLQ_HEADERS, DLQ_STREAM, dlqSubject, domainStream } from "../../streams/src/names.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import {
  type OdooSimulator,
  type OdooSimulatorOptions,
  startOdooSimulator,
} from "../../tools/sim/odoo/server.js";
import { connectTo, type LocalNatsServer, startTestServer } from "../harness/nats.js";

/** The connector's state bucket (streams/src/declarations.ts). */
export const CONNECTOR_STATE_BUCKET = "THREADLINE_CONNECTOR_STATE";

/** A nats-server with every declared stream and bucket (local profile); closed after the test or file. */
export async function startStreams(
  t?: TestContext,
): Promise<{ server: LocalNatsServer; nc: NatsConnection; jsm: JetStreamManager }> {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, declarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  return { server, nc, jsm };
}

export function connectorStateKv(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).open(CONNECTOR_STATE_BUCKET);
}

/** An Odoo simulator, stopped after the test. */
export async function startOdoo(t: TestContext, options: OdooSimulatorOptions): Promise<OdooSimulator> {
  const sim = await startOdooSimulator(options);
  t.after(() => sim.stop());
  return sim;
}

/** The connector's Odoo client on the simulator (as admin), closed after the test. */
export async function connectOdoo(
  t: TestContext,
  sim: OdooSimulator,
  overrides: Partial<OdooClientOptions> = {},
): Promise<OdooClient> {
  const client = await OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: sim.credentials.login,
    apiKey: sim.credentials.apiKey,
    timeoutMs: 5_000,
    registry: new Registry(),
    ...overrides,
  });
  t.after(() => client.close());
  return client;
}

export function connectorPublisher(
  nc: NatsConnection,
  site: string,
  registry = new Registry(),
): EventPublisher {
  return new EventPublisher(jetstream(nc), new EventCodec(), {
    service: "odoo-connector",
    site,
    metrics: registry,
  });
}

export interface Stored<K extends EventType> {
  readonly seq: number;
  readonly id: string;
  readonly subject: string;
  /** ce-subject: the business key. */
  readonly key: string;
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
        value: codec.decodeKnown<EventPayloads[K]>(m.data, { as: type }).value,
      });
    }
    if (got === 0) break;
  }
  return out;
}

// ------------------------------------------------------------------ outbound postings (outbound*.test.ts)

/** Publishes events as the shop floor does (machine bridge, quality service, shipment gate). */
export function floorPublisher(nc: NatsConnection, service: string, site: string): EventPublisher {
  return new EventPublisher(jetstream(nc), new EventCodec(), { service, site, metrics: new Registry() });
}

/**
 * Publishes a stored message again as a replay tool does: same data and headers (same ce-id), a new
 * Nats-Msg-Id so the stream takes it; returns its new stream sequence.
 */
export async function republish(nc: NatsConnection, stream: string, seq: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage(stream, { seq });
  if (!stored) throw new Error(`no message ${seq} in ${stream}`);
  const h = natsHeaders();
  for (const [k, v] of stored.header ?? []) for (const value of v) h.append(k, value);
  h.set("Nats-Msg-Id", `replay:${stream}:${seq}:${Date.now()}`);
  const ack = await jetstream(nc).publish(stored.subject, stored.data, { headers: h });
  return ack.seq;
}

export interface DeadLetter {
  readonly ceId: string;
  readonly code: string;
  readonly message: string;
}

/** The dead letters of a durable in MFG_DLQ, with their reason headers. */
export async function deadLetters(
  nc: NatsConnection,
  stream: string,
  durable: string,
): Promise<DeadLetter[]> {
  const jsm = await jetstreamManager(nc);
  const filter = dlqSubject(stream, durable);
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: filter }).catch(() => undefined);
  const total = Object.values(info?.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  const consumer = await jetstream(nc).consumers.get(DLQ_STREAM, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.All,
  });
  const out: DeadLetter[] = [];
  const batch = await consumer.fetch({ max_messages: total, expires: 2_000 });
  for await (const m of batch) {
    out.push({
      ceId: m.headers?.get("ce-id") ?? "",
      code: m.headers?.get(DLQ_HEADERS.code) ?? "",
      message: m.headers?.get(DLQ_HEADERS.message) ?? "",
    });
    if (out.length >= total) break;
  }
  return out;
}
