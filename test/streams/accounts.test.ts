/**
 * `threadline streams accounts` (streams/src/accounts.ts, docs/security.md): the JetStream account
 * THREADLINE and one account per service, ops and analyst, run on a real nats-server (the one
 * THREADLINE_NATS_SERVER names: the suite runs on the current release and on the 2.9.10 floor). The
 * services do their real work through the SDK across accounts, the reply redirection of
 * docs/security.md lands nothing, and what belongs to another account is out of reach.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type Msg, type NatsConnection, errors as natsErrors } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { Catalog } from "../../contracts/src/catalog.js";
import { EventCodec } from "../../contracts/src/codec.js";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import {
  type AccountSpec,
  ANALYST_USER,
  accountPasswordVariables,
  accountsOf,
  explainAnalystPermissions,
  JETSTREAM_ACCOUNT,
  renderAccounts,
} from "../../streams/src/accounts.js";
import { createEventConsumer } from "../../streams/src/consumer.js";
import { machineCommandSubject } from "../../streams/src/machine-commands.js";
import { manifestAccess } from "../../streams/src/manifest.js";
import { explainOpsPermissions } from "../../streams/src/permissions.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { readMessages } from "../../streams/src/read.js";
import { platformDeclarations, SERVICE_MANIFESTS } from "../../tools/manifests.js";
import { threadline } from "../harness/cli.js";
import { connectTo, findNatsServerBinary, type LocalNatsServer, startTestServer } from "../harness/nats.js";
import { shipmentRequested } from "../harness/quality.js";
import { until } from "../harness/wait.js";

const ACCOUNTS_FILE = "deploy/nats/accounts.conf";
const ACCOUNTS_PATH = join(PACKAGE_ROOT, ACCOUNTS_FILE);
const SITE = "plant1";
const run = promisify(execFile);

/**
 * A permissions violation (the user's grants inside its account) or no responders (no import; a
 * JetStream publish nobody answers is reported by nats.js as "jetstream is not enabled").
 */
async function unreachable(what: Promise<unknown>, subject: string) {
  const err = await what.then(
    () => assert.fail(`expected ${subject} to be out of reach`),
    (e: unknown) => e,
  );
  const cause =
    err instanceof Error && !(err instanceof natsErrors.PermissionViolationError) ? err.cause : err;
  const ok =
    (cause instanceof natsErrors.PermissionViolationError && cause.subject === subject) ||
    cause instanceof natsErrors.NoRespondersError ||
    /no responders|jetstream is not enabled/i.test(String(err));
  assert.ok(ok, `expected a permissions violation or no responders on ${subject}, got ${String(err)}`);
}

const decls = platformDeclarations({ profile: "local" });
const generated = () => accountsOf({ services: SERVICE_MANIFESTS.map(manifestAccess), decls });

