/**
 * The SDK's stream reader against a real nats-server: bounded by what the stream held at the start,
 * sequence ranges and time windows, subject filters, decoding through the schema registry, the
 * consumer deleted however the read ends, options checked by name.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Catalog, contractFromText } from "../../contracts/src/catalog.js";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import { dataschemaOf, newEventId, toHeaders } from "../../streams/src/envelope.js";
import { ConfigError } from "../../streams/src/errors.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { readEvents, readMessages, readStream } from "../../streams/src/read.js";
import { withJetStream } from "../harness/nats.js";

const STREAM = "READ";

async function fill(
  js: JetStreamClient,
  jsm: JetStreamManager,
  n: number,
  subject = "read.a",
): Promise<void> {
  await jsm.streams.add({ name: STREAM, subjects: ["read.>"] }).catch(() => undefined);
  for (let i = 0; i < n; i++) await js.publish(subject, new TextEncoder().encode(`${subject}-${i}`));
}

const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function consumers(jsm: JetStreamManager, stream = STREAM): Promise<number> {
  return (await jsm.streams.info(stream)).state.consumer_count;
}

describe("read - bounds", () => {
  test("a read yields what the stream held when it started, in order, then ends; what is stored meanwhile waits for the next read", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 5);
    const seen: number[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, batch: 2 })) {
      seen.push(m.seq);
      if (m.seq === 1) await fill(js, jsm, 2);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(await readStream(nc, { stream: STREAM }, () => undefined), 7);
    assert.equal(await consumers(jsm), 0, "every reader's consumer is deleted");
  });

  test("a followed read yields what is stored after it started, then ends when its signal aborts; its consumer is deleted", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 2);
    const stop = new AbortController();
    const seen: number[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, follow: stop.signal })) {
      seen.push(m.seq);
      if (m.seq === 2) void sleep(100).then(() => fill(js, jsm, 1));
      if (m.seq === 3) setTimeout(() => stop.abort(), 50);
    }
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(await consumers(jsm), 0);
  });

  test("a sequence range reads fromSequence to toSequence, both included", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 10);
    const seqs = async (o: { fromSequence?: number; toSequence?: number }) => {
      const out: number[] = [];
      for await (const m of readMessages(nc, { stream: STREAM, batch: 3, ...o })) out.push(m.seq);
      return out;
    };
    assert.deepEqual(await seqs({ fromSequence: 3, toSequence: 6 }), [3, 4, 5, 6]);
    assert.deepEqual(await seqs({ fromSequence: 9 }), [9, 10]);
    assert.deepEqual(await seqs({ toSequence: 2 }), [1, 2]);
    assert.deepEqual(await seqs({ fromSequence: 11 }), []);
    assert.deepEqual(await seqs({ toSequence: 0 }), []);
    assert.equal(await consumers(jsm), 0);
  });

  test("a time window reads what was stored from since to until", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 3, "read.before");
    await sleep(50);
    const since = new Date();
    await fill(js, jsm, 3, "read.during");
    await sleep(50);
    const until = new Date();
    await sleep(50);
    await fill(js, jsm, 3, "read.after");
    const subjects: string[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, since, until })) subjects.push(m.subject);
    assert.deepEqual(subjects, ["read.during", "read.during", "read.during"]);
    const fromSince: string[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, since })) fromSince.push(m.subject);
    assert.equal(fromSince.length, 6);
  });

  test("a subject filter reads only its subjects; headersOnly reads no payloads", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 2, "read.a");
    await fill(js, jsm, 3, "read.b");
    const bodies: string[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, filter: "read.b" })) bodies.push(text(m.data));
    assert.deepEqual(bodies, ["read.b-0", "read.b-1", "read.b-2"]);
    const sizes: number[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, headersOnly: true })) sizes.push(m.data.length);
    assert.deepEqual(sizes, [0, 0, 0, 0, 0]);
  });

  test("leaving a read early ends it and deletes its consumer", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 20);
    let n = 0;
    for await (const _ of readMessages(nc, { stream: STREAM, batch: 5 })) if (++n === 7) break;
    assert.equal(n, 7);
    assert.equal(await consumers(jsm), 0);
    await assert.rejects(async () => {
      for await (const _ of readMessages(nc, { stream: STREAM })) throw new Error("the caller failed");
    }, /the caller failed/);
    assert.equal(await consumers(jsm), 0);
  });

  test("a reader whose consumer is lost mid-read (a node restarted, a leader moved) carries on from where it was: every message once, in order", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await fill(js, jsm, 30);
    const seen: number[] = [];
    for await (const m of readMessages(nc, { stream: STREAM, batch: 10 })) {
      seen.push(m.seq);
      if (m.seq === 10 || m.seq === 20)
        for await (const c of jsm.consumers.list(STREAM)) await jsm.consumers.delete(STREAM, c.name);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.equal(await consumers(jsm), 0);
  });

  test("a missing stream reads nothing with ifMissing: empty, and rejects by default", async (t) => {
    const { nc } = await withJetStream(t);
    assert.equal(await readStream(nc, { stream: "NOWHERE", ifMissing: "empty" }, () => undefined), 0);
    await assert.rejects(
      readStream(nc, { stream: "NOWHERE" }, () => undefined),
      /stream not found/,
    );
  });

  test("conflicting or wrong options are refused at the call, by name", async (t) => {
    const { nc } = await withJetStream(t);
    const refused = (fn: () => unknown, key: string) =>
      assert.throws(fn, (err: unknown) => err instanceof ConfigError && err.key === key);
    refused(() => readMessages(nc, { stream: STREAM, fromSequence: 2, since: new Date() }), "fromSequence");
    refused(() => readMessages(nc, { stream: STREAM, fromSequence: 0 }), "fromSequence");
    refused(() => readMessages(nc, { stream: STREAM, toSequence: 1.5 }), "toSequence");
    refused(() => readMessages(nc, { stream: STREAM, until: new Date("not a date") }), "until");
    refused(() => readMessages(nc, { stream: "" }), "stream");
    refused(() => readEvents(nc, { stream: STREAM, headersOnly: true } as never), "headersOnly");
  });
});

describe("read - events", () => {
  test("readEvents decodes each event into its envelope and typed value, skipping the types not asked for", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: "MFG_MACHINE", subjects: ["mfg.machine.>"] });
    const publisher = new EventPublisher(js, new EventCodec(), { service: "bridge", site: "lyon" });
    const downtime = (id: string): DowntimeStarted => ({
      downtimeId: id,
      equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: "m1" },
      reason: null,
      category: "UNCLASSIFIED",
      startedAt: new Date("2026-11-30T08:00:00.000Z"),
    });
    const target = { site: "lyon", line: "l1", machine: "m1", key: "m1" };
    const first = await publisher.publish("mfg.machine.downtime_started.v1", downtime("d1"), target);
    await publisher.publish(
      "mfg.machine.downtime_ended.v1",
      {
        ...downtime("d1"),
        endedAt: new Date("2026-11-30T08:05:00.000Z"),
        durationMillis: 300_000n,
      },
      target,
    );
    await publisher.publish("mfg.machine.downtime_started.v1", downtime("d2"), target);
    const read = readEvents(nc, { stream: "MFG_MACHINE", types: ["mfg.machine.downtime_started.v1"] });
    const events = [];
    for await (const e of read) events.push(e);
    assert.deepEqual(
      events.map((e) => [e.streamSequence, e.type, e.value.downtimeId]),
      [
        [1, "mfg.machine.downtime_started.v1", "d1"],
        [3, "mfg.machine.downtime_started.v1", "d2"],
      ],
    );
    const e = events[0];
    assert.ok(e);
    assert.equal(e.id, first.envelope.id);
    assert.equal(e.envelope.subject, "m1");
    assert.equal(e.routingSubject, first.subject);
    assert.equal(e.stream, "MFG_MACHINE");
    assert.ok(Math.abs(e.storedAt.getTime() - Date.now()) < 60_000);
    let all = 0;
    for await (const _ of readEvents(nc, { stream: "MFG_MACHINE" })) all++;
    assert.equal(all, 3);
  });

  test("events written with older and newer schema versions are resolved through the registry", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    const EVENT = "mfg.test.oven_cycle.v1";
    const record = (fields: unknown[]) =>
      JSON.stringify({
        type: "record",
        name: "OvenCycle",
        namespace: "mfg.test",
        doc: "An oven cycle.",
        fields,
      });
    const oven = { name: "oven", type: "string", doc: "Oven id." };
    const operator = { name: "operator", type: ["null", "string"], default: null, doc: "Who ran it." };
    const recipe = { name: "recipe", type: "string", default: "standard", doc: "Recipe." };
    const versions = [record([oven]), record([oven, operator]), record([oven, operator, recipe])];
    const registry = await SchemaRegistry.open(nc);
    for (const v of versions) await registry.register(EVENT, v);
    await jsm.streams.add({ name: "MFG_TEST", subjects: ["mfg.test.>"] });
    const codecOf = (v: string, writers?: SchemaRegistry) =>
      new EventCodec({
        catalog: new Catalog([contractFromText("test/OvenCycle.v1.avsc", v)]),
        ...(writers ? { writers } : {}),
      });
    const written = [
      [versions[0], { oven: "O-1" }],
      [versions[2], { oven: "O-2", operator: "ana", recipe: "hot" }],
    ] as const;
    for (const [schema, value] of written) {
      const codec = codecOf(schema as string);
      const fingerprint = codec.contract(EVENT).fingerprint;
      const headers = toHeaders({
        id: newEventId(),
        source: "urn:threadline:test:lyon",
        type: EVENT,
        time: new Date(),
        subject: value.oven,
        dataschema: dataschemaOf(EVENT, fingerprint),
      });
      await js.publish("mfg.test.oven_cycle.lyon", codec.encode(EVENT, value), { headers });
    }
    const reader = codecOf(versions[1] as string, registry);
    const seen: [unknown, number | undefined][] = [];
    for await (const e of readEvents(nc, { stream: "MFG_TEST", codec: reader }))
      seen.push([{ ...(e.value as object) }, e.writer.version]);
    assert.deepEqual(seen, [
      [{ oven: "O-1", operator: null }, 1],
      [{ oven: "O-2", operator: "ana" }, 3],
    ]);
  });
});
