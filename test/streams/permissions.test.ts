import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { errors as natsErrors } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { Catalog } from "../../contracts/src/catalog.js";
import { EventCodec } from "../../contracts/src/codec.js";
import { REGISTRY_BUCKET, REGISTRY_READ_ONLY, SchemaRegistry } from "../../contracts/src/registry.js";
import { machineBridgeManifest } from "../../services/machine-bridge/src/manifest.js";
import { odooConnectorManifest } from "../../services/odoo-connector/src/manifest.js";
import {
  ORDER_PROGRESS_BUCKET,
  type OrderProgress,
  startOrderProgress,
} from "../../streams/examples/order-progress.js";
import { createEventConsumer } from "../../streams/src/consumer.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import type { Declarations } from "../../streams/src/declarations.js";
import { createLogger } from "../../streams/src/logger.js";
import { MACHINE_COMMANDS_ALL, machineCommandSubject } from "../../streams/src/machine-commands.js";
import { manifestAccess } from "../../streams/src/manifest.js";
import {
  explainPermissions,
  PermissionsError,
  permissionsOf,
  renderAuthorization,
  renderHelmValues,
  renderUserConfig,
  type ServiceAccess,
  servicePermissions,
} from "../../streams/src/permissions.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher, PublishError } from "../../streams/src/publisher.js";
import { threadline } from "../harness/cli.js";
import { declarationsWithExamples } from "../harness/example-manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until as waitUntil } from "../harness/wait.js";

const SITE = "plant1";
const equipment = { site: SITE, area: null, line: "line1", cell: null, machine: "filler1" };
const units = (value: string) => ({ value, uom: "Units" });

/** The shipped declarations plus the example's durable (as docs/subscribing.md declares it) and bucket. */
function exampleDeclarations(): Declarations {
  const d = declarationsWithExamples({ profile: "local" });
  return {
    ...d,
    consumers: {
      ...d.consumers,
      "order-progress": {
        stream: "MFG_PRODUCTION",
        description: "order-progress: planned vs produced quantity per production order",
        filterSubjects: ["mfg.production.>"],
        ackWait: "30s",
        maxDeliver: 8,
        backoff: ["30s", "1m", "5m", "15m", "1h"],
        maxAckPending: 256,
      },
    },
    kv: {
      ...d.kv,
      // The example opens it with `new Kvm(nc).create()`; its NATS user cannot create streams, so
      // the platform creates it (streams apply) before the service starts.
      [ORDER_PROGRESS_BUCKET]: {
        description: "order-progress example: progress per production order",
        history: 5,
        storage: "file",
        replicas: 1,
      },
    },
  };
}

/** What the example service does on NATS (plus one event type it publishes, to exercise that path). */
const ORDER_PROGRESS_ACCESS: ServiceAccess = {
  service: "order-progress",
  consumes: [{ stream: "MFG_PRODUCTION", durable: "order-progress" }],
  publishes: ["mfg.production.production_reported.v1"],
  kvWrite: [ORDER_PROGRESS_BUCKET],
  // `new Kvm(nc).create()` asks for the account info before binding to the bucket.
  accountInfo: true,
};

/** Awaits `what`, which must fail with a permissions violation on `subject` (possibly as the cause). */
async function refused(what: Promise<unknown>, subject: string, operation: "publish" | "subscription") {
  const err = await what.then(
    () => assert.fail(`expected a permissions violation for ${operation} to ${subject}`),
    (e: unknown) => e,
  );
  const pv = err instanceof natsErrors.PermissionViolationError ? err : (err as Error)?.cause;
  assert.ok(
    pv instanceof natsErrors.PermissionViolationError,
    `expected PermissionViolationError, got ${String(err)}`,
  );
  assert.equal(pv.operation, operation);
  assert.equal(pv.subject, subject);
  assert.match(
    pv.message,
    new RegExp(`^Permissions Violation for ${operation === "publish" ? "Publish" : "Subscription"} to "`),
  );
  return err;
}

/** Errors the service's connection reported (permissions violations), named when a wait times out. */
const violations: string[] = [];

