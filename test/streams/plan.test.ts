/**
 * `streams plan` / `streams apply` against real nats-servers (2.9 here): create, idempotent re-apply,
 * in-place updates with field diffs, destructive changes refused unless forced (and then applied, in
 * place or by recreating), server feature detection that fails the whole plan, KV buckets, and the CLI's
 * exit codes.
 */

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import { type Declarations, StreamsErrorCode } from "../../streams/src/declarations.js";
import {
  applyPlan,
  DestructiveChangesRefusedError,
  formatPlan,
  type Plan,
  type PlanOptions,
  planChanges,
  planSummary,
  ReplicasUnavailableError,
  serverFacts,
  UnsupportedFeatureError,
} from "../../streams/src/plan.js";
import { threadline } from "../harness/cli.js";
import { declarationsWithExamples } from "../harness/example-manifests.js";
import { withJetStream } from "../harness/nats.js";

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };

/** A copy of the local declarations, edited by `fn`. */
function edited(fn: (d: Mutable<Declarations>) => void): Declarations {
  const copy = structuredClone(declarationsWithExamples()) as Mutable<Declarations>;
  fn(copy);
  return copy;
}

/**
 * The platform's declarations (in-process plans): eight shared streams (the domain streams, the DLQ,
 * the audit trail, the replay channel) and the Odoo connector's MFG_MASTERDATA; four shared buckets
 * (the replay jobs' among them), the quality service's, the orchestrator's, the ops console's sessions and the genealogy builder's
 * leases; twenty-one durables
 * (the genealogy builder's five and the quality service's five among them), each with its replay
 * channel `<durable>-replay`, three of them (the Odoo connector's ordered ones) partitioned in four
 * on the server ...
 */
const COUNTS = { streams: 8 + 1, kv: 4 + 4, consumers: 21 * 2 + 3 * (4 - 1) };
const TOTAL = COUNTS.streams + COUNTS.kv + COUNTS.consumers;
/** ... and what the CLI applies: the same, every service's manifest being Threadline's own. */
const CLI_TOTAL = TOTAL;

async function streamNames(jsm: JetStreamManager): Promise<string[]> {
  const out: string[] = [];
  for await (const name of jsm.streams.names()) out.push(name);
  return out.sort();
}

/** `created` timestamp and config of every stream and consumer: what must not move on a no-op apply. */
async function snapshot(jsm: JetStreamManager): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const si of jsm.streams.list()) {
    out[si.config.name] = { created: si.created, config: si.config };
    for await (const ci of jsm.consumers.list(si.config.name))
      out[`${si.config.name}/${ci.name}`] = { created: ci.created, config: ci.config };
  }
  return out;
}

async function fixture(t: TestContext) {
  const f = await withJetStream(t);
  const facts: PlanOptions = serverFacts(f.nc);
  const plan = (d: Declarations = declarationsWithExamples()) => planChanges(f.jsm, d, facts);
  const apply = async (d: Declarations = declarationsWithExamples(), force = false) =>
    applyPlan(f.jsm, await plan(d), { force });
  return { ...f, facts, plan, apply };
}

function item(plan: Plan, name: string) {
  const found = plan.items.find((i) => i.name === name);
  assert.ok(found, `plan has ${name}`);
  return found;
}

