/**
 * Specification: a service's consumers run as one group (streams/src/consumer-group.ts, what
 * runService uses) — checked against the service's manifest, every handler wrapped by the service's
 * interceptors (first outermost, able to map errors), and all paused while the service's pause policy
 * says so, resumed when it no longer does, with the reason on the readiness checks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AckPolicy, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import { type ConsumerOptions, PermanentError } from "../../streams/src/consumer.js";
import { type PausePolicy, startConsumers } from "../../streams/src/consumer-group.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import { ConfigError } from "../../streams/src/errors.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import { DLQ_STREAM } from "../../streams/src/names.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { readMessages } from "../../streams/src/read.js";
import { connectedServerHas } from "../../streams/src/server-features.js";
import { withJetStream } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import { downtime } from "./fixtures/downtime.js";

const STREAM = "MFG_MACHINE";
const DURABLE = "downtime-board-started";
const TYPE = "mfg.machine.downtime_started.v1";
const codec = new EventCodec();

const manifest = serviceManifest({
  service: "downtime-board",
  description: "a board of open downtimes",
  consumers: {
    [DURABLE]: {
      stream: STREAM,
      description: "downtime-board: open downtimes",
      filterSubjects: ["mfg.machine.downtime_started.>"],
      ackWait: "30s",
      backoff: [],
      maxDeliver: 3,
      maxAckPending: 64,
    },
  },
});

async function setup(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
  await jsm.streams.add({ name: DLQ_STREAM, subjects: ["mfg.dlq.>"] });
  await jsm.consumers.add(STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(30_000),
    max_deliver: 3,
  });
}

/** A pause policy a test switches by hand. */
function switchable(reason: string): PausePolicy & { set(paused: boolean): void } {
  let paused = false;
  const listeners = new Set<() => void>();
  return {
    paused: () => paused,
    reason: () => reason,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(value) {
      paused = value;
      for (const l of listeners) l();
    },
  };
}

const consumer = (handle: (id: string) => Promise<void>): ConsumerOptions => ({
  stream: STREAM,
  durable: DURABLE,
  codec,
  pullExpiresMs: 2_000,
  handlers: { [TYPE]: (e) => handle((e.value as DowntimeStarted).downtimeId) },
});

describe("consumer group", () => {
  test("interceptors wrap every handler, the first outermost; one may turn any failure into a dead letter", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const trace: string[] = [];
    const group = await startConsumers(nc, {
      manifest,
      consumers: [
        consumer(async (id) => {
          trace.push(`handle ${id}`);
          if (id === "bad") throw new Error("the board's store refused it");
        }),
      ],
      interceptors: [
        async ({ event }, next) => {
          trace.push(`outer> ${(event.value as DowntimeStarted).downtimeId}`);
          try {
            await next();
          } catch (err) {
            throw new PermanentError("HANDLER_PERMANENT", `board: ${(err as Error).message}`);
          } finally {
            trace.push("<outer");
          }
        },
        async ({ durable }, next) => {
          trace.push(`inner> ${durable}`);
          await next();
          trace.push("<inner");
        },
      ],
    });
    t.after(() => group.stop({ timeoutMs: 1_000 }));
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("d1"), { site: "lyon", key: "m1" });
    await until("d1 handled", () => trace.includes("<outer"));
    assert.deepEqual(trace, ["outer> d1", `inner> ${DURABLE}`, "handle d1", "<inner", "<outer"]);

    await publisher.publish(TYPE, downtime("bad"), { site: "lyon", key: "m1" });
    const letters = async () => {
      const out = [];
      for await (const m of readMessages(nc, { stream: DLQ_STREAM, ifMissing: "empty" }))
        out.push(readDeadLetter(m));
      return out;
    };
    await until(
      "the failure dead-lettered by the interceptor's verdict",
      async () => (await letters()).length === 1,
    );
    const [letter] = await letters();
    assert.equal(letter?.code, "HANDLER_PERMANENT");
    assert.equal(letter?.message, "board: the board's store refused it");
  });

  test("the pause policy pauses every consumer, /readyz names its reason, and resuming delivers what waited", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const handled: string[] = [];
    const policy = switchable("the board's database is down");
    const group = await startConsumers(nc, {
      manifest,
      consumers: [consumer(async (id) => void handled.push(id))],
      pausePolicy: policy,
    });
    t.after(() => group.stop({ timeoutMs: 1_000 }));
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("before"), { site: "lyon", key: "m1" });
    await until("handled while running", () => handled.includes("before"));

    policy.set(true);
    assert.equal(group.consumers[0]?.state, "paused");
    assert.deepEqual(await group.checks[0]?.check(), {
      ok: false,
      reason: "paused: the board's database is down",
    });
    await publisher.publish(TYPE, downtime("while-paused"), { site: "lyon", key: "m1" });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(handled, ["before"], "nothing is delivered while paused");
    const info = await (await jetstreamManager(nc)).consumers.info(STREAM, DURABLE);
    assert.equal(info.num_pending, 1, "the event waits in the stream");
    // Where the server can (2.11+), the durable is paused there too: every replica stops, ops see it.
    const onServer = connectedServerHas(nc, "consumerPauseApi");
    if (onServer)
      await until(
        "paused on the server",
        async () => (await jsm.consumers.info(STREAM, DURABLE)).paused === true,
      );

    policy.set(false);
    await until("delivered after the resume", () => handled.includes("while-paused"));
    assert.deepEqual(await group.checks[0]?.check(), { ok: true });
    if (onServer) assert.ok(!(await jsm.consumers.info(STREAM, DURABLE)).paused, "resumed on the server");
  });

  test("a service that stops while paused leaves its durable resumed on the server for the replicas that stay", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    await setup(jsm);
    const policy = switchable("Odoo down");
    const group = await startConsumers(nc, {
      consumers: [consumer(async () => undefined)],
      pausePolicy: policy,
    });
    policy.set(true);
    if (connectedServerHas(nc, "consumerPauseApi"))
      await until(
        "paused on the server",
        async () => (await jsm.consumers.info(STREAM, DURABLE)).paused === true,
      );
    await group.stop({ timeoutMs: 1_000 });
    assert.ok(!(await jsm.consumers.info(STREAM, DURABLE)).paused);
  });

  test("a consumer paused by hand stays paused when the policy lifts", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    await setup(jsm);
    const policy = switchable("maintenance");
    const group = await startConsumers(nc, {
      consumers: [consumer(async () => undefined)],
      pausePolicy: policy,
    });
    t.after(() => group.stop({ timeoutMs: 1_000 }));
    group.consumers[0]?.pause();
    policy.set(true);
    policy.set(false);
    assert.equal(group.consumers[0]?.state, "paused");
  });

  test("a durable the manifest does not declare, or declares on another stream, is refused before anything starts", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    await setup(jsm);
    await assert.rejects(
      startConsumers(nc, {
        manifest,
        consumers: [{ ...consumer(async () => undefined), durable: "downtime-board-x" }],
      }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.key === "consumers.downtime-board-x" &&
        /is not declared in downtime-board's manifest \(declared: downtime-board-started\)/.test(err.message),
    );
    await assert.rejects(
      startConsumers(nc, {
        manifest,
        consumers: [{ ...consumer(async () => undefined), stream: "MFG_PRODUCTION" }],
      }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.key === `consumers.${DURABLE}.stream` &&
        /is MFG_PRODUCTION, but downtime-board's manifest declares it on MFG_MACHINE/.test(err.message),
    );
  });
});
