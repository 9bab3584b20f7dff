/**
 * Specification of the local nats-server harness (tools/local-nats/): every test here
 * runs real nats-server processes.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, test } from "node:test";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  connectTo,
  type LocalNatsServer,
  NatsServerError,
  NatsServerStartError,
  startNatsServer,
  startTestCluster,
  startTestLeafAndHub,
  startTestServer,
  withJetStream,
} from "./nats.js";
import { until } from "./wait.js";

const SYSTEM_NATS_PORT = 4222;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portsOf(server: LocalNatsServer): number[] {
  return [server.port, server.monitorPort, server.clusterPort, server.leafnodePort].filter(
    (p): p is number => p !== undefined,
  );
}

/** Publish, retrying while JetStream elects a new stream leader after a node failure. */
/**
 * A JetStream call retried until it answers (or `timeoutMs` passes): right after a cluster forms or
 * loses a node, the meta or stream leader may still be in election and an API request times out.
 */
async function eventually<T>(call: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function publishEventually(js: JetStreamClient, subject: string, data: string) {
  return eventually(() => js.publish(subject, data, { timeout: 2_000 }));
}

describe("single JetStream node", () => {
  test("accepts JetStream publishes and the stream survives restart()", async (t) => {
    const { server, jsm, js } = await withJetStream(t);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    for (let i = 0; i < 3; i++) {
      const ack = await js.publish("orders.created", `order-${i}`);
      assert.equal(ack.stream, "ORDERS");
    }
    const pidBefore = server.pid;

    await server.restart();

    assert.ok(server.running);
    assert.notEqual(server.pid, pidBefore, "restart() runs a new process");
    const fresh = await connectTo(server, {}, t);
    const info = await (await jetstreamManager(fresh)).streams.info("ORDERS");
    assert.equal(info.state.messages, 3);
  });

  test("kill() (SIGKILL, a crash) then start() keeps file-stored data on the same port", async (t) => {
    const { server, jsm, js } = await withJetStream(t);
    await jsm.streams.add({ name: "CRASH", subjects: ["crash.>"] });
    await js.publish("crash.a", "1");
    await js.publish("crash.b", "2");
    const { port, storeDir } = server;
    const pid = server.pid;
    assert.ok(pid !== undefined);

    await server.kill();

    assert.equal(server.running, false);
    assert.equal(server.pid, undefined);
    assert.equal(isAlive(pid), false, "the process is gone");

    await server.start();

    assert.equal(server.port, port);
    assert.equal(server.storeDir, storeDir);
    const fresh = await connectTo(server, {}, t);
    const info = await (await jetstreamManager(fresh)).streams.info("CRASH");
    assert.equal(info.state.messages, 2);
    const msg = await (await jetstreamManager(fresh)).streams.getMessage("CRASH", { seq: 2 });
    assert.equal(msg?.string(), "2");
  });

  test("uses OS-assigned 127.0.0.1 ports and never the system server's 4222", async (t) => {
    const a = await startTestServer({}, t);
    const b = await startTestServer({ leafnodeListen: true }, t);
    const ports = [...portsOf(a), ...portsOf(b)];
    assert.equal(new Set(ports).size, ports.length, "no two listeners share a port");
    assert.ok(!ports.includes(SYSTEM_NATS_PORT));
    assert.match(a.clientUrl, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const varz = await a.monitor<{ port: number; host: string; server_name: string }>("varz");
    assert.equal(varz.port, a.port);
    assert.equal(varz.host, "127.0.0.1");
    assert.equal(varz.server_name, a.name);
  });

  test("dispose() stops the process and removes the temp dir", async () => {
    const server = await startNatsServer();
    const { dir, pid, logFile } = server;
    assert.ok(pid !== undefined);
    assert.ok(dir.includes("threadline-nats-"));
    assert.ok(fs.existsSync(logFile));
    assert.match(server.logTail(200), /Server is ready/);

    await server.dispose();

    assert.equal(fs.existsSync(dir), false);
    assert.equal(isAlive(pid), false);
    await server.dispose(); // idempotent
    await assert.rejects(server.start(), { code: "NATS_SERVER_DISPOSED" });
  });

  test("a server that cannot start fails with a typed error carrying its log", async () => {
    const err = await startNatsServer({ extraConfig: "this is { not valid" }).then(
      () => assert.fail("expected the start to fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NatsServerStartError);
    assert.ok(err instanceof NatsServerError);
    assert.equal(err.code, "NATS_SERVER_START_FAILED");
    assert.ok(err.logTail.length > 0);
    assert.match(err.message, /exited during startup/);
  });
});

describe("3-node JetStream cluster", () => {
  test("creates an R3 stream and keeps serving after one node is killed", async (t) => {
    const cluster = await startTestCluster({ size: 3 }, t);
    assert.equal(cluster.nodes.length, 3);
    assert.equal(new Set(cluster.nodes.map((n) => n.name)).size, 3, "unique server names");
    assert.equal(cluster.servers.split(",").length, 3);
    for (const node of cluster.nodes) assert.ok(!portsOf(node).includes(SYSTEM_NATS_PORT));

    const nc = await connectTo(cluster, {}, t);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const created = await eventually(() =>
      jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 }),
    );
    assert.equal(created.config.num_replicas, 3);
    for (let i = 0; i < 5; i++) await publishEventually(js, "r3.event", `before-${i}`);

    // Crash the node that leads the stream: the hardest single failure.
    const leaderName = (await eventually(() => jsm.streams.info("R3"))).cluster?.leader;
    const victim = cluster.nodes.findIndex((n) => n.name === leaderName);
    assert.ok(victim >= 0, `stream leader ${leaderName} is one of the nodes`);
    await cluster.kill(victim);
    await cluster.waitForMetaLeader();

    await publishEventually(js, "r3.event", "after-kill");
    const info = await eventually(() => jsm.streams.info("R3"));
    assert.equal(info.state.messages, 6);
    assert.notEqual(info.cluster?.leader, leaderName);

    // The crashed node comes back with its storage and rejoins.
    await cluster.start(victim);
    assert.ok(cluster.node(victim).running);
  });
});

describe("a partitionable cluster", () => {
  test("a partitioned node is cut off from the others while its clients stay connected; the majority keeps serving; healed, it catches up", async (t) => {
    const cluster = await startTestCluster({ size: 3, partitionable: true }, t);
    // On the majority's side: a client of the node that will be cut off could not write meanwhile.
    const nc = await connectTo(cluster.node(0), {}, t);
    const jsm = await jetstreamManager(nc);
    await eventually(() => jsm.streams.add({ name: "P3", subjects: ["p3.>"], num_replicas: 3 }));
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await publishEventually(js, "p3.event", `before-${i}`);
    const routesOf = async (i: number) =>
      (await cluster.node(i).monitor<{ num_routes: number }>("routez")).num_routes;

    const cutOff = 2;
    const onCutOff = await connectTo(cluster.node(cutOff), {}, t);
    cluster.partition(cutOff);
    await until("node 3 without routes", async () => (await routesOf(cutOff)) === 0);
    // The other two still route to each other: a quorum, which keeps the stream writable.
    assert.ok((await routesOf(0)) > 0 && (await routesOf(1)) > 0);
    await publishEventually(js, "p3.event", "during");
    assert.equal(onCutOff.isClosed(), false, "a client of the cut-off node stays connected to it");

    cluster.heal(cutOff);
    await until("node 3 routed again", async () => (await routesOf(cutOff)) > 0);
    await cluster.waitForMetaLeader();
    const seen = await eventually(async () => {
      const info = await (await jetstreamManager(onCutOff)).streams.info("P3");
      if (info.state.messages !== 4) throw new Error(`${info.state.messages} messages`);
      return info.state.messages;
    });
    assert.equal(seen, 4);
  });
});

describe("leaf + hub (JetStream domains)", () => {
  test("a stream in the leaf domain is reachable from a hub client via the leaf's domain", async (t) => {
    const pair = await startTestLeafAndHub({}, t);
    assert.equal(pair.leafDomain, "plant");
    assert.equal(pair.hubDomain, "hub");
    for (const s of [pair.hub, pair.leaf]) assert.ok(!portsOf(s).includes(SYSTEM_NATS_PORT));
    assert.notEqual(pair.linkPort, SYSTEM_NATS_PORT);

    const leafNc = await connectTo(pair.leaf, {}, t);
    await (await jetstreamManager(leafNc)).streams.add({ name: "PLANT", subjects: ["plant.>"] });
    await jetstream(leafNc).publish("plant.temp", "21.5");

    const hubNc = await connectTo(pair.hub, {}, t);
    const plantFromHub = await jetstreamManager(hubNc, { domain: "plant" });
    assert.equal((await plantFromHub.streams.info("PLANT")).state.messages, 1);
    const ack = await jetstream(hubNc, { domain: "plant" }).publish("plant.temp", "22.0");
    assert.equal(ack.domain, "plant");
    assert.equal((await plantFromHub.streams.info("PLANT")).state.messages, 2);

    // The hub's own domain does not contain the leaf's stream.
    const hubLocal = await jetstreamManager(hubNc);
    const hubStreams: string[] = [];
    for await (const name of hubLocal.streams.names()) hubStreams.push(name);
    assert.deepEqual(hubStreams, []);
  });

  test("cutLink() isolates the leaf without stopping it; restoreLink() reconnects", async (t) => {
    const pair = await startTestLeafAndHub({}, t);
    const leafNc = await connectTo(pair.leaf, {}, t);
    await (await jetstreamManager(leafNc)).streams.add({ name: "OUTAGE", subjects: ["outage.>"] });
    const leafJs = jetstream(leafNc);
    await leafJs.publish("outage.before", "1");
    const hubNc = await connectTo(pair.hub, {}, t);
    const plantFromHub = await jetstreamManager(hubNc, { domain: "plant" });
    assert.equal((await plantFromHub.streams.info("OUTAGE")).state.messages, 1);
    const [hubPid, leafPid] = [pair.hub.pid, pair.leaf.pid];

    await pair.cutLink();

    assert.equal(pair.linkEnabled, false);
    assert.equal(await pair.hubLeafConnections(), 0);
    // It stays cut: the leaf must not find its way to the hub around the proxy (the leaf retries
    // every second, with every leafnode URL the hub ever advertised).
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(await pair.hubLeafConnections(), 0, "the leaf reconnected around the cut");
    assert.equal(pair.hub.pid, hubPid, "hub not restarted");
    assert.equal(pair.leaf.pid, leafPid, "leaf not restarted");
    // The hub cannot reach the plant domain ...
    await assert.rejects(plantFromHub.streams.info("OUTAGE"));
    // ... while the plant keeps working locally, on the same client connection.
    await leafJs.publish("outage.during", "2");
    assert.equal(leafNc.isClosed(), false);
    assert.equal(hubNc.isClosed(), false);

    await pair.restoreLink();

    assert.equal(pair.linkEnabled, true);
    assert.equal(await pair.isLinkUp(), true);
    const info = await plantFromHub.streams.info("OUTAGE");
    assert.equal(info.state.messages, 2, "writes made during the outage are visible from the hub");
  });
});