describe("streams plan/apply - against a real server", () => {
  test("on an empty server every stream, KV bucket and consumer is a create", async (t) => {
    const { plan, facts } = await fixture(t);
    assert.match(facts.serverVersion, /^2\.\d+\.\d+/);
    const p = await plan();
    assert.deepEqual(planSummary(p), { create: TOTAL, update: 0, unchanged: 0, destructive: 0 });
    assert.deepEqual(
      p.items.map((i) => i.kind),
      [
        ...Array(COUNTS.streams).fill("stream"),
        ...Array(COUNTS.kv).fill("kv"),
        ...Array(COUNTS.consumers).fill("consumer"),
      ],
    );
    const text = formatPlan(p);
    assert.match(
      text,
      /^\+ create stream MFG_MACHINE \(\[mfg\.machine\.>\], limits, max_age 7d, max_bytes 256MiB, R1\)$/m,
    );
    assert.match(text, /^\+ create consumer MFG_PRODUCTION\/odoo-connector-production-reported-p0 /m);
    assert.match(text, /^\+ create kv THREADLINE_IDEMPOTENCY \(history 1, ttl 30d, R1\)$/m);
    assert.match(
      text,
      new RegExp(`^${TOTAL} to create, 0 to update, 0 unchanged, 0 destructive \\(nats-server 2\\.`, "m"),
    );
  });

  test("apply, then plan: everything unchanged, and a second apply changes nothing", async (t) => {
    const { jsm, plan, apply } = await fixture(t);
    const first = await apply();
    assert.equal(first.applied.length, TOTAL);
    const before = await snapshot(jsm);
    assert.equal(Object.keys(before).length, COUNTS.streams + COUNTS.kv + COUNTS.consumers);

    const again = await plan();
    assert.deepEqual(planSummary(again), { create: 0, update: 0, unchanged: TOTAL, destructive: 0 });
    assert.deepEqual(again.unmanaged, []);
    const second = await applyPlan(jsm, again);
    assert.deepEqual(second, { applied: [], unchanged: TOTAL });
    assert.deepEqual(await snapshot(jsm), before);
  });

  test("a longer max_age is an in-place update with a field diff", async (t) => {
    const { jsm, plan, apply } = await fixture(t);
    await apply();
    const created = (await jsm.streams.info("MFG_QUALITY")).created;
    const longer = edited((d) => {
      (d.streams["MFG_QUALITY"] as { maxAge: string }).maxAge = "1095d";
    });
    const p = await plan(longer);
    const quality = item(p, "MFG_QUALITY");
    assert.equal(quality.action, "update");
    assert.deepEqual(quality.changes, [{ field: "max_age", from: "730d", to: "1095d" }]);
    assert.match(formatPlan(p), /^~ update stream MFG_QUALITY: max_age 730d -> 1095d$/m);
    assert.deepEqual(planSummary(p), { create: 0, update: 1, unchanged: TOTAL - 1, destructive: 0 });

    const result = await applyPlan(jsm, p);
    assert.deepEqual(
      result.applied.map((i) => i.name),
      ["MFG_QUALITY"],
    );
    const info = await jsm.streams.info("MFG_QUALITY");
    assert.equal(info.config.max_age, 1095 * 86_400 * 1e9);
    assert.equal(info.created, created, "updated in place, not recreated");
    assert.deepEqual(planSummary(await plan(longer)).unchanged, TOTAL);
  });

  test("removing a subject is destructive: apply refuses without force, changing nothing; with force it applies", async (t) => {
    const { jsm, plan, apply } = await fixture(t);
    await apply(
      edited((d) => {
        (d.streams["MFG_SHIPPING"] as { subjects: string[] }).subjects.push("legacy.shipping.>");
      }),
    );
    const created = (await jsm.streams.info("MFG_SHIPPING")).created;
    // The shipped declarations drop legacy.shipping.> — and, in the same plan, lengthen MFG_QUALITY safely.
    const target = edited((d) => {
      (d.streams["MFG_QUALITY"] as { maxAge: string }).maxAge = "1095d";
    });
    const p = await plan(target);
    const shipping = item(p, "MFG_SHIPPING");
    assert.equal(shipping.action, "destructive");
    assert.equal(shipping.recreate, false);
    assert.equal(shipping.changes.length, 1);
    assert.equal(shipping.changes[0]?.field, "subjects");
    assert.match(shipping.changes[0]?.destructive ?? "", /stops capturing legacy\.shipping\.>/);
    assert.match(
      formatPlan(p),
      /^! destructive stream MFG_SHIPPING: subjects \[legacy\.shipping\.>, mfg\.shipping\.>\] -> \[mfg\.shipping\.>\]/m,
    );

    const before = await snapshot(jsm);
    await assert.rejects(applyPlan(jsm, p), (err: unknown) => {
      assert.ok(err instanceof DestructiveChangesRefusedError);
      assert.equal(err.code, StreamsErrorCode.DestructiveRefused);
      assert.deepEqual(
        err.items.map((i) => i.name),
        ["MFG_SHIPPING"],
      );
      assert.match(err.message, /nothing was changed/);
      return true;
    });
    assert.deepEqual(await snapshot(jsm), before, "not even the safe MFG_QUALITY update was applied");

    const forced = await applyPlan(jsm, p, { force: true });
    assert.deepEqual(forced.applied.map((i) => i.name).sort(), ["MFG_QUALITY", "MFG_SHIPPING"]);
    const info = await jsm.streams.info("MFG_SHIPPING");
    assert.deepEqual(info.config.subjects, ["mfg.shipping.>"]);
    assert.equal(info.created, created, "a subject removal is made in place");
    assert.equal(planSummary(await plan(target)).unchanged, TOTAL);
  });

  test("a storage change cannot be made in place: --force deletes and recreates the stream and its consumers", async (t) => {
    const { jsm, js, plan, apply } = await fixture(t);
    await apply();
    await js.publish("mfg.shipping.shipment_requested.plant1", "order 7");
    await jsm.consumers.add("MFG_SHIPPING", { durable_name: "adhoc-report", ack_policy: "explicit" });
    const memory = edited((d) => {
      (d.streams["MFG_SHIPPING"] as { storage: string }).storage = "memory";
    });
    const p = await plan(memory);
    const shipping = item(p, "MFG_SHIPPING");
    assert.equal(shipping.action, "destructive");
    assert.equal(shipping.recreate, true);
    assert.deepEqual(shipping.changes, [
      {
        field: "storage",
        from: "file",
        to: "memory",
        destructive: "the server cannot change storage in place",
        recreate: true,
      },
    ]);
    assert.match(
      shipping.notes.join("\n"),
      /deletes the stream with its 1 message\(s\) and consumer\(s\) adhoc-report, genealogy-builder-shipping, odoo-connector-shipping-p0, odoo-connector-shipping-p1, odoo-connector-shipping-p2, odoo-connector-shipping-p3, quality-service-shipping/,
    );
    const gate = item(p, "MFG_SHIPPING/quality-service-shipping");
    assert.equal(gate.action, "create");
    assert.deepEqual(p.unmanaged, [{ kind: "consumer", name: "MFG_SHIPPING/adhoc-report" }]);
    assert.match(formatPlan(p), /^! destructive stream MFG_SHIPPING \(recreate\): storage file -> memory/m);

    await assert.rejects(applyPlan(jsm, p), DestructiveChangesRefusedError);
    assert.equal((await jsm.streams.info("MFG_SHIPPING")).state.messages, 1);

    await applyPlan(jsm, p, { force: true });
    const info = await jsm.streams.info("MFG_SHIPPING");
    assert.equal(info.config.storage, "memory");
    assert.equal(info.state.messages, 0);
    assert.equal(
      (await jsm.consumers.info("MFG_SHIPPING", "quality-service-shipping")).config.filter_subject,
      "mfg.shipping.>",
    );
    assert.equal(planSummary(await plan(memory)).unchanged, TOTAL);
  });

  test("consumers: a filter change is updated in place; a deliver policy change recreates the consumer", async (t) => {
    const { jsm, plan, apply } = await fixture(t);
    await apply();
    const name = "MFG_INVENTORY/genealogy-builder-inventory";
    const createdAt = async () =>
      (await jsm.consumers.info("MFG_INVENTORY", "genealogy-builder-inventory")).created;
    const before = await createdAt();

    const narrower = edited((d) => {
      (d.consumers["genealogy-builder-inventory"] as { filterSubjects: string[] }).filterSubjects = [
        "mfg.inventory.lot_registered.>",
      ];
    });
    const p = await plan(narrower);
    assert.equal(item(p, name).action, "update");
    assert.deepEqual(item(p, name).changes, [
      { field: "filter_subject", from: "mfg.inventory.>", to: "mfg.inventory.lot_registered.>" },
    ]);
    await applyPlan(jsm, p);
    const info = await jsm.consumers.info("MFG_INVENTORY", "genealogy-builder-inventory");
    assert.equal(info.config.filter_subject, "mfg.inventory.lot_registered.>");
    assert.equal(info.created, before, "updated in place");

    const onlyNew = edited((d) => {
      (d.consumers["genealogy-builder-inventory"] as { deliverPolicy?: string }).deliverPolicy = "new";
    });
    const q = await plan(onlyNew);
    const c = item(q, name);
    assert.equal(c.action, "destructive");
    assert.equal(c.recreate, true);
    assert.deepEqual(
      c.changes.map((x) => x.field),
      ["filter_subject", "deliver_policy"],
    );
    await applyPlan(jsm, q, { force: true });
    const recreated = await jsm.consumers.info("MFG_INVENTORY", "genealogy-builder-inventory");
    assert.equal(recreated.config.deliver_policy, "new");
    assert.notEqual(recreated.created, before);
  });

  test("shrinking a limit is destructive; changing retention needs a recreate on 2.9 but not on 2.10", async (t) => {
    const { plan, apply, jsm, facts } = await fixture(t);
    await apply();
    const p = await plan(
      edited((d) => {
        (d.streams["MFG_MACHINE"] as { maxAge: string }).maxAge = "3d";
        (d.streams["MFG_PRODUCTION"] as { retention: string }).retention = "interest";
        (d.kv["THREADLINE_SCHEMAS"] as { history: number }).history = 2;
      }),
    );
    assert.deepEqual(
      p.items.filter((i) => i.action === "destructive").map((i) => [i.name, i.recreate]),
      [
        ["MFG_MACHINE", false],
        ["MFG_PRODUCTION", facts.serverVersion.startsWith("2.9.")],
        ["THREADLINE_SCHEMAS", false],
      ],
    );
    assert.match(
      item(p, "MFG_MACHINE").changes[0]?.destructive ?? "",
      /older than the new limit are deleted/,
    );
    assert.match(item(p, "THREADLINE_SCHEMAS").changes[0]?.field ?? "", /^history$/);
    // The same change judged for a 2.10 server: retention limits -> interest is possible in place there.
    const newer = await planChanges(
      jsm,
      edited((d) => {
        (d.streams["MFG_PRODUCTION"] as { retention: string }).retention = "interest";
      }),
      { serverVersion: "2.10.4" },
    );
    assert.equal(item(newer, "MFG_PRODUCTION").recreate, false);
  });

  test("a shorter KV TTL is destructive and, forced, applied in place", async (t) => {
    const { nc, jsm, plan, apply } = await fixture(t);
    await apply();
    const created = (await jsm.streams.info("KV_THREADLINE_IDEMPOTENCY")).created;
    const shortTtl = edited((d) => {
      (d.kv["THREADLINE_IDEMPOTENCY"] as { ttl: string }).ttl = "1m";
    });
    const p = await plan(shortTtl);
    assert.deepEqual(item(p, "THREADLINE_IDEMPOTENCY").changes, [
      {
        field: "ttl",
        from: "30d",
        to: "1m",
        destructive: "entries older than the new TTL are deleted at once",
      },
    ]);
    await applyPlan(jsm, p, { force: true });
    assert.equal((await (await new Kvm(nc).open("THREADLINE_IDEMPOTENCY")).status()).ttl, 60_000);
    assert.equal((await jsm.streams.info("KV_THREADLINE_IDEMPOTENCY")).created, created);
    assert.equal(planSummary(await plan(shortTtl)).unchanged, TOTAL);
  });

  test("two filter subjects on a 2.9 server fail the whole plan, naming the declaration, the feature and the version; nothing is created", async (t) => {
    const { jsm, plan, facts } = await fixture(t);
    if (!facts.serverVersion.startsWith("2.9.")) return t.skip(`server is ${facts.serverVersion}`);
    const twoFilters = edited((d) => {
      (d.consumers["genealogy-builder-inventory"] as { filterSubjects: string[] }).filterSubjects = [
        "mfg.inventory.lot_registered.>",
        "mfg.inventory.material_consumed.>",
      ];
    });
    await assert.rejects(plan(twoFilters), (err: unknown) => {
      assert.ok(err instanceof UnsupportedFeatureError);
      assert.equal(err.code, StreamsErrorCode.FeatureUnsupported);
      assert.deepEqual(err.problems, [
        {
          key: "consumers.genealogy-builder-inventory.filterSubjects",
          feature: "multiple consumer filter subjects (filter_subjects)",
          since: "2.10.0",
        },
      ]);
      assert.match(
        err.message,
        /consumers\.genealogy-builder-inventory\.filterSubjects uses multiple consumer filter subjects \(filter_subjects\), which needs nats-server 2\.10\.0 or newer/,
      );
      assert.match(
        err.message,
        new RegExp(`newer nats-server than ${facts.serverVersion.replaceAll(".", "\\.")}`),
      );
      return true;
    });
    assert.deepEqual(await streamNames(jsm), [], "nothing was created");
    // A newer server would accept the same declarations.
    const p = await planChanges(jsm, twoFilters, { serverVersion: "2.10.0" });
    const target = item(p, "MFG_INVENTORY/genealogy-builder-inventory").target;
    assert.equal(target.kind, "consumer");
    assert.deepEqual(target.kind === "consumer" && target.config.filter_subjects, [
      "mfg.inventory.lot_registered.>",
      "mfg.inventory.material_consumed.>",
    ]);
  });

  test("replicas above 1 on a single, unclustered server fail the plan before anything is created", async (t) => {
    const { jsm, facts } = await fixture(t);
    assert.equal(facts.clustered, false);
    await assert.rejects(
      planChanges(jsm, declarationsWithExamples({ replicas: 3 }), facts),
      (err: unknown) => {
        assert.ok(err instanceof ReplicasUnavailableError);
        assert.equal(err.keys.length, COUNTS.streams + COUNTS.kv);
        assert.match(err.message, /streams\.MFG_MACHINE.*single node/);
        return true;
      },
    );
    assert.deepEqual(await streamNames(jsm), []);
  });

  test("KV buckets are created with their declared history and TTL, and the schema registry's bucket matches", async (t) => {
    const { nc, plan, apply } = await fixture(t);
    // The registry opening its bucket first must not make the plan differ for it.
    await SchemaRegistry.open(nc);
    assert.equal(item(await plan(), "THREADLINE_SCHEMAS").action, "unchanged");
    await apply();
    const kvm = new Kvm(nc);
    const idem = await (await kvm.open("THREADLINE_IDEMPOTENCY")).status();
    assert.equal(idem.history, 1);
    assert.equal(idem.ttl, 30 * 86_400_000);
    assert.equal((await (await kvm.open("THREADLINE_SCHEMAS")).status()).history, 10);
    assert.equal((await (await kvm.open("THREADLINE_CONNECTOR_STATE")).status()).history, 5);
    const holds = await kvm.open("THREADLINE_QUALITY");
    await holds.put("LOT-1", "held");
    assert.equal((await holds.get("LOT-1"))?.string(), "held");
  });
});