/** Waits as the shared helper does, naming the connection's permission violations on a timeout. */
function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return waitUntil(what, probe, {
    timeoutMs: 10_000,
    intervalMs: 100,
    detail: () => (violations.length > 0 ? `violations: ${violations.join("; ")}` : ""),
  });
}

describe("least-privilege NATS permissions per service", () => {
  test("a consuming, publishing, KV-writing service gets exactly the subjects the SDK uses", () => {
    const perms = servicePermissions(ORDER_PROGRESS_ACCESS, exampleDeclarations());
    assert.deepEqual(perms.subscribe.allow, ["_INBOX_order-progress.>"]);
    assert.deepEqual(perms.publish.allow, [
      "$JS.ACK.MFG_PRODUCTION.order-progress.>",
      "$JS.API.CONSUMER.CREATE.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS.*.$KV.THREADLINE_EXAMPLE_ORDER_PROGRESS.>",
      "$JS.API.CONSUMER.CREATE.KV_THREADLINE_SCHEMAS.*.$KV.THREADLINE_SCHEMAS.>",
      "$JS.API.CONSUMER.CREATE.MFG_PRODUCTION.order-progress.mfg.production.>",
      "$JS.API.CONSUMER.INFO.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS.*",
      "$JS.API.CONSUMER.INFO.KV_THREADLINE_SCHEMAS.*",
      "$JS.API.CONSUMER.INFO.MFG_PRODUCTION.order-progress",
      "$JS.API.CONSUMER.MSG.NEXT.MFG_PRODUCTION.order-progress",
      "$JS.API.CONSUMER.PAUSE.MFG_PRODUCTION.order-progress",
      "$JS.API.DIRECT.GET.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS",
      "$JS.API.DIRECT.GET.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS.$KV.THREADLINE_EXAMPLE_ORDER_PROGRESS.>",
      "$JS.API.INFO",
      "$JS.API.STREAM.INFO.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS",
      "$JS.API.STREAM.INFO.KV_THREADLINE_SCHEMAS",
      "$JS.API.STREAM.MSG.GET.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS",
      "$JS.API.STREAM.MSG.GET.KV_THREADLINE_SCHEMAS",
      "$JS.FC.KV_THREADLINE_EXAMPLE_ORDER_PROGRESS.>",
      "$JS.FC.KV_THREADLINE_SCHEMAS.>",
      "$KV.THREADLINE_EXAMPLE_ORDER_PROGRESS.>",
      "mfg.dlq.MFG_PRODUCTION.order-progress",
      "mfg.production.production_reported.>",
    ]);
    // Every subject has its reason.
    for (const g of explainPermissions(ORDER_PROGRESS_ACCESS, exampleDeclarations()))
      assert.ok(g.why.length > 10, `${g.subject} has no reason`);
  });

  test("the recreate grant follows the durable's filters, and can be turned off", () => {
    const d = exampleDeclarations();
    const multi: Declarations = {
      ...d,
      consumers: {
        ...d.consumers,
        "two-filters": {
          ...(d.consumers["order-progress"] as Declarations["consumers"][string]),
          filterSubjects: ["mfg.production.production_reported.>", "mfg.production.production_posted.>"],
        },
      },
    };
    const creates = (access: ServiceAccess, decls: Declarations) =>
      servicePermissions({ registry: false, ...access }, decls).publish.allow.filter((s) =>
        s.includes(".CREATE."),
      );
    assert.deepEqual(
      creates({ service: "a", consumes: [{ stream: "MFG_PRODUCTION", durable: "two-filters" }] }, multi),
      [],
    );
    assert.deepEqual(
      creates(
        { service: "a", consumes: [{ stream: "MFG_PRODUCTION", durable: "two-filters", recreate: true }] },
        multi,
      ),
      ["$JS.API.CONSUMER.DURABLE.CREATE.MFG_PRODUCTION.two-filters"],
    );
    assert.deepEqual(
      creates(
        {
          service: "a",
          consumes: [{ stream: "MFG_PRODUCTION", durable: "order-progress", recreate: false }],
        },
        d,
      ),
      [],
    );
  });

  test("a producer dead-letters what it refuses on exactly mfg.dlq.<stream>.<producer>, a token of its own that no durable has", () => {
    const d = exampleDeclarations();
    const dlq = (access: Partial<ServiceAccess>) =>
      servicePermissions({ service: "order-progress", registry: false, ...access }, d).publish.allow;
    assert.deepEqual(
      dlq({ deadLetters: [{ stream: "MFG_MASTERDATA", producer: "order-progress-inbound" }] }),
      ["mfg.dlq.MFG_MASTERDATA.order-progress-inbound"],
    );
    const problems = (access: Partial<ServiceAccess>) => {
      try {
        dlq(access);
      } catch (e) {
        assert.ok(e instanceof PermissionsError);
        return e.problems.map((p) => `${p.key}: ${p.message}`);
      }
      return assert.fail("expected a PermissionsError");
    };
    assert.deepEqual(
      problems({
        deadLetters: [
          { stream: "MFG_MASTERDATE", producer: "order-progress-inbound" },
          { stream: "MFG_MASTERDATA", producer: "odoo-connector-inbound" },
          { stream: "MFG_MASTERDATA", producer: "order-progress.>" },
          { stream: "MFG_PRODUCTION", producer: "order-progress" },
        ],
      }),
      [
        "deadLetters[0].stream: stream MFG_MASTERDATE is not declared (declared: MFG_MACHINE, MFG_PRODUCTION, MFG_INVENTORY, MFG_QUALITY, MFG_SHIPPING, MFG_DLQ, THREADLINE_AUDIT, THREADLINE_REPLAY, MFG_MASTERDATA)",
        'deadLetters[1].producer: must be order-progress-<name> (lower-case letters, digits and -), got "odoo-connector-inbound"',
        'deadLetters[2].producer: must be order-progress-<name> (lower-case letters, digits and -), got "order-progress.>"',
        'deadLetters[3].producer: must be order-progress-<name> (lower-case letters, digits and -), got "order-progress"',
      ],
    );
    // A durable's dead-letter subject is its consumer's: the service's own durables included.
    assert.deepEqual(
      problems({
        service: "odoo-connector",
        deadLetters: [{ stream: "MFG_PRODUCTION", producer: "odoo-connector-production-reported" }],
      }),
      [
        "deadLetters[0].producer: odoo-connector-production-reported is a declared durable: its dead letters are its consumer's (consumes), pick a name no durable has",
      ],
    );
    // The Odoo connector's manifest grants its inbound sync exactly one dead-letter subject besides its durables'.
    const connector = servicePermissions(manifestAccess(odooConnectorManifest), declarationsWithExamples());
    assert.deepEqual(
      connector.publish.allow.filter((s) => s.startsWith("mfg.dlq.")),
      [
        "mfg.dlq.MFG_MACHINE.odoo-connector-downtime-ended",
        "mfg.dlq.MFG_MACHINE.odoo-connector-downtime-started",
        "mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound",
        "mfg.dlq.MFG_PRODUCTION.odoo-connector-production-reported",
        "mfg.dlq.MFG_QUALITY.odoo-connector-quality",
        "mfg.dlq.MFG_SHIPPING.odoo-connector-shipping",
      ],
    );
  });

  test("anything undeclared or unknown is an error naming it", () => {
    const err = (() => {
      try {
        servicePermissions(
          {
            service: "order-progress",
            consumes: [
              { stream: "MFG_PRODUCTION", durable: "order-progres" },
              { stream: "MFG_PRODUCTON", durable: "order-progress" },
              { stream: "MFG_QUALITY", durable: "odoo-connector-production-reported" },
            ],
            publishes: ["mfg.production.production_reportd.v1" as "mfg.production.production_reported.v1"],
            kvRead: ["THREADLINE_NOPE"],
            kvWrite: ["THREADLINE_EXAMPLE_ORDER_PROGRESS"],
            inboxPrefix: "_INBOX",
          },
          declarationsWithExamples(),
        );
      } catch (e) {
        return e;
      }
      return assert.fail("expected a PermissionsError");
    })();
    assert.ok(err instanceof PermissionsError);
    assert.equal(err.code, "PERMISSIONS_INVALID");
    assert.deepEqual(
      err.problems.map((p) => p.key),
      [
        "inboxPrefix",
        "consumes[0].durable",
        "consumes[1].stream",
        "consumes[2].stream",
        "publishes[0]",
        "kvRead[0]",
        "kvWrite[0]",
      ],
    );
    assert.match(
      err.message,
      /consumer order-progres is not declared \(declared on MFG_PRODUCTION: odoo-connector/,
    );
    assert.match(err.message, /stream MFG_PRODUCTON is not declared/);
    assert.match(
      err.message,
      /consumer odoo-connector-production-reported reads stream MFG_PRODUCTION, not MFG_QUALITY/,
    );
    assert.match(err.message, /"mfg\.production\.production_reportd\.v1" is not an event type/);
    assert.match(err.message, /bucket THREADLINE_NOPE is not declared/);
    assert.match(err.message, /bucket THREADLINE_EXAMPLE_ORDER_PROGRESS is not declared/);
  });

  test("rendered config never holds a clear-text password", () => {
    const perms = servicePermissions(ORDER_PROGRESS_ACCESS, exampleDeclarations());
    const conf = renderUserConfig(perms, { user: "order-progress" });
    assert.match(conf, /^ {2}password: \$ORDER_PROGRESS_NATS_PASSWORD$/m);
    assert.match(conf, /^ {8}"\$JS\.API\.CONSUMER\.INFO\.MFG_PRODUCTION\.order-progress"$/m);
    const hash = "$2a$11$V1qrpBt8/SLfEBr4NJq4T.2mg8chx8.MTblUiTBOLV3MKDeAy.f7u";
    assert.match(renderUserConfig(perms, { user: "x", passwordRef: hash }), /password: "\$2a\$11\$V1q/);
    assert.throws(
      () => renderUserConfig(perms, { user: "x", passwordRef: "hunter2" }),
      /passwordRef: must be a \$VARIABLE .* or a bcrypt hash/,
    );
    const helm = renderHelmValues([{ user: "order-progress", perms }]);
    assert.match(helm, /password: << \$ORDER_PROGRESS_NATS_PASSWORD >>/);
    assert.match(
      helm,
      /ORDER_PROGRESS_NATS_PASSWORD:\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: threadline-nats-users\n\s+key: order-progress/,
    );
  });

  test("the example service runs end to end as its generated user, and everything else is refused", async (t) => {
    const decls = exampleDeclarations();
    const grants = explainPermissions(ORDER_PROGRESS_ACCESS, decls);
    // Passwords reach nats-server through its environment, as in production (a Secret); the
    // generated config only names the variables. nats-server parses a variable's value as config
    // syntax (12345 would be a number, 7e10… a parse error): the value is a quoted string.
    const adminPassword = randomBytes(12).toString("hex");
    const servicePassword = randomBytes(12).toString("hex");
    process.env["THREADLINE_TEST_ADMIN_PASSWORD"] = JSON.stringify(adminPassword);
    process.env["ORDER_PROGRESS_NATS_PASSWORD"] = JSON.stringify(servicePassword);
    const server = await startTestServer(
      {
        extraConfig: renderAuthorization([
          `{ user: "admin", password: $THREADLINE_TEST_ADMIN_PASSWORD }`,
          renderUserConfig(permissionsOf(grants), { user: "order-progress", explain: grants }),
        ]),
      },
      t,
    );

    // The platform: declarations (streams, the example's durable and bucket, the registry) and schemas.
    const admin = await connectTo(server, { user: "admin", pass: adminPassword }, t);
    const jsm = await jetstreamManager(admin);
    await applyPlan(jsm, await planChanges(jsm, decls, serverFacts(admin)), { force: false });
    const registry = await SchemaRegistry.open(admin);
    for (const c of Catalog.load().list()) await registry.register(c.eventType, c.text);

    const service = await startOrderProgress({
      NATS_URL: server.clientUrl,
      NATS_USER: "order-progress",
      NATS_PASSWORD: servicePassword,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
    });
    t.after(() => service.stop());
    const nc = service.context.nc;
    assert.equal(
      (nc as unknown as { options: { inboxPrefix?: string } }).options.inboxPrefix,
      "_INBOX_order-progress",
    );
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") violations.push(String(s.error));
    })();
    assert.equal((await fetch(`${service.url}/readyz`)).status, 200);

    // --- end to end: consume, write its bucket, dead-letter, publish ---------------------------
    const publisher = new EventPublisher(jetstream(admin), new EventCodec({ writers: registry }), {
      service: "test",
      site: SITE,
    });
    const order = "WH/MO/00042";
    const released = {
      orderRef: order,
      odooOrderId: 42n,
      product: { code: "JAM-370", name: null, odooId: null },
      quantity: units("1000"),
      plannedStartAt: new Date(),
      plannedEndAt: null,
      equipment: { ...equipment, machine: null },
      workCenterCode: null,
      lotToProduce: null,
      components: [],
      origin: null,
      releasedAt: new Date(),
    };
    const report = (orderRef: string, good: string, reject: { value: string; uom: string }) => ({
      equipment,
      orderRef,
      lot: null,
      goodQuantity: units(good),
      rejectQuantity: reject,
      goodCounterFrom: 0n,
      goodCounterTo: 10n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: new Date(),
      reportedAt: new Date(),
      countingPoint: true,
      rejectedComponent: null,
      running: [],
    });
    await publisher.publish("mfg.production.production_order_released.v1", released, {
      site: SITE,
      key: order,
    });
    await publisher.publish("mfg.production.production_reported.v1", report(order, "400.5", units("3")), {
      site: SITE,
      key: order,
    });
    const poison = await publisher.publish(
      "mfg.production.production_reported.v1",
      report(order, "5", { value: "1", uom: "kg" }),
      { site: SITE, key: order },
    );
    // The service publishes an event type it is allowed to, and consumes it back.
    await service.context.publisher.publish(
      "mfg.production.production_reported.v1",
      report("WH/MO/00043", "7", units("0")),
      { site: SITE, key: "WH/MO/00043" },
    );

    const kv = await new Kvm(admin).open(ORDER_PROGRESS_BUCKET);
    const progress = async (key: string, good: string) => {
      const p = (await kv.get(key))?.json<OrderProgress>();
      return p?.good === good ? p : undefined;
    };
    const p42 = await until("the order's progress", () => progress("WH/MO/00042", "400.500000"));
    assert.equal(p42.planned, "1000.000000");
    assert.equal(p42.reject, "3.000000");
    await until("the service's own event, consumed back", () => progress("WH/MO/00043", "7.000000"));
    const dlq = await until(
      "the dead letter",
      async () =>
        (await jsm.streams
          .getMessage("MFG_DLQ", { last_by_subj: "mfg.dlq.MFG_PRODUCTION.order-progress" })
          .catch(() => undefined)) ?? undefined,
    );
    const letter = readDeadLetter(dlq);
    assert.equal(letter.code, "UOM_CATEGORY_MISMATCH");
    assert.equal(letter.sequence, poison.ack.seq);
    // The registry was read through every path the SDK uses (get + the subject listing): no violation.
    assert.deepEqual(violations, [], "the generated permissions cover everything the service did");

    // --- refusals on the same connection -----------------------------------------------------
    const js = service.context.js;
    const data = new Uint8Array([0xc3, 0x01]);
    // Another domain's subject, and an event type of its own domain it does not publish.
    await refused(
      js.publish("mfg.quality.inspection_recorded.plant1", data),
      "mfg.quality.inspection_recorded.plant1",
      "publish",
    );
    const viaSdk = await service.context.publisher
      .publish("mfg.production.production_order_released.v1", released, { site: SITE, key: order })
      .then(
        () => assert.fail("publishing an event type the service does not own must be refused"),
        (e: unknown) => e,
      );
    assert.ok(viaSdk instanceof PublishError);
    assert.equal(viaSdk.code, "PUBLISH_REJECTED");
    assert.equal(viaSdk.failure, "permission_denied");
    assert.equal(viaSdk.attempts, 1, "a permissions violation is not retried");
    assert.ok((viaSdk.cause as Error).cause instanceof natsErrors.PermissionViolationError);

    // Another service's durable: neither its info (what start() reads) nor a pull.
    const other = "odoo-connector-production-reported-p0"; // a partition of the partitioned durable
    const foreign = createEventConsumer(nc, {
      stream: "MFG_PRODUCTION",
      durable: other,
      handler: async () => assert.fail("must not receive another service's events"),
      metrics: new Registry(),
    });
    await refused(foreign.start(), `$JS.API.CONSUMER.INFO.MFG_PRODUCTION.${other}`, "publish");
    await refused(
      nc.request(
        `$JS.API.CONSUMER.MSG.NEXT.MFG_PRODUCTION.${other}`,
        JSON.stringify({ batch: 1, no_wait: true }),
      ),
      `$JS.API.CONSUMER.MSG.NEXT.MFG_PRODUCTION.${other}`,
      "publish",
    );
    const otherInfo = await jsm.consumers.info("MFG_PRODUCTION", other);
    assert.equal(otherInfo.delivered.stream_seq, 0, "nothing was delivered to the other service's durable");

    // Stream management.
    const restricted = await jetstreamManager(nc, { checkAPI: false });
    await refused(restricted.streams.delete("MFG_QUALITY"), "$JS.API.STREAM.DELETE.MFG_QUALITY", "publish");
    await refused(
      restricted.streams.purge("MFG_PRODUCTION"),
      "$JS.API.STREAM.PURGE.MFG_PRODUCTION",
      "publish",
    );
    assert.equal((await jsm.streams.info("MFG_QUALITY")).config.name, "MFG_QUALITY");

    // The registry: the SDK's handle refuses writes itself, and the server refuses raw KV writes.
    const readOnly = await SchemaRegistry.open(nc, { readOnly: true });
    await assert.rejects(
      readOnly.register("mfg.production.production_reported.v1", "{}"),
      (e: Error & { code?: string }) => e.code === REGISTRY_READ_ONLY,
    );
    const schemas = await new Kvm(jetstream(nc)).open(REGISTRY_BUCKET);
    await refused(
      schemas.put("subjects.mfg.production.production_reported.v1", "{}"),
      `$KV.${REGISTRY_BUCKET}.subjects.mfg.production.production_reported.v1`,
      "publish",
    );
    assert.equal((await registry.subject("mfg.production.production_reported.v1"))?.versions.length, 1);

    // Other clients' replies (the shared _INBOX) and raw event subjects cannot be subscribed to.
    for (const subject of ["_INBOX.>", "mfg.production.>"]) {
      const sub = nc.subscribe(subject);
      await refused(
        sub.closed.then((e) => {
          if (e) throw e;
        }),
        subject,
        "subscription",
      );
    }

    // The service is unharmed by all of this: still ready, still consuming.
    assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
    await publisher.publish("mfg.production.production_reported.v1", report(order, "99.5", units("1")), {
      site: SITE,
      key: order,
    });
    await until("one more report, after the refusals", () => progress("WH/MO/00042", "500.000000"));
    await service.stop();
  });

  test("commands: a sender needs access.commands; the bridge subscribes and answers each request it received once, never anything else", async (t) => {
    const decls = declarationsWithExamples({ profile: "local" });
    const sender: ServiceAccess = {
      service: "cmd-sender",
      commands: [MACHINE_COMMANDS_ALL],
      registry: false,
    };
    // (A user with no publish grant at all would be unrestricted: nats-server reads an empty allow list as none.)
    const outsider: ServiceAccess = {
      service: "cmd-outsider",
      publishes: ["mfg.production.production_reported.v1"],
      registry: false,
    };
    const bridgeGrants = explainPermissions(manifestAccess(machineBridgeManifest), decls);
    const bridgePerms = permissionsOf(bridgeGrants);
    assert.ok(bridgePerms.subscribe.allow.includes("threadline.cmd.machine.>"));
    assert.deepEqual(bridgePerms.allow_responses, { max: 1, expires: "1m" });
    assert.ok(
      !bridgePerms.publish.allow.some((s) => s.startsWith("threadline.cmd") || s.startsWith("_INBOX")),
      "the bridge cannot send commands, nor publish into anyone's inbox",
    );
    assert.ok(bridgePerms.publish.allow.includes("mfg.machine.machine_command_executed.>"), "it audits");
    assert.deepEqual(servicePermissions(sender, decls).publish.allow, ["threadline.cmd.machine.>"]);
    assert.equal(servicePermissions(sender, decls).allow_responses, undefined);
    assert.throws(
      () => explainPermissions({ service: "x", commands: ["mfg.machine.>"] }, decls),
      /commands\[0\]: must be a subject within threadline\.cmd\.>/,
    );
    const bridgeUser = renderUserConfig(bridgePerms, { user: "machine-bridge", explain: bridgeGrants });
    assert.match(bridgeUser, /\n {4}allow_responses: \{ max: 1, expires: "1m" \}\n {2}\}\n\}$/);
    assert.match(
      renderHelmValues([{ user: "machine-bridge", perms: bridgePerms }]),
      /allow_responses:\n\s+max: 1\n\s+expires: 1m/,
    );

    const pass = () => randomBytes(12).toString("hex");
    const passwords = { admin: pass(), sender: pass(), outsider: pass(), bridge: pass() };
    process.env["THREADLINE_TEST_ADMIN_PASSWORD"] = JSON.stringify(passwords.admin);
    process.env["CMD_SENDER_NATS_PASSWORD"] = JSON.stringify(passwords.sender);
    process.env["CMD_OUTSIDER_NATS_PASSWORD"] = JSON.stringify(passwords.outsider);
    process.env["MACHINE_BRIDGE_NATS_PASSWORD"] = JSON.stringify(passwords.bridge);
    const server = await startTestServer(
      {
        extraConfig: renderAuthorization([
          `{ user: "admin", password: $THREADLINE_TEST_ADMIN_PASSWORD }`,
          renderUserConfig(servicePermissions(sender, decls), { user: "cmd-sender" }),
          renderUserConfig(servicePermissions(outsider, decls), { user: "cmd-outsider" }),
          bridgeUser,
        ]),
      },
      t,
    );
    const as = (user: string, pass: string) =>
      connectTo(server, { user, pass, inboxPrefix: `_INBOX_${user}` }, t);
    const bridge = await as("machine-bridge", passwords.bridge);
    const bridgeErrors: string[] = [];
    void (async () => {
      for await (const s of bridge.status()) if (s.type === "error") bridgeErrors.push(String(s.error));
    })();
    const subject = machineCommandSubject("lyon", "l1", "filler");
    let seenReply = "";
    bridge.subscribe(subject, {
      callback: (_err, msg) => {
        seenReply = msg.reply ?? "";
        msg.respond(JSON.stringify({ answer: msg.json<{ n: number }>().n }));
        msg.respond(JSON.stringify({ answer: "a second reply to the same request" }));
      },
    });
    await bridge.flush();

    // A sender with the grant gets the bridge's one reply.
    const senderNc = await as("cmd-sender", passwords.sender);
    const reply = await senderNc.request(subject, JSON.stringify({ n: 1 }), { timeout: 5_000 });
    assert.deepEqual(reply.json(), { answer: 1 });
    await bridge.flush();
    await until(
      "the bridge's second reply refused",
      async () =>
        bridgeErrors.some((e) => e.includes(`Permissions Violation for Publish to "${seenReply}"`)) ||
        undefined,
    );
    // The bridge cannot publish into the sender's inbox on its own, nor send a command itself.
    bridge.publish("_INBOX_cmd-sender.forged", "{}");
    bridge.publish(subject, "{}");
    await bridge.flush();
    await until(
      "the bridge's unsolicited publishes refused",
      async () =>
        (bridgeErrors.some((e) => e.includes('Publish to "_INBOX_cmd-sender.forged"')) &&
          bridgeErrors.some((e) => e.includes(`Publish to "${subject}"`))) ||
        undefined,
    );

    // A service without the grant cannot send a command at all.
    const outsiderNc = await as("cmd-outsider", passwords.outsider);
    await refused(
      outsiderNc.request(subject, JSON.stringify({ n: 2 }), { timeout: 5_000 }),
      subject,
      "publish",
    );
  });

  test("threadline streams permissions prints the authorization block of a service, by name from its manifest or from an access file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "threadline-perms-"));
    try {
      // An access file as a service outside this repository writes it, using declared durables.
      const good = join(dir, "odoo-connector.yaml");
      writeFileSync(
        good,
        [
          "service: odoo-connector",
          "consumes:",
          "  - { stream: MFG_QUALITY, durable: odoo-connector-quality }",
          "publishes: [mfg.production.production_posted.v1]",
          "kvWrite: [THREADLINE_CONNECTOR_STATE]",
        ].join("\n"),
      );
      const bad = join(dir, "bad.json");
      writeFileSync(
        bad,
        JSON.stringify({
          service: "quality-service",
          consumes: [{ stream: "MFG_QUALITY", durable: "nope" }],
        }),
      );
      const run = (args: string[]) => threadline(args);
      const ok = await run(["streams", "permissions", good]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^authorization \{\n {2}users = \[\n {4}\{\n {6}user: "odoo-connector"$/m);
      assert.match(ok.stdout, /password: \$ODOO_CONNECTOR_NATS_PASSWORD/);
      // Partitioned: the pulls are its partitions'.
      assert.match(ok.stdout, /"\$JS\.API\.CONSUMER\.MSG\.NEXT\.MFG_QUALITY\.odoo-connector-quality-p0"/);
      assert.match(ok.stdout, /"_INBOX_odoo-connector\.>"/);
      // By name: the manifest's every durable, event and read.
      const byName = await run(["streams", "permissions", "odoo-connector"]);
      assert.equal(byName.code, 0, byName.stderr);
      for (const durable of Object.keys(odooConnectorManifest.consumers))
        assert.ok(byName.stdout.includes(`.${durable}"`), `${durable} granted`);
      assert.match(
        byName.stdout,
        /CONSUMER\.CREATE\.MFG_DLQ\.\*\.mfg\.dlq\.MFG_PRODUCTION\.odoo-connector-production-reported/,
      );
      // Its replay channels: pulls and acks on <durable>-replay, and the removal of a redriven dead letter.
      assert.match(
        byName.stdout,
        /\$JS\.API\.CONSUMER\.MSG\.NEXT\.THREADLINE_REPLAY\.odoo-connector-production-reported-replay/,
      );
      assert.match(
        byName.stdout,
        /\$JS\.ACK\.THREADLINE_REPLAY\.odoo-connector-production-reported-replay\.>/,
      );
      assert.match(byName.stdout, /\$JS\.API\.STREAM\.MSG\.DELETE\.MFG_DLQ/);
      // Without arguments: every service of Threadline.
      const all = await run(["streams", "permissions", "--format", "json"]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(
        (JSON.parse(all.stdout) as { user: string }[]).map((u) => u.user),
        [
          "machine-bridge",
          "odoo-connector",
          "production-orchestrator",
          "genealogy-builder",
          "quality-service",
          "ops-console",
        ],
      );
      const refusedFile = await run(["streams", "permissions", bad]);
      assert.equal(refusedFile.code, 2);
      assert.match(refusedFile.stderr, /consumes\[0\]\.durable: consumer nope is not declared/);
      const unknown = await run(["streams", "permissions", "quality-servce"]);
      assert.equal(unknown.code, 2);
      assert.match(
        unknown.stderr,
        /quality-servce is neither a service of Threadline \(machine-bridge, odoo-connector, production-orchestrator, genealogy-builder, quality-service, ops-console\)/,
      );
      const plain = await run(["streams", "permissions", good, "--password-ref", "hunter2"]);
      assert.equal(plain.code, 2);
      assert.equal(plain.stdout, "");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("secrets in logs", () => {
  test("NATS passwords and tokens are redacted, also under their environment names", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => {
      text += d.toString();
    });
    const log = createLogger({ service: "t", level: "info", destination: out });
    log.info(
      {
        password: "s1",
        settings: { password: "s2", token: "s3" },
        NATS_PASSWORD: "s4",
        NATS_TOKEN: "s5",
        METRICS_TOKEN: "s6",
        config: { NATS_PASSWORD: "s7", METRICS_TOKEN: "s8", NATS_USER: "order-progress" },
      },
      "config",
    );
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(text) as Record<string, unknown>;
    assert.doesNotMatch(text, /"s[1-8]"/);
    assert.equal(line["NATS_PASSWORD"], "[redacted]");
    assert.deepEqual(line["config"], {
      NATS_PASSWORD: "[redacted]",
      METRICS_TOKEN: "[redacted]",
      NATS_USER: "order-progress",
    });
  });
});
