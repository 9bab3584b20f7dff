/**
 * Specification: a partitioned durable (streams/src/partitioned-consumer.ts). A manifest's
 * `partitions: 6` makes six durables `<durable>-p0..p5` (streams apply creates them); replicas share
 * the partitions through WorkShares, one owner each at a time, and each owner handles only the keys
 * of its partitions. So with several replicas every message is handled once and the messages of one
 * key in stream order — also when a replica stops in the middle of the traffic, and when one dies
 * without releasing anything (its partitions move once its leases lapse). A service that had the
 * durable unpartitioned does not handle the stream again from its start.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import type { TestContext } from "node:test";
import { describe, test } from "node:test";
import { AckPolicy, type ConsumerInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import type { ConsumerOptions } from "../../streams/src/consumer/options.js";
import { createEventConsumer } from "../../streams/src/consumer.js";
import { type ConsumerGroup, startConsumers } from "../../streams/src/consumer-group.js";
import { declarations } from "../../streams/src/declarations.js";
import { createLogger } from "../../streams/src/logger.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import type { PartitionedEventConsumer } from "../../streams/src/partitioned-consumer.js";
import {
  PARTITION_OWNER_GROUP,
  partitionDurable,
  partitionDurables,
  partitionOf,
} from "../../streams/src/partitions.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { connectedServerHas } from "../../streams/src/server-features.js";
import { metricSum } from "../harness/metrics.js";
import { connectTo, withJetStream } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const STREAM = "MFG_MACHINE";
const DURABLE = "downtime-board-started";
const TYPE = "mfg.machine.downtime_started.v1";
const BUCKET = "THREADLINE_CONNECTOR_STATE";
/** Six over three replicas: a fair share of exactly two each (ceil(6 / 3)), so each has work to lose. */
const PARTITIONS = 6;
const KEYS = Array.from({ length: 12 }, (_, i) => `m${i}`);
/** Short, so a replica that died without releasing hands its partitions over within seconds. */
const TTL_MS = 2_000;
const codec = new EventCodec();

function manifestWith(partitions: number | undefined) {
  return serviceManifest({
    service: "downtime-board",
    description: "a board of open downtimes",
    consumers: {
      [DURABLE]: {
        stream: STREAM,
        description: "downtime-board: open downtimes",
        filterSubjects: ["mfg.machine.downtime_started.>"],
        ackWait: "5s",
        backoff: [],
        maxDeliver: 5,
        maxAckPending: 256,
        ...(partitions ? { partitions } : {}),
      },
    },
  });
}

async function apply(nc: NatsConnection, partitions: number | undefined) {
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const jsm = await jetstreamManager(nc);
  const plan = await planChanges(
    jsm,
    declarations({ manifests: [manifestWith(partitions)] }),
    serverFacts(nc),
  );
  await applyPlan(jsm, plan);
  return plan;
}

function downtime(id: string, machine: string): DowntimeStarted {
  return {
    downtimeId: id,
    equipment: { site: "lyon", area: null, line: "l1", cell: null, machine },
    reason: null,
    category: "UNCLASSIFIED",
    startedAt: new Date("2026-11-30T08:00:00.000Z"),
  };
}

interface Handling {
  readonly replica: string;
  readonly key: string;
  readonly id: string;
  readonly seq: number;
}

/**
 * A replica of the service on its own connection, its partitioned consumer of DURABLE (`count`
 * partitions, ordered, 1 s pulls, the lease bucket shared by all replicas) with `options` on top.
 */