describe("threadline streams - the command line", () => {
  test("plan and apply exit 0 when apply needs no force, 1 when destructive changes are pending or refused", async (t) => {
    const { server, jsm } = await withJetStream(t);
    const S = ["--server", server.clientUrl];

    const empty = await threadline(["streams", "plan", ...S]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^\+ create stream MFG_MACHINE /m);
    assert.match(empty.stdout, new RegExp(`^${CLI_TOTAL} to create`, "m"));

    const applied = await threadline(["streams", "apply", ...S]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`^applied: ${CLI_TOTAL} created; 0 unchanged$`, "m"));

    const again = await threadline(["streams", "apply", ...S]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^applied: nothing to do/m);
    assert.equal(again.stdout.match(/^= unchanged /gm)?.length, CLI_TOTAL);

    // Someone added a subject by hand: the declarations would remove it.
    await jsm.streams.update("MFG_SHIPPING", { subjects: ["mfg.shipping.>", "legacy.shipping.>"] });
    const pending = await threadline(["streams", "plan", ...S]);
    assert.equal(pending.code, 1);
    assert.match(pending.stdout, /^! destructive stream MFG_SHIPPING: subjects/m);
    assert.match(pending.stderr, /1 destructive change\(s\) pending/);

    const refused = await threadline(["streams", "apply", ...S]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /STREAMS_DESTRUCTIVE_REFUSED: 1 destructive change\(s\) refused, nothing was changed: stream MFG_SHIPPING/,
    );
    assert.equal((await jsm.streams.info("MFG_SHIPPING")).config.subjects.length, 2);

    const forced = await threadline(["streams", "apply", "--force", ...S]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`^applied: 1 updated; ${CLI_TOTAL - 1} unchanged$`, "m"));
    assert.deepEqual((await jsm.streams.info("MFG_SHIPPING")).config.subjects, ["mfg.shipping.>"]);
  });

  test("--replicas the server cannot hold exits 1; a malformed flag exits 2", async (t) => {
    const { server, jsm } = await withJetStream(t);
    const S = ["--server", server.clientUrl];
    const r3 = await threadline(["streams", "apply", "--replicas", "3", ...S]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /STREAMS_REPLICAS_UNAVAILABLE/);
    assert.deepEqual(await streamNames(jsm), []);
    assert.equal((await threadline(["streams", "apply", "--replicas", "0", ...S])).code, 2);
    assert.equal((await threadline(["streams", "plan", "--profile", "staging", ...S])).code, 2);
  });
});
