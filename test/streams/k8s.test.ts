/**
 * deploy/k8s/streams/streams.yaml is generated from the declarations (`threadline streams k8s`): the committed
 * file must equal the generated output (drift test), and it must be what NACK reads.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { generateK8s, goDuration, K8S_FILE } from "../../tools/deploy/generate-k8s.js";
import { platformDeclarations } from "../../tools/manifests.js";

describe("streams k8s - NACK resources from the declarations", () => {
  test("the committed deploy/k8s/streams/streams.yaml equals the generated output", () => {
    let committed = "";
    try {
      committed = readFileSync(K8S_FILE, "utf8");
    } catch {
      // reported below
    }
    assert.ok(
      committed === generateK8s(platformDeclarations({ profile: "production" })),
      "deploy/k8s/streams/streams.yaml is stale: run `npm run build && node bin/threadline.js streams k8s > deploy/k8s/streams/streams.yaml`",
    );
  });

  test("one Stream, KeyValue or Consumer per declaration, with Go durations and production replicas", () => {
    const d = platformDeclarations({ profile: "production" });
    type Obj = Record<string, unknown>;
    const docs = parseAllDocuments(generateK8s(d)).map((doc) => doc.toJS() as Obj);
    assert.equal(
      docs.length,
      Object.keys(d.streams).length + Object.keys(d.kv).length + Object.keys(d.consumers).length,
    );
    for (const doc of docs) assert.equal(doc["apiVersion"], "jetstream.nats.io/v1beta2");
    const byKind = (kind: string) =>
      docs.filter((doc) => doc["kind"] === kind).map((doc) => doc["spec"] as Obj);
    const find = (kind: string, field: string, value: string) => {
      const found = byKind(kind).find((spec) => spec[field] === value);
      assert.ok(found, `${kind} ${value}`);
      return found;
    };
    assert.deepEqual(
      byKind("Stream").map((s) => s["name"]),
      Object.keys(d.streams),
    );
    assert.deepEqual(
      byKind("KeyValue").map((k) => k["bucket"]),
      Object.keys(d.kv),
    );
    assert.deepEqual(
      byKind("Consumer").map((c) => c["durableName"]),
      Object.keys(d.consumers),
    );
    const machine = find("Stream", "name", "MFG_MACHINE");
    assert.equal(machine["maxAge"], "168h");
    assert.equal(machine["duplicateWindow"], "2h");
    assert.equal(machine["replicas"], 3);
    assert.equal(machine["preventDelete"], true);
    // Partitioned in its manifest: the server gets its partitions.
    const poster = find("Consumer", "durableName", "odoo-connector-production-reported-p0");
    assert.equal(poster["streamName"], "MFG_PRODUCTION");
    // Its two types only (not the ProductionPosted events it appends: they would read as backlog).
    assert.deepEqual(poster["filterSubjects"], [
      "mfg.production.production_reported.>",
      "mfg.production.production_run_ended.>",
    ]);
    assert.equal(poster["filterSubject"], undefined);
    assert.deepEqual(poster["backoff"], ["1m", "5m", "15m", "1h", "4h"]);
    for (const c of byKind("Consumer"))
      assert.equal(c["preventDelete"], true, `Consumer ${c["durableName"]}`);
    assert.equal(find("KeyValue", "bucket", "THREADLINE_IDEMPOTENCY")["ttl"], "720h");
    for (const doc of docs)
      assert.match(String((doc["metadata"] as Obj)["name"]), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  test("for a server without multiple filter subjects (the 2.9 floor) a durable gets its floor filter, and nothing is pinned", () => {
    type Obj = Record<string, unknown>;
    const docs = parseAllDocuments(
      generateK8s(platformDeclarations({ profile: "production" }), "2.9.10"),
    ).map((doc) => doc.toJS() as Obj);
    const poster = docs.find(
      (doc) =>
        doc["kind"] === "Consumer" &&
        (doc["spec"] as Obj)["durableName"] === "odoo-connector-production-reported-p0",
    )?.["spec"] as Obj;
    assert.equal(poster["filterSubject"], "mfg.production.>");
    assert.equal(poster["filterSubjects"], undefined);
    assert.equal(poster["priorityPolicy"], undefined);
  });

  test("Go durations never use days", () => {
    assert.equal(goDuration("400d"), "9600h");
    assert.equal(goDuration("90s"), "90s");
    assert.equal(goDuration("0s"), "0s");
  });
});