async function startReplica(
  t: TestContext,
  server: Parameters<typeof connectTo>[0],
  holder: string,
  options: Omit<ConsumerOptions, "stream" | "durable">,
  count = PARTITIONS,
): Promise<{ nc: NatsConnection; group: ConsumerGroup }> {
  const nc = await connectTo(server, {}, t);
  const kv = await new Kvm(nc).open(BUCKET);
  const group = await startConsumers(nc, {
    manifest: manifestWith(count),
    replay: false,
    consumers: [
      {
        stream: STREAM,
        durable: DURABLE,
        ordered: true,
        pullExpiresMs: 1_000,
        metrics: new Registry(),
        ...options,
        partitions: { count, kv, holder, ttlMs: TTL_MS, group: `downtime-board.${DURABLE}` },
      },
    ],
  });
  t.after(() => group.stop({ timeoutMs: 1_000 }));
  return { nc, group };
}

/** One replica of the service: its own connection, holder and metrics. */
async function replica(
  t: TestContext,
  server: Parameters<typeof connectTo>[0],
  name: string,
  handled: Handling[],
): Promise<{ nc: NatsConnection; group: ConsumerGroup; registry: Registry }> {
  const registry = new Registry();
  const { nc, group } = await startReplica(t, server, name, {
    concurrency: 4,
    drainTimeoutMs: 5_000,
    metrics: registry,
    handlers: {
      [TYPE]: async (event) => {
        // Handlers of different keys overlap; a short pause makes a reorder visible if one happened.
        await new Promise((r) => setTimeout(r, 1 + (event.streamSequence % 4)));
        handled.push({
          replica: name,
          key: event.key ?? "",
          id: event.value.downtimeId,
          seq: event.streamSequence,
        });
      },
    },
  });
  return { nc, group, registry };
}

/** The partitions each replica owns now, e.g. `a:p0,p2 b:p1,p3`. */
function owners(replicas: Record<string, ConsumerGroup>): string {
  return Object.entries(replicas)
    .map(
      ([name, g]) =>
        `${name}:${((g.consumers[0] as PartitionedEventConsumer).owned() ?? []).sort().join(",")}`,
    )
    .join(" ");
}

const consumedTotal = (registry: Registry, outcome: string) =>
  metricSum(registry, "threadline_events_consumed_total", { outcome });