// One server for the file, with the generated accounts; the platform (admin, in THREADLINE) applies
// the declarations and registers the schemas.
// Plus, for the test, a second user in the quality service's account without any subject permissions:
// what the account alone enforces.
const UNRESTRICTED = "quality-service-unrestricted";
const accounts: AccountSpec[] = generated().map((a) =>
  a.name === "quality-service"
    ? {
        ...a,
        users: [
          ...a.users,
          { user: UNRESTRICTED, passwordRef: "$QUALITY_SERVICE_UNRESTRICTED_NATS_PASSWORD" },
        ],
      }
    : a,
);
const passwords = new Map<string, string>();
// Passwords reach nats-server through its environment (quoted: it parses them as config syntax).
for (const variable of accountPasswordVariables(accounts)) {
  const user = variable
    .replace(/_NATS_PASSWORD$/, "")
    .toLowerCase()
    .replaceAll("_", "-");
  const pass = randomBytes(12).toString("hex");
  passwords.set(user, pass);
  process.env[variable] = JSON.stringify(pass);
}
const server: LocalNatsServer = await startTestServer({ extraConfig: renderAccounts(accounts) });
const adminNc = await connectTo(server, { user: "admin", pass: passwords.get("admin") ?? "" });
const jsm: JetStreamManager = await jetstreamManager(adminNc);
await applyPlan(jsm, await planChanges(jsm, decls, serverFacts(adminNc)), { force: false });
const adminRegistry = await SchemaRegistry.open(adminNc);
for (const c of Catalog.load().list()) await adminRegistry.register(c.eventType, c.text);
const dir = mkdtempSync(join(tmpdir(), "threadline-accounts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Connects as `user` with its password and its inbox prefix `_INBOX_<user>`. */
const as = (user: string): Promise<NatsConnection> =>
  connectTo(server, { user, pass: passwords.get(user) ?? "", inboxPrefix: `_INBOX_${user}` });

describe("streams accounts - one NATS account per service around the JetStream account", () => {
  test("nats-server -t accepts the generated configuration, and the committed deploy/nats/accounts.conf is current", async () => {
    const file = join(dir, "accounts.conf");
    writeFileSync(file, renderAccounts(accounts));
    const binary = await findNatsServerBinary();
    const { stdout, stderr } = await run(binary, ["-t", "-c", file], { env: process.env });
    assert.match(`${stdout}${stderr}`, /configuration file .* is valid/);
    let committed = "";
    try {
      committed = readFileSync(ACCOUNTS_PATH, "utf8");
    } catch {
      // reported below
    }
    assert.ok(
      committed === renderAccounts(generated()),
      `${ACCOUNTS_FILE} is stale: run \`npm run build && node bin/threadline.js streams accounts > ${ACCOUNTS_FILE}\``,
    );
    const cli = await threadline(["streams", "accounts"]);
    assert.equal(cli.code, 0);
    assert.equal(cli.stdout, committed);
    // The analyst as a user of one account (`streams permissions analyst`): the same grants and denials.
    const single = await threadline(["streams", "permissions", ANALYST_USER, "--format", "json"]);
    assert.equal(single.code, 0, single.stderr);
    const [user] = JSON.parse(single.stdout) as { permissions: { publish: { deny: string[] } } }[];
    assert.ok(
      user?.permissions.publish.deny.includes(
        "$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.quality-service-shipping",
      ),
    );
  });

  test("a service in its own account publishes, consumes and acks its durable, reads the registry and writes its bucket", async () => {
    // The Odoo connector publishes a shipment request (registry read for the writer schema, PubAck).
    const odoo = await as("odoo-connector");
    const odooRegistry = await SchemaRegistry.open(odoo, { readOnly: true });
    const publisher = new EventPublisher(jetstream(odoo), new EventCodec({ writers: odooRegistry }), {
      service: "odoo-connector",
      site: SITE,
    });
    const published = await publisher.publish(
      "mfg.shipping.shipment_requested.v1",
      shipmentRequested("WH/OUT/00001", 1n, "FG-001"),
      { site: SITE, key: "WH/OUT/00001" },
    );
    assert.equal(published.ack.stream, "MFG_SHIPPING");

    // The quality service consumes it from its durable and acks it.
    const quality = await as("quality-service");
    const errors: string[] = [];
    void (async () => {
      for await (const s of quality.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    const qualityRegistry = await SchemaRegistry.open(quality, { readOnly: true });
    const seen: string[] = [];
    const consumer = createEventConsumer(quality, {
      stream: "MFG_SHIPPING",
      durable: "quality-service-shipping",
      codec: new EventCodec({ writers: qualityRegistry }),
      handler: async (event) => {
        seen.push(event.envelope.type);
      },
      metrics: new Registry(),
    });
    await consumer.start();
    await until("the event consumed", async () => (seen.length === 1 ? true : undefined));
    await until("the delivery acked", async () => {
      const info = await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping");
      return info.ack_floor.stream_seq === published.ack.seq && info.num_ack_pending === 0 ? info : undefined;
    });
    await consumer.stop();
    assert.deepEqual(seen, ["mfg.shipping.shipment_requested.v1"], "delivered once, not redelivered");

    // Its own bucket: put, get, and the key listing (a push consumer delivering to its inbox).
    const bucket = await new Kvm(jetstream(quality)).open("THREADLINE_QUALITY");
    await bucket.put("accounts-test", "hold");
    assert.equal((await bucket.get("accounts-test"))?.string(), "hold");
    const keys: string[] = [];
    for await (const k of await bucket.keys()) keys.push(k);
    assert.ok(keys.includes("accounts-test"));
    // The registry, through its own read path (subject lookup).
    assert.ok(await qualityRegistry.subject("mfg.shipping.shipment_requested.v1"));
    assert.deepEqual(errors, [], "no permission error on the way");
  });

  test("a reply subject chosen by the service lands nothing in another stream (docs/security.md)", async () => {
    const publisher = new EventPublisher(jetstream(adminNc), new EventCodec(), {
      service: "test",
      site: SITE,
    });
    await publisher.publish(
      "mfg.shipping.shipment_requested.v1",
      shipmentRequested("WH/OUT/00002", 2n, "FG-002"),
      { site: SITE, key: "WH/OUT/00002" },
    );
    const before = (await jsm.streams.info("MFG_PRODUCTION")).state.messages;
    const deliveredBefore = (await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping")).delivered
      .stream_seq;

    const quality = await as("quality-service");
    // A pull for its own durable answered into MFG_PRODUCTION's subjects (which it may not publish) …
    quality.publish(
      "$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.quality-service-shipping",
      JSON.stringify({ batch: 1, expires: 2_000_000_000 }),
      { reply: "mfg.production.production_reported.redirected" },
    );
    // … its own event's PubAck likewise …
    quality.publish("mfg.quality.quality_hold_placed.plant1", new Uint8Array([0]), {
      reply: "mfg.production.production_reported.puback",
    });
    // … and a push consumer of its bucket delivering there.
    quality.publish(
      "$JS.API.CONSUMER.CREATE.KV_THREADLINE_QUALITY.redirect.$KV.THREADLINE_QUALITY.>",
      JSON.stringify({
        stream_name: "KV_THREADLINE_QUALITY",
        config: {
          name: "redirect",
          deliver_subject: "mfg.production.production_reported.push",
          filter_subject: "$KV.THREADLINE_QUALITY.>",
          ack_policy: "none",
        },
      }),
    );
    await quality.flush();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal((await jsm.streams.info("MFG_PRODUCTION")).state.messages, before, "nothing landed");
    // The message was there to be redirected: the durable delivers it to the service's own inbox.
    // (A delivery carries the stream subject, not the reply, so no request(): a subscription, as nats.js pulls.)
    const inbox = quality.subscribe("_INBOX_quality-service.control", { max: 1 });
    quality.publish(
      "$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.quality-service-shipping",
      JSON.stringify({ batch: 1, expires: 2_000_000_000 }),
      { reply: "_INBOX_quality-service.control" },
    );
    let delivery: Msg | undefined;
    for await (const m of inbox) delivery = m;
    assert.ok(delivery);
    assert.equal(delivery.subject, `mfg.shipping.shipment_requested.${SITE}`);
    assert.ok(delivery.reply?.startsWith("$JS.ACK.MFG_SHIPPING.quality-service-shipping."));
    assert.ok(
      (await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping")).delivered.stream_seq >
        deliveredBefore,
    );
    delivery.respond(); // ack: through its $JS.ACK import
    await until("the delivery acked", async () => {
      const info = await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping");
      return info.num_ack_pending === 0 && info.num_pending === 0 ? info : undefined;
    });
  });

  test("another service's durable and events are out of reach", async () => {
    const quality = await as("quality-service");
    const other = "odoo-connector-shipping-p0"; // a partition of the partitioned durable
    await unreachable(
      quality.request(`$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.${other}`, JSON.stringify({ batch: 1 })),
      `$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.${other}`,
    );
    await unreachable(
      quality.request(`$JS.API.CONSUMER.INFO.MFG_SHIPPING.${other}`),
      `$JS.API.CONSUMER.INFO.MFG_SHIPPING.${other}`,
    );
    const before = (await jsm.streams.info("MFG_SHIPPING")).state.messages;
    await unreachable(
      jetstream(quality).publish("mfg.shipping.shipment_requested.plant1", new Uint8Array([0])),
      "mfg.shipping.shipment_requested.plant1",
    );
    await unreachable(
      jetstream(quality).publish("mfg.production.production_reported.plant1", new Uint8Array([0])),
      "mfg.production.production_reported.plant1",
    );
    assert.equal((await jsm.streams.info("MFG_SHIPPING")).state.messages, before);
    assert.equal((await jsm.consumers.info("MFG_SHIPPING", other)).delivered.stream_seq, 0);
    // No stream management: not imported at all.
    const restricted = await jetstreamManager(quality, { checkAPI: false });
    await unreachable(restricted.streams.delete("MFG_QUALITY"), "$JS.API.STREAM.DELETE.MFG_QUALITY");
    assert.equal((await jsm.streams.info("MFG_QUALITY")).config.name, "MFG_QUALITY");
  });

  test("without any subject permission, a user of a service's account still reaches nothing its account does not import", async () => {
    const nc = await connectTo(server, {
      user: UNRESTRICTED,
      pass: passwords.get(UNRESTRICTED) ?? "",
      inboxPrefix: "_INBOX_quality-service",
    });
    const other = "odoo-connector-shipping-p0"; // a partition of the partitioned durable
    await unreachable(
      nc.request(`$JS.API.CONSUMER.INFO.MFG_SHIPPING.${other}`),
      `$JS.API.CONSUMER.INFO.MFG_SHIPPING.${other}`,
    );
    await unreachable(
      jetstream(nc).publish("mfg.shipping.shipment_requested.plant1", new Uint8Array([0])),
      "mfg.shipping.shipment_requested.plant1",
    );
    const restricted = await jetstreamManager(nc, { checkAPI: false });
    await unreachable(restricted.streams.delete("MFG_QUALITY"), "$JS.API.STREAM.DELETE.MFG_QUALITY");
    await unreachable(restricted.streams.purge("MFG_SHIPPING"), "$JS.API.STREAM.PURGE.MFG_SHIPPING");
    // Events published in the JetStream account do not reach its account's subscribers.
    const seen: string[] = [];
    nc.subscribe(">", {
      callback: (_e, m) => {
        seen.push(m.subject);
      },
    });
    await nc.flush();
    await new EventPublisher(jetstream(adminNc), new EventCodec(), { service: "test", site: SITE }).publish(
      "mfg.shipping.shipment_requested.v1",
      shipmentRequested("WH/OUT/00009", 9n, "FG-009"),
      { site: SITE, key: "WH/OUT/00009" },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(seen, []);
    assert.equal((await jsm.consumers.info("MFG_SHIPPING", other)).delivered.stream_seq, 0);
    assert.equal((await jsm.streams.info("MFG_QUALITY")).config.name, "MFG_QUALITY");
  });

  test("the orchestrator's command reaches the bridge across accounts and is answered; nobody else can send one", async () => {
    const bridge = await as("machine-bridge");
    const subject = machineCommandSubject(SITE, "line1", "filler1");
    bridge.subscribe("threadline.cmd.machine.>", {
      callback: (_err, msg) => {
        msg.respond(JSON.stringify({ ok: msg.subject }));
      },
    });
    await bridge.flush();
    const orchestrator = await as("production-orchestrator");
    const reply = await orchestrator.request(subject, JSON.stringify({ command: "SET_ORDER" }), {
      timeout: 5_000,
    });
    assert.deepEqual(reply.json(), { ok: subject });
    const odoo = await as("odoo-connector");
    await unreachable(odoo.request(subject, "{}", { timeout: 2_000 }), subject);
    const quality = await as("quality-service");
    await unreachable(quality.request(subject, "{}", { timeout: 2_000 }), subject);
  });

  test("the analyst reads any domain stream and publishes nothing; ops lists the dead letters", async () => {
    await new EventPublisher(jetstream(adminNc), new EventCodec(), { service: "test", site: SITE }).publish(
      "mfg.shipping.shipment_requested.v1",
      shipmentRequested("WH/OUT/00003", 3n, "FG-003"),
      { site: SITE, key: "WH/OUT/00003" },
    );
    const analyst = await as(ANALYST_USER);
    let read = 0;
    for await (const m of readMessages(analyst, { stream: "MFG_SHIPPING", cleanup: "expire" })) {
      assert.ok(m.subject.startsWith("mfg.shipping."));
      read++;
    }
    assert.equal(read, (await jsm.streams.info("MFG_SHIPPING")).state.messages);
    let filtered = 0;
    for await (const _ of readMessages(analyst, {
      stream: "MFG_SHIPPING",
      filter: "mfg.shipping.shipment_requested.>",
      cleanup: "expire",
    }))
      filtered++;
    assert.equal(filtered, read);

    // `threadline tap` as the analyst (its connection sets NATS_INBOX_PREFIX=_INBOX_analyst).
    const tapped = await threadline(["tap", "--stream", "MFG_SHIPPING"], {
      env: {
        NATS_URL: server.clientUrl,
        NATS_USER: ANALYST_USER,
        NATS_PASSWORD: passwords.get(ANALYST_USER) ?? "",
        NATS_INBOX_PREFIX: `_INBOX_${ANALYST_USER}`,
      },
    });
    assert.equal(tapped.code, 0, tapped.stderr);
    const lines = tapped.stdout.split("\n").filter((l) => l.length > 0);
    assert.equal(lines.length, read);
    assert.match(lines[0] ?? "", /mfg\.shipping\.shipment_requested\.v1/);

    const before = (await jsm.streams.info("MFG_SHIPPING")).state.messages;
    await unreachable(
      jetstream(analyst).publish("mfg.shipping.shipment_requested.plant1", new Uint8Array([0])),
      "mfg.shipping.shipment_requested.plant1",
    );
    assert.equal((await jsm.streams.info("MFG_SHIPPING")).state.messages, before);
    // No durable of a service: neither pulled from nor changed through the create subject.
    const ackWait = (await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping")).config.ack_wait;
    const analystJsm = await jetstreamManager(analyst, { checkAPI: false });
    await unreachable(
      analyst.request(
        "$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.quality-service-shipping",
        JSON.stringify({ batch: 1 }),
      ),
      "$JS.API.CONSUMER.MSG.NEXT.MFG_SHIPPING.quality-service-shipping",
    );
    await unreachable(
      analystJsm.consumers.add("MFG_SHIPPING", {
        durable_name: "quality-service-shipping",
        filter_subject: "mfg.shipping.>",
        ack_policy: "explicit" as never,
        ack_wait: 1_000_000_000,
      }),
      "$JS.API.CONSUMER.CREATE.MFG_SHIPPING.quality-service-shipping.mfg.shipping.>",
    );
    await unreachable(
      analystJsm.consumers.delete("MFG_SHIPPING", "quality-service-shipping"),
      "$JS.API.CONSUMER.DELETE.MFG_SHIPPING.quality-service-shipping",
    );
    // Nor the dead letters, the audit, the replay channel or any bucket but the registry.
    await unreachable(analyst.request("$JS.API.STREAM.INFO.MFG_DLQ"), "$JS.API.STREAM.INFO.MFG_DLQ");
    await unreachable(
      analyst.request("$JS.API.STREAM.MSG.GET.KV_THREADLINE_QUALITY", JSON.stringify({ seq: 1 })),
      "$JS.API.STREAM.MSG.GET.KV_THREADLINE_QUALITY",
    );
    assert.equal(
      (await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping")).config.ack_wait,
      ackWait,
      "the durable is unchanged",
    );
    assert.ok(explainAnalystPermissions(decls).grants.every((g) => !g.subject.includes("MFG_DLQ")));

    // Ops: what explainOpsPermissions lists, e.g. reading the dead letters.
    assert.ok(explainOpsPermissions(decls).some((g) => g.subject === "$JS.API.STREAM.MSG.GET.MFG_DLQ"));
    // A dead letter of the quality service's durable (its own DLQ subject, across accounts) …
    const quality = await as("quality-service");
    await jetstream(quality).publish("mfg.dlq.MFG_SHIPPING.quality-service-shipping", new Uint8Array([1]));
    // … listed by ops.
    const ops = await as("ops");
    let letters = 0;
    for await (const _ of readMessages(ops, { stream: "MFG_DLQ" })) letters++;
    assert.equal(letters, (await jsm.streams.info("MFG_DLQ")).state.messages);
    assert.ok(letters >= 1);
    assert.equal((await (await jetstreamManager(ops)).streams.info("MFG_DLQ")).config.name, "MFG_DLQ");
    assert.ok(accounts.some((a) => a.name === JETSTREAM_ACCOUNT && a.jetstream));
  });
});
