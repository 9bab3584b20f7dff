/**
 * Every Kustomize overlay of deploy/k8s builds with kustomize, and every document it makes matches the
 * schema of its kind exactly — Kubernetes' own, NACK's, KEDA's, Prometheus Operator's, cert-manager's
 * (deploy/schemas, README there) — as an API server with strict field validation would: a misspelt
 * field, a wrong type or a missing required field fails here, not at `kubectl apply` on a customer's
 * cluster.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { loadBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { kustomizeBuild, validateManifests } from "../../tools/deploy/validate-manifests.js";
import { SERVICE_MANIFESTS } from "../../tools/manifests.js";

const K8S = join(PACKAGE_ROOT, "deploy", "k8s");
const overlays = readdirSync(join(K8S, "overlays")).sort();

function kindsOf(docs: readonly Record<string, unknown>[]): Set<string> {
  return new Set(docs.map((d) => `${String(d["apiVersion"])}/${String(d["kind"])}`));
}

describe("the overlays", () => {
  test("there is a development, a hub and at least one plant overlay", () => {
    assert.ok(overlays.includes("dev") && overlays.includes("hub"), overlays.join(", "));
    assert.ok(
      overlays.some((o) => o.startsWith("plant-")),
      overlays.join(", "),
    );
  });

  for (const overlay of overlays) {
    test(`${overlay}: kustomize builds it and every document matches its kind's schema, unknown fields refused`, () => {
      const docs = kustomizeBuild(join(K8S, "overlays", overlay));
      assert.ok(docs.length > 0);
      assert.deepEqual(validateManifests(docs), []);
    });
  }

  test("the hub runs every service, the streams as NACK resources, the alerts and the certificates", () => {
    const docs = kustomizeBuild(join(K8S, "overlays", "hub"));
    const kinds = kindsOf(docs);
    for (const kind of [
      "apps/v1/Deployment",
      "apps/v1/StatefulSet",
      "jetstream.nats.io/v1beta2/Stream",
      "jetstream.nats.io/v1beta2/Consumer",
      "jetstream.nats.io/v1beta2/KeyValue",
      "monitoring.coreos.com/v1/PrometheusRule",
      "monitoring.coreos.com/v1/ServiceMonitor",
      "cert-manager.io/v1/Certificate",
      "networking.k8s.io/v1/NetworkPolicy",
      "policy/v1/PodDisruptionBudget",
    ]) {
      assert.ok(kinds.has(kind), `the hub overlay has a ${kind}`);
    }
    assert.ok(docs.every((d) => (d["metadata"] as { namespace?: string }).namespace === "threadline"));
    // The plants' streams are sourced into the hub's (the overlay's patch).
    const production = docs.find(
      (d) => d["kind"] === "Stream" && (d["metadata"] as { name: string }).name === "mfg-production",
    );
    assert.ok(production, "the hub has the stream mfg-production");
    const sources = (production["spec"] as { sources?: { name: string; externalApiPrefix: string }[] })
      .sources;
    assert.deepEqual(sources, [{ name: "MFG_PRODUCTION", externalApiPrefix: "$JS.plant-lyon.API" }]);
  });

  test("a plant runs only the machine bridge, pointed at its leaf", () => {
    const docs = kustomizeBuild(join(K8S, "overlays", "plant-lyon"));
    const workloads = docs.filter((d) => d["kind"] === "Deployment" || d["kind"] === "StatefulSet");
    assert.deepEqual(
      workloads.map((d) => (d["metadata"] as { name: string }).name),
      ["machine-bridge"],
    );
    const settings = docs.find((d) => (d["metadata"] as { name: string }).name === "machine-bridge-settings");
    assert.ok(settings, "the plant has the ConfigMap machine-bridge-settings");
    assert.equal((settings["data"] as Record<string, string>)["NATS_URL"], "tls://nats-leaf.nats.svc:4222");
    // Its plant file is one the bridge accepts, with the OPC UA certificates on the volume that follows it.
    const files = docs.find((d) => (d["metadata"] as { name: string }).name === "machine-bridge-files");
    const planFile = join(mkdtempSync(join(tmpdir(), "threadline-plant-")), "plant.yaml");
    assert.ok(files, "the plant has the ConfigMap machine-bridge-files");
    writeFileSync(planFile, (files["data"] as Record<string, string>)["plant.yaml"] ?? "");
    const plant = loadBridgeConfig(planFile);
    const bridge = SERVICE_MANIFESTS.find((m) => m.service === "machine-bridge");
    assert.ok(
      bridge?.deployment?.volumes?.some((v) => v.size && v.mountPath === plant.pkiFolder),
      plant.pkiFolder,
    );
  });
});

describe("the NATS servers' certificates (deploy/k8s/nats-tls)", () => {
  test("they build and match cert-manager's schema, and give every TLS Secret the hub's values name", () => {
    const docs = kustomizeBuild(join(K8S, "nats-tls"));
    assert.deepEqual(validateManifests(docs), []);
    const issued = docs
      .filter((d) => d["kind"] === "Certificate")
      .map((d) => (d["spec"] as { secretName: string }).secretName)
      .sort();
    const values = readFileSync(join(PACKAGE_ROOT, "deploy/nats/hub-values.yaml"), "utf8");
    const named = [...values.matchAll(/secretName: (nats-[a-z-]+-tls)/g)].map((m) => m[1]).sort();
    assert.deepEqual(issued, named);
    assert.ok(docs.every((d) => (d["metadata"] as { namespace?: string }).namespace === "nats"));
  });
});

describe("the schema check refuses what an API server would", () => {
  const hub = kustomizeBuild(join(K8S, "overlays", "hub"));
  const copyOf = (kind: string) =>
    structuredClone(hub.find((d) => d["kind"] === kind) as Record<string, unknown>);

  test("an unknown field in a pod's container, named by its path", () => {
    const deployment = copyOf("Deployment") as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    deployment.spec.template.spec.containers[0]!["imagePullPolice"] = "Always";
    const problems = validateManifests([deployment]);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]?.path, "/spec/template/spec/containers/0");
    assert.match(problems[0]?.message ?? "", /imagePullPolice/);
  });

  test("a wrong type, a missing required field, an unknown field of a custom resource", () => {
    const deployment = copyOf("Deployment") as { spec: Record<string, unknown> };
    deployment.spec["replicas"] = "two";
    delete deployment.spec["selector"];
    const consumer = copyOf("Consumer") as { spec: Record<string, unknown> };
    consumer.spec["ackWaitt"] = "30s";
    const rule = copyOf("PrometheusRule") as { spec: { groups: Record<string, unknown>[] } };
    rule.spec.groups[0]!["rules"] = "not a list";
    const messages = validateManifests([deployment, consumer, rule]).map(
      (p) => `${p.document} ${p.path}: ${p.message}`,
    );
    assert.ok(
      messages.some((m) => /Deployment .* \/spec\/replicas: must be integer/.test(m)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => /Deployment .* \/spec: must have required property 'selector'/.test(m)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => /Consumer .* \/spec: .*ackWaitt/.test(m)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => /PrometheusRule .* \/spec\/groups\/0\/rules: must be array/.test(m)),
      messages.join("\n"),
    );
  });

  test("a kind without a vendored schema", () => {
    const problems = validateManifests([
      { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
    ]);
    assert.match(problems[0]?.message ?? "", /no schema for example.com\/v1\/Widget/);
  });
});