/** Every published id handled exactly once; per key, handled in stream (publish) order. */
function assertOnceAndInOrder(
  handled: readonly Handling[],
  published: readonly { id: string; key: string }[],
) {
  const ids = handled.map((h) => h.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(twice, [], "no message handled twice");
  assert.deepEqual([...ids].sort(), published.map((p) => p.id).sort(), "every message handled");
  for (const key of KEYS)
    assert.deepEqual(
      handled.filter((h) => h.key === key).map((h) => h.id),
      published.filter((p) => p.key === key).map((p) => p.id),
      `the messages of ${key} in stream order`,
    );
}

describe("partitioned consumer: per-key order across replicas", () => {
  test("three replicas share six partitions: each message handled once, each key in stream order, across a replica stopped mid-traffic and one that died without releasing", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    const plan = await apply(nc, PARTITIONS);
    // The server gets the partitions; the replay channel keeps the partitioned durable's name.
    const durables = plan.items
      .filter((i) => i.kind === "consumer" && i.name.includes(DURABLE))
      .map((i) => i.name);
    assert.deepEqual(durables.sort(), [
      ...partitionDurables(DURABLE, PARTITIONS).map((d) => `${STREAM}/${d}`),
      `THREADLINE_REPLAY/${DURABLE}-replay`,
    ]);
    const handled: Handling[] = [];
    const a = await replica(t, server, "a", handled);
    const b = await replica(t, server, "b", handled);
    const c = await replica(t, server, "c", handled);
    const groups = { a: a.group, b: b.group, c: c.group };
    const ownedCount = () =>
      Object.values(groups).map((g) => (g.consumers[0] as PartitionedEventConsumer).owned().length);
    await until(
      "two partitions each",
      () => {
        const n = ownedCount();
        return n.every((k) => k === 2);
      },
      { detail: () => owners(groups) },
    );

    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const published: { id: string; key: string }[] = [];
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) {
        // Keys interleaved, unevenly: m0 gets the most.
        const key = KEYS[(i * 7 + (i % 5)) % KEYS.length] as string;
        const id = `${key}:${published.length}`;
        published.push({ id, key });
        await publisher.publish(TYPE, downtime(id, key), { site: "lyon", line: "l1", machine: key, key });
      }
    };

    // Phase 1: replica a stops (releasing its partitions) while the traffic is being handled.
    const phase1 = publish(300);
    await until("a third of phase 1 handled", () => handled.length >= 100, { timeoutMs: 60_000 });
    await a.group.stop({ timeoutMs: 5_000 });
    await phase1;
    await until("phase 1 handled", () => handled.length >= 300, {
      timeoutMs: 60_000,
      detail: () => `${handled.length} handled; ${owners({ b: b.group, c: c.group })}`,
    });
    assert.equal(
      handled.filter((h) => h.replica === "a").length > 0 &&
        handled.filter((h) => h.replica !== "a").length > 0,
      true,
      "a handled some before it stopped, the others the rest",
    );

    // Phase 2: replica b dies without releasing (its connection closes; its leases lapse after the ttl).
    await new Promise((r) => setTimeout(r, 200)); // its last acks written
    const bOwned = (b.group.consumers[0] as PartitionedEventConsumer).owned();
    await b.nc.close();
    const diedAt = Date.now();
    await publish(200);
    await until("phase 2 handled by c", () => handled.length >= 500, {
      timeoutMs: 60_000,
      detail: () => `${handled.length} handled; ${owners({ c: c.group })}`,
    });
    const takeoverMs = Date.now() - diedAt;
    t.diagnostic(`b owned ${bOwned.join(",")}; c handled all of phase 2 ${takeoverMs} ms after b died`);
    assert.equal(
      handled.slice(300).every((h) => h.replica === "c"),
      true,
      "only c handles after b died",
    );
    assert.equal((c.group.consumers[0] as PartitionedEventConsumer).owned().length, PARTITIONS);

    assertOnceAndInOrder(handled, published);
    // A partition's consumer acknowledges the other partitions' messages without counting them as handled.
    const acked =
      (await consumedTotal(a.registry, "acked")) +
      (await consumedTotal(b.registry, "acked")) +
      (await consumedTotal(c.registry, "acked"));
    assert.equal(acked, 500);
    assert.ok((await consumedTotal(c.registry, "other_partition")) > 0);
  });

  test("an ordering key that is looked up first (a promise) keeps each key's stream order", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await apply(nc, undefined);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const published: { id: string; key: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const key = KEYS[(i * 5) % 4] as string;
      const id = `${key}:${i}`;
      published.push({ id, key });
      await publisher.publish(TYPE, downtime(id, key), { site: "lyon", line: "l1", machine: key, key });
    }
    const handled: Handling[] = [];
    const consumer = createEventConsumer(nc, {
      stream: STREAM,
      durable: DURABLE,
      ordered: true,
      concurrency: 8,
      // Every third key needs a lookup that takes a while (as a writer schema fetched from the registry).
      orderingKey: (msg) => {
        const key = msg.headers?.get("ce-subject") || undefined;
        return msg.info.streamSequence % 3 === 0 ? new Promise((r) => setTimeout(() => r(key), 20)) : key;
      },
      handlers: {
        [TYPE]: async (event) => {
          await new Promise((r) => setTimeout(r, 1 + (event.streamSequence % 5)));
          handled.push({
            replica: "one",
            key: event.key ?? "",
            id: event.value.downtimeId,
            seq: event.streamSequence,
          });
        },
      },
    });
    t.after(() => consumer.stop({ timeoutMs: 1_000 }));
    await consumer.start();
    await until("all handled", () => handled.length >= published.length);
    for (const key of new Set(published.map((p) => p.key)))
      assert.deepEqual(
        handled.filter((h) => h.key === key).map((h) => h.id),
        published.filter((p) => p.key === key).map((p) => p.id),
        `${key} in stream order`,
      );
    assert.equal((await jsm.consumers.info(STREAM, DURABLE)).num_ack_pending, 0);
  });

  test("a partitioned message whose ordering key fails for a while is keyed again, not placed by its sequence: handled once, by its key's partition", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    await apply(nc, PARTITIONS);
    // A key whose partition differs from the one its sequence (1) would give: placed by sequence, no
    // partition's consumer would take it as its own.
    const key = KEYS.find(
      (k) => partitionOf(k, 0, PARTITIONS) !== partitionOf(undefined, 1, PARTITIONS),
    ) as string;
    let failures = 0;
    const handled: string[] = [];
    const { group } = await startReplica(t, server, "a", {
      // The lookup behind the key (a writer schema from the registry) fails three times, on the
      // consumer of the key's own partition only: placed by its sequence there, and keyed right
      // everywhere else, the message would be every consumer's "other partition".
      orderingKey: (msg) =>
        msg.info.consumer === partitionDurable(DURABLE, partitionOf(key, 0, PARTITIONS)) && failures++ < 3
          ? Promise.reject(new Error("registry unreachable"))
          : msg.headers?.get("ce-subject") || undefined,
      handlers: {
        [TYPE]: async (event) => {
          handled.push(event.value.downtimeId);
        },
      },
    });
    const partitioned = group.consumers[0] as PartitionedEventConsumer;
    await until("all partitions owned", () => partitioned.owned().length === PARTITIONS);
    await new EventPublisher(js, codec, { service: "bridge", site: "lyon" }).publish(
      TYPE,
      downtime("d1", key),
      {
        site: "lyon",
        line: "l1",
        machine: key,
        key,
      },
    );
    await until("handled", () => handled.length > 0, { timeoutMs: 30_000 });
    assert.ok(failures >= 3, "the key failed first");
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(handled, ["d1"], "handled once");
  });

  test("a key's partition is the same on every replica and spreads the keys", () => {
    assert.equal(partitionOf("order:WH/MO/00042", 1, 4), partitionOf("order:WH/MO/00042", 999, 4));
    const spread = new Set(KEYS.map((k) => partitionOf(k, 0, PARTITIONS)));
    assert.equal(spread.size, PARTITIONS);
    // A message without a key has no order to keep: its sequence places it.
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((seq) => partitionOf(undefined, seq, 4)),
      [1, 2, 3, 0, 1],
    );
  });

  test("moving a durable to partitions: the partitions start after the old durable's ack floor, nothing acknowledged is handled again", async (t) => {
    const { server, nc, js, jsm } = await withJetStream(t);
    await apply(nc, undefined);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    for (let i = 0; i < 20; i++)
      await publisher.publish(TYPE, downtime(`old:${i}`, `m${i % 3}`), {
        site: "lyon",
        line: "l1",
        machine: `m${i % 3}`,
        key: `m${i % 3}`,
      });
    // The unpartitioned deployment handled (acked) the first 15.
    const old = await js.consumers.get(STREAM, DURABLE);
    const batch = await old.fetch({ max_messages: 15, expires: 2_000 });
    for await (const m of batch) m.ack();
    await until(
      "old durable's ack floor at 15",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 15,
    );

    const plan = await apply(nc, PARTITIONS);
    const p0 = plan.items.find((i) => i.name === `${STREAM}/${DURABLE}-p0`);
    assert.match(
      p0?.notes.join() ?? "",
      /starts at stream sequence 16, after the ack floor of downtime-board-started/,
    );
    for (const d of partitionDurables(DURABLE, PARTITIONS)) {
      const info = await jsm.consumers.info(STREAM, d);
      assert.equal(info.config.deliver_policy, "by_start_sequence");
      assert.equal(info.config.opt_start_seq, 16);
      assert.equal(info.config.ack_policy, AckPolicy.Explicit);
    }
    assert.deepEqual(plan.unmanaged, [{ kind: "consumer", name: `${STREAM}/${DURABLE}` }]);

    const handled: Handling[] = [];
    await replica(t, server, "a", handled);
    await until("the 5 not acknowledged handled", () => handled.length >= 5);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(handled.map((h) => h.id).sort(), ["old:15", "old:16", "old:17", "old:18", "old:19"]);
    // Applying again changes nothing.
    const again = await apply(nc, PARTITIONS);
    assert.equal(again.items.filter((i) => i.action !== "unchanged").length, 0);
  });
});

describe("partitioned consumer: a deposed owner mid-handler", () => {
  test("a handler frozen past its partition's lease (as a paused process is) finds ctx.owner() false; its event is given back, not failed, and handled by the owner after", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    await apply(nc, PARTITIONS);
    const attempts: { owner: boolean; attempt: number }[] = [];
    const { group } = await startReplica(t, server, "a", {
      drainTimeoutMs: 1_000,
      handlers: {
        [TYPE]: async (_event, ctx) => {
          // The first attempt freezes the whole process (no timer, no renewal) beyond the lease.
          if (attempts.length === 0)
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TTL_MS + 500);
          attempts.push({ owner: ctx.owner(), attempt: ctx.attempt });
          // What a fenced write does (the Odoo connector's client refuses every call): fail.
          if (!ctx.owner()) throw new Error("refused: no longer the partition's owner");
        },
      },
    });
    const partitioned = group.consumers[0] as PartitionedEventConsumer;
    await until("all partitions owned", () => partitioned.owned().length === PARTITIONS);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("frozen", "m0"), {
      site: "lyon",
      line: "l1",
      machine: "m0",
      key: "m0",
    });
    await until("handled by an owner", () => attempts.some((a) => a.owner), { timeoutMs: 60_000 });
    assert.equal(attempts[0]?.owner, false, "woken from the freeze, the handler is no longer the owner");
    assert.equal(attempts.filter((a) => a.owner).length, 1, "handled once by an owner");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const dlq = await (await jetstreamManager(nc)).streams.info("MFG_DLQ").catch(() => undefined);
    assert.equal(dlq?.state.messages ?? 0, 0, "the deposed attempt was not dead-lettered");
  });
});

describe("partitioned consumer: a partition given up gracefully", () => {
  /** A replica whose handler is `handle`; drain deadline 1.5 s. */
  async function gracefulReplica(
    t: TestContext,
    server: Parameters<typeof connectTo>[0],
    name: string,
    handle: (id: string, owner: () => boolean) => Promise<void>,
  ): Promise<ConsumerGroup> {
    const { group } = await startReplica(t, server, name, {
      drainTimeoutMs: 1_500,
      handlers: { [TYPE]: (event, ctx) => handle(event.value.downtimeId, () => ctx.owner()) },
    });
    return group;
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const publishOne = (js: ConstructorParameters<typeof EventPublisher>[0], id: string, key: string) =>
    new EventPublisher(js, codec, { service: "bridge", site: "lyon" }).publish(TYPE, downtime(id, key), {
      site: "lyon",
      line: "l1",
      machine: key,
      key,
    });

  test("a replica stopping lets a running handler finish as the owner (its writes go through); one outliving the drain deadline is fenced from then on", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    await apply(nc, PARTITIONS);
    const seen: { id: string; ownerAtStart: boolean; ownerAtEnd: boolean }[] = [];
    let running = 0;
    const group = await gracefulReplica(t, server, "a", async (id, owner) => {
      running++;
      const ownerAtStart = owner();
      // "quick" ends well within the drain deadline; "slow" outlives it.
      await sleep(id === "quick" ? 600 : 2_500);
      seen.push({ id, ownerAtStart, ownerAtEnd: owner() });
    });
    const partitioned = group.consumers[0] as PartitionedEventConsumer;
    await until("all partitions owned", () => partitioned.owned().length === PARTITIONS);
    // Two keys of different partitions, so both handlers run at once.
    const k1 = KEYS[0] as string;
    const k2 = KEYS.find((k) => partitionOf(k, 0, PARTITIONS) !== partitionOf(k1, 0, PARTITIONS)) as string;
    await publishOne(js, "quick", k1);
    await publishOne(js, "slow", k2);
    await until("both handlers running", () => running === 2);
    await group.stop({ timeoutMs: 1_500 });
    await until("the slow handler ended too", () => seen.length === 2, { timeoutMs: 10_000 });
    const quick = seen.find((s) => s.id === "quick");
    const slow = seen.find((s) => s.id === "slow");
    assert.deepEqual(quick, { id: "quick", ownerAtStart: true, ownerAtEnd: true }, "finished as the owner");
    assert.deepEqual(slow, { id: "slow", ownerAtStart: true, ownerAtEnd: false }, "fenced past the deadline");
  });

  test("a partition given up for a joining replica is drained first: the handler running on it finishes as the owner, and the newcomer does not handle its event again", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    await apply(nc, PARTITIONS);
    const handled: { replica: string; id: string; ownerAtEnd: boolean }[] = [];
    const handler = (replica: string) => async (id: string, owner: () => boolean) => {
      if (id === "long") await sleep(1_200);
      handled.push({ replica, id, ownerAtEnd: owner() });
    };
    const a = await gracefulReplica(t, server, "a", handler("a"));
    const aPartitions = a.consumers[0] as PartitionedEventConsumer;
    await until("a owns every partition", () => aPartitions.owned().length === PARTITIONS);
    // The first partition a gives up is its last by name (WorkShares releases owned.sort().at(-1)).
    const key = KEYS.find((k) => partitionOf(k, 0, PARTITIONS) === PARTITIONS - 1) as string;
    assert.ok(key, "a key of the last partition");
    await publishOne(js, "long", key);
    await until("a is handling it", () => aPartitions.partitions().some((c) => c.stats().inFlight > 0));
    const b = await gracefulReplica(t, server, "b", handler("b"));
    const bPartitions = b.consumers[0] as PartitionedEventConsumer;
    await until("b took its share", () => bPartitions.owned().length === PARTITIONS / 2, {
      timeoutMs: 30_000,
      detail: () => `a: ${aPartitions.owned()}, b: ${bPartitions.owned()}`,
    });
    assert.ok(bPartitions.owned().includes(`p${PARTITIONS - 1}`), "b got the partition a was handling");
    await sleep(1_000); // a redelivery to b, were there one, would come now
    assert.deepEqual(handled, [{ replica: "a", id: "long", ownerAtEnd: true }]);
  });
});

describe("partitioned consumer: the server fences a deposed owner (priority groups, 2.11+)", () => {
  test("streams apply pins each partition durable to its owner where the server has priority groups (an existing plain one is updated in place), and leaves them plain on an older server", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    const decls = declarations({ manifests: [manifestWith(PARTITIONS)] });
    const pinned = connectedServerHas(nc, "priorityGroups");
    // Created as a release before 2.11 would have created them: plain durables.
    await applyPlan(jsm, await planChanges(jsm, decls, { ...serverFacts(nc), serverVersion: "2.10.0" }));
    const plan = await planChanges(jsm, decls, serverFacts(nc));
    const items = plan.items.filter((i) => i.kind === "consumer" && i.name.includes(`${DURABLE}-p`));
    assert.equal(items.length, PARTITIONS);
    for (const item of items)
      assert.equal(
        item.action,
        pinned ? "update" : "unchanged",
        `${item.name}: ${pinned ? "pinned in place, nothing recreated" : "nothing to change"}`,
      );
    await applyPlan(jsm, plan);
    for (const durable of partitionDurables(DURABLE, PARTITIONS)) {
      const { config } = await jsm.consumers.info(STREAM, durable);
      assert.deepEqual(
        [config.priority_policy ?? "none", config.priority_groups ?? []],
        pinned ? ["pinned_client", [PARTITION_OWNER_GROUP]] : ["none", []],
        durable,
      );
    }
    const again = await planChanges(jsm, decls, serverFacts(nc));
    assert.deepEqual(
      again.items.filter((i) => i.action !== "unchanged").map((i) => i.name),
      [],
      "a second plan finds nothing to change",
    );
  });

  test("a previous owner's pull request left open (a frozen process) gets nothing once the new owner takes the partition: the new owner handles every event once, each key in stream order", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    if (!connectedServerHas(nc, "priorityGroups")) {
      t.skip(`nats-server ${nc.info?.version} has no priority groups (2.11+): the leases alone fence`);
      return;
    }
    await apply(nc, PARTITIONS);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const published: { id: string; key: string }[] = [];
    const publish = async (id: string, key: string) => {
      await publisher.publish(TYPE, downtime(id, key), { site: "lyon", line: "l1", machine: key, key });
      published.push({ id, key });
    };
    // The previous owner of p0, frozen with a pull request open and holding the pin: one long fetch.
    const p0Key = KEYS.find((k) => partitionOf(k, 0, PARTITIONS) === 0) as string;
    const previous = await js.consumers.get(STREAM, partitionDurable(DURABLE, 0));
    const fetch = await previous.fetch({ max_messages: 50, expires: 30_000, group: PARTITION_OWNER_GROUP });
    const fenced: number[] = [];
    const statuses: string[] = [];
    void (async () => {
      for await (const s of fetch.status()) statuses.push(s.type);
    })();
    void (async () => {
      for await (const m of fetch) fenced.push(m.seq); // never acknowledged: the process is frozen
    })();
    await publish("e0", p0Key);
    await until("the previous owner holds the first event", () => fenced.length === 1);

    const handled: Handling[] = [];
    const { group } = await replica(t, server, "b", handled);
    const partitioned = group.consumers[0] as PartitionedEventConsumer;
    await until("the new owner has every partition", () => partitioned.owned().length === PARTITIONS);
    for (let i = 1; i <= 24; i++) await publish(`e${i}`, KEYS[i % KEYS.length] as string);
    await until("every event handled", () => handled.length >= published.length, { timeoutMs: 60_000 });
    assert.deepEqual(fenced, [1], "the previous owner received the first event only");
    assert.ok(statuses.includes("consumer_unpinned"), `the server told it so (423): ${statuses.join(", ")}`);
    assertOnceAndInOrder(handled, published);
  });

  test("an owner keeps its pin from one consume to the next: a backlog drains through many hand-overs, each event on its first delivery", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    await apply(nc, 1);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const published: { id: string; key: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const key = KEYS[i % KEYS.length] as string;
      await publisher.publish(TYPE, downtime(`e${i}`, key), { site: "lyon", line: "l1", machine: key, key });
      published.push({ id: `e${i}`, key });
    }
    const handled: Handling[] = [];
    const attempts: number[] = [];
    const lines = new PassThrough();
    let handOvers = 0;
    lines.on("data", (d: Buffer) => {
      handOvers += d
        .toString()
        .split("\n")
        .filter((l) => l.includes('"reason":"hand-over"')).length;
    });
    const logger = createLogger({ service: "downtime-board", level: "debug", destination: lines });
    await startReplica(
      t,
      server,
      "a",
      {
        // A small buffer and slow handlers: the consume fills up and hands over again and again.
        concurrency: 2,
        maxBuffered: 4,
        logger,
        handlers: {
          [TYPE]: async (event, ctx) => {
            await new Promise((r) => setTimeout(r, 50));
            attempts.push(ctx.attempt);
            handled.push({
              replica: "a",
              key: event.key ?? "",
              id: event.value.downtimeId,
              seq: event.streamSequence,
            });
          },
        },
      },
      1,
    );
    // Without the pin carried over, each new consume waits for the server's 2-minute pin timeout.
    await until("the backlog drained", () => handled.length >= published.length, { timeoutMs: 60_000 });
    assert.ok(handOvers >= 3, `the consume was handed over again and again (${handOvers} times)`);
    assert.deepEqual(
      attempts.filter((a) => a > 1),
      [],
      "every event handled on its first delivery",
    );
    assertOnceAndInOrder(handled, published);
    if (connectedServerHas(nc, "priorityGroups")) {
      const info = await (await import("@nats-io/jetstream")).jetstreamManager(nc);
      const state = await info.consumers.info(STREAM, partitionDurable(DURABLE, 0));
      assert.equal(state.config.priority_policy, "pinned_client", "the durable pins its owner");
    }
  });
});

describe("partitioned consumer: the owner keeps its pin (priority groups, 2.11+)", () => {
  test("a pull request left by a paused consume that takes the pin (the server pins before it checks anyone listens) is unpinned by the owner: after resume the event comes in seconds, not after the 2-minute pin timeout", async (t) => {
    const { server, nc, js } = await withJetStream(t);
    if (!connectedServerHas(nc, "priorityGroups")) {
      t.skip(`nats-server ${nc.info?.version} has no priority groups (2.11+): nothing is pinned`);
      return;
    }
    await apply(nc, 1);
    const handled: string[] = [];
    const { group } = await startReplica(
      t,
      server,
      "a",
      {
        infoIntervalMs: 500,
        handlers: {
          [TYPE]: async (event) => {
            handled.push(event.value.downtimeId);
          },
        },
      },
      1,
    );
    const partitioned = group.consumers[0] as PartitionedEventConsumer;
    await until("the partition owned and consumed", () => partitioned.partitions()[0]?.state === "running");
    partitioned.pause();
    const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(nc);
    const durable = partitionDurable(DURABLE, 0);
    // The paused consume's pull requests are gone (nobody listens to them: consumer info drops them).
    await until(
      "no pull request waiting",
      async () => (await jsm.consumers.info(STREAM, durable)).num_waiting === 0,
    );
    await new EventPublisher(js, codec, { service: "bridge", site: "lyon" }).publish(
      TYPE,
      downtime("after-pause", "m0"),
      { site: "lyon", line: "l1", machine: "m0", key: "m0" },
    );
    // A pull request nobody listens to, as a consume that stopped leaves on the server (made by hand:
    // whether a message comes before the server drops such a request is a race). The server pins it
    // before it checks the reply subject's interest, then drops it: the pin is nobody's. The server
    // may also sweep such a request away before it tries to deliver (then nothing is pinned and
    // nothing waits): the request is sent again until one takes the pin.
    const leaveRequest = () =>
      nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${durable}`,
        JSON.stringify({ batch: 1, expires: 30_000_000_000, group: PARTITION_OWNER_GROUP }),
        { reply: createInbox() },
      );
    leaveRequest();
    await until("the server pinned the left request", async () => {
      const info = (await jsm.consumers.info(STREAM, durable)) as ConsumerInfo & {
        priority_groups?: { pinned_client_id?: string }[];
      };
      if (info.priority_groups?.[0]?.pinned_client_id) return true;
      if (info.num_waiting === 0) leaveRequest();
      return false;
    });
    const resumedAt = Date.now();
    partitioned.resume();
    // Without the owner's unpin it would wait for the pin timeout (2 min by default).
    await until("handled after resume", () => handled.length > 0, { timeoutMs: 20_000 });
    t.diagnostic(`handled ${Date.now() - resumedAt} ms after resume`);
    assert.deepEqual(handled, ["after-pause"]);
  });
});
