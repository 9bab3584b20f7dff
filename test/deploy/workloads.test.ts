/**
 * The Kubernetes workloads (deploy/k8s/base, generated from the services' manifests) and the alert
 * rules as a PrometheusRule: the committed files are what the generator makes; every service runs as a
 * non-root, read-only, probed pod with a grace period longer than its shutdown, mutual TLS to NATS, a
 * NetworkPolicy that lets in only Prometheus (and the ingress where a webhook is) and out only to what
 * it needs. The overlays built with kustomize and checked against the schemas: overlays.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import {
  BaseServiceConfig,
  type DeploymentDeclaration,
  type ServiceManifest,
  serviceManifest,
} from "../../streams/src/index.js";
import { shutdownDeadlineMs } from "../../streams/src/shutdown.js";
import {
  serviceWorkload,
  TERMINATION_GRACE_SECONDS,
  WORKLOADS_DIR,
  workloadFiles,
} from "../../tools/deploy/generate-workloads.js";
import { validateManifests } from "../../tools/deploy/validate-manifests.js";
import { SERVICE_MANIFESTS } from "../../tools/manifests.js";

type ConsumerOfManifest = NonNullable<ServiceManifest["consumers"]>[string];
type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };

const docsOf = (path: string): Doc[] =>
  parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJSON() as Doc)
    .filter(Boolean);

describe("deploy/k8s/base: the services' workloads", () => {
  test("the committed base is what the manifests generate (regenerate: threadline streams k8s --workloads --write)", () => {
    for (const [path, text] of Object.entries(workloadFiles(SERVICE_MANIFESTS)))
      assert.equal(readFileSync(join(WORKLOADS_DIR, path), "utf8"), text, `deploy/k8s/base/${path} is stale`);
  });

  for (const m of SERVICE_MANIFESTS) {
    test(`${m.service}: non-root read-only pod, probes, a grace period beyond its shutdown, mutual TLS, least network`, () => {
      const docs = docsOf(join(WORKLOADS_DIR, m.service, "workloads.yaml"));
      const kinds = docs.map((d) => d.kind).sort();
      const workload = docs.find((d) => d.kind === "Deployment" || d.kind === "StatefulSet") as Doc;
      assert.deepEqual(
        kinds,
        [
          "Certificate",
          "ConfigMap",
          workload.kind,
          "NetworkPolicy",
          "PodDisruptionBudget",
          "Service",
          "ServiceAccount",
          "ServiceMonitor",
          ...(m.deployment?.ingressPaths?.length ? ["Ingress"] : []),
          // Several copies scale by their durables' backlog (KEDA), unless the manifest fixes a count.
          ...(m.deployment?.singleton === false && m.deployment.replicas === undefined
            ? ["ScaledObject"]
            : []),
        ].sort(),
      );
      const pod = workload.spec.template.spec;
      const [c] = pod.containers;
      assert.equal(pod.automountServiceAccountToken, false);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.ok(pod.securityContext.runAsUser > 0);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
      const settings = docs.find((d) => d.kind === "ConfigMap")?.["data"] as Record<string, string>;
      assert.equal(c.startupProbe.httpGet.path, "/healthz");
      assert.equal(c.livenessProbe.httpGet.path, "/healthz");
      assert.equal(c.readinessProbe.httpGet.path, "/readyz");
      assert.deepEqual(c.args, [m.deployment?.entry]);
      // The whole shutdown: the one deadline of streams/src/shutdown.ts with the configured drain.
      const drainMs = Number(settings["DRAIN_TIMEOUT_MS"]);
      assert.equal(drainMs, BaseServiceConfig.shape.DRAIN_TIMEOUT_MS.parse(undefined));
      assert.ok(pod.terminationGracePeriodSeconds * 1000 > shutdownDeadlineMs(drainMs));
      assert.equal(pod.terminationGracePeriodSeconds, TERMINATION_GRACE_SECONDS);
      if (m.deployment?.singleton && workload.kind === "Deployment")
        assert.equal(workload.spec.strategy.type, "Recreate");
      // A fixed count when the manifest asks one, one copy for a singleton, KEDA's for a scaled service.
      assert.equal(
        workload.spec.replicas,
        m.deployment?.replicas ?? (m.deployment?.singleton ? 1 : undefined),
      );

      assert.match(settings["NATS_URL"] ?? "", /^tls:\/\//);
      const tlsMount = c.volumeMounts.find((v: { name: string }) => v.name === "nats-tls");
      for (const key of ["NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY"])
        assert.equal(dirname(settings[key] ?? ""), tlsMount.mountPath);
      const cert = docs.find((d) => d.kind === "Certificate") as Doc;
      assert.equal(cert["spec"].commonName, m.service);
      assert.equal(
        pod.volumes.find((v: { name: string }) => v.name === "nats-tls").secret.secretName,
        cert["spec"].secretName,
      );
      // Every setting and secret is one the service (or the SDK) reads.
      const sources = [
        ...["config.ts", "connection.ts"].map((f) =>
          readFileSync(join(PACKAGE_ROOT, "streams/src", f), "utf8"),
        ),
        ...["config.ts", "main.ts"]
          .map((f) => join(PACKAGE_ROOT, "services", m.service, "src", f))
          .filter(existsSync)
          .map((f) => readFileSync(f, "utf8")),
      ].join("\n");
      for (const key of [...Object.keys(settings), ...(m.deployment?.secrets ?? [])])
        assert.ok(sources.includes(key), `${m.service}: ${key} is read by nothing`);

      // Prometheus scrapes /metrics with the service's METRICS_TOKEN (from its Secret).
      const monitor = docs.find((d) => d.kind === "ServiceMonitor") as Doc;
      assert.deepEqual(monitor["spec"].endpoints[0].bearerTokenSecret, {
        name: `${m.service}-secrets`,
        key: "METRICS_TOKEN",
      });
      assert.ok(m.deployment?.secrets.includes("METRICS_TOKEN"));
      const policy = docs.find((d) => d.kind === "NetworkPolicy") as Doc;
      const ports = (rules: { ports: { port: number }[] }[]) =>
        rules.flatMap((r) => r.ports.map((p) => p.port));
      assert.ok(ports(policy["spec"].egress).includes(4222), "to NATS");
      assert.ok(ports(policy["spec"].egress).includes(53), "to DNS");
      assert.deepEqual(
        [...new Set(ports(policy["spec"].ingress))],
        [m.deployment?.port],
        "only its HTTP port is reachable",
      );
      assert.equal(
        policy["spec"].ingress.some(
          (r: { from: { namespaceSelector?: { matchLabels: Record<string, string> } }[] }) =>
            r.from.some(
              (f) => f.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"] === "ingress-nginx",
            ),
        ),
        Boolean(m.deployment?.ingressPaths?.length),
        "the ingress reaches only a service with a webhook",
      );
    });
  }

  test("the machine bridge keeps its OPC UA certificates on a volume that follows it; the quality service and the ops console may reach the genealogy builder, nothing else may", () => {
    const bridge = docsOf(join(WORKLOADS_DIR, "machine-bridge", "workloads.yaml")).find(
      (d) => d.kind === "StatefulSet",
    );
    assert.equal(bridge?.["spec"].volumeClaimTemplates[0].metadata.name, "pki");
    const genealogy = docsOf(join(WORKLOADS_DIR, "genealogy-builder", "workloads.yaml")).find(
      (d) => d.kind === "NetworkPolicy",
    );
    const callers = genealogy?.["spec"].ingress.flatMap(
      (r: { from: { podSelector?: { matchLabels: Record<string, string> } }[] }) =>
        r.from.flatMap((f) => (f.podSelector ? [f.podSelector.matchLabels["app.kubernetes.io/name"]] : [])),
    );
    assert.deepEqual(callers, ["quality-service", "ops-console"]);
  });
});

describe("the ingress", () => {
  test("only the paths a manifest opens (the Odoo webhook, the ops console) are routed from outside, each to its service alone", () => {
    const ingresses = SERVICE_MANIFESTS.flatMap((m) => serviceWorkload(m) as Doc[]).filter(
      (d) => d.kind === "Ingress",
    );
    assert.deepEqual(
      ingresses.map((i) => i.metadata.name),
      ["odoo-connector", "ops-console"],
    );
    const paths = ingresses.map((i) =>
      i["spec"].rules.flatMap((r: { http: { paths: unknown[] } }) => r.http.paths),
    );
    assert.deepEqual(paths, [
      [
        {
          path: "/odoo/webhook",
          pathType: "Prefix",
          backend: { service: { name: "odoo-connector", port: { name: "http" } } },
        },
      ],
      [
        {
          path: "/",
          pathType: "Prefix",
          backend: { service: { name: "ops-console", port: { name: "http" } } },
        },
      ],
    ]);
  });
});

describe("autoscaling (KEDA)", () => {
  const base = SERVICE_MANIFESTS.find((m) => m.service === "genealogy-builder") as ServiceManifest;
  const deployment = base.deployment as DeploymentDeclaration;

  test("no singleton gets a ScaledObject: two copies would decide twice", () => {
    for (const m of SERVICE_MANIFESTS.filter((s) => s.deployment?.singleton)) {
      assert.ok(!serviceWorkload(m).some((d) => (d as Doc).kind === "ScaledObject"), m.service);
    }
  });

  test("a service that is not a singleton scales by its durables' pending messages, one trigger each", () => {
    const scalable = serviceManifest({
      ...base,
      deployment: { ...deployment, singleton: false, scaling: { maxReplicas: 6, lagThreshold: 500 } },
    });
    const docs = serviceWorkload(scalable) as Doc[];
    const scaler = docs.find((d) => d.kind === "ScaledObject");
    assert.ok(scaler, "a ScaledObject");
    const workload = docs.find((d) => d.kind === "Deployment" || d.kind === "StatefulSet") as Doc;
    assert.deepEqual(scaler["spec"].scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: workload.kind,
      name: base.service,
    });
    assert.equal(scaler["spec"].minReplicaCount, 1);
    assert.equal(scaler["spec"].maxReplicaCount, 6);
    assert.deepEqual(
      scaler["spec"].triggers.map((t: { type: string; metadata: Record<string, string> }) => [
        t.type,
        t.metadata["stream"],
        t.metadata["consumer"],
        t.metadata["lagThreshold"],
      ]),
      Object.entries(base.consumers ?? {}).map(([durable, c]) => [
        "nats-jetstream",
        c.stream,
        durable,
        "500",
      ]),
    );
    // KEDA owns the replica count; a rolling update keeps copies running through a rollout.
    assert.equal(workload["spec"].replicas, undefined);
    assert.deepEqual(validateManifests(docs), []);
  });

  test("the machine bridge runs a fixed two replicas (its endpoints spread under leases): a StatefulSet of 2, one PKI volume each, no autoscaler", () => {
    const bridge = SERVICE_MANIFESTS.find((m) => m.service === "machine-bridge");
    assert.ok(bridge);
    const docs = serviceWorkload(bridge) as Doc[];
    const workload = docs.find((d) => d.kind === "StatefulSet") as Doc;
    assert.equal(workload["spec"].replicas, 2);
    assert.deepEqual(
      workload["spec"].volumeClaimTemplates.map((v: Doc) => v.metadata.name),
      ["pki"],
    );
    assert.ok(!docs.some((d) => d.kind === "ScaledObject"));
  });

  test("the orchestrator and the quality service run active/standby: a Deployment of 2, no autoscaler, a rollout and a drain that do not wait for a standby to be ready", () => {
    for (const service of ["production-orchestrator", "quality-service"]) {
      const m = SERVICE_MANIFESTS.find((s) => s.service === service);
      assert.ok(m);
      const docs = serviceWorkload(m) as Doc[];
      const workload = docs.find((d) => d.kind === "Deployment") as Doc;
      assert.equal(workload["spec"].replicas, 2, service);
      // A standby is never ready: waiting for it would stall every rollout and block every drain.
      assert.deepEqual(workload["spec"].strategy, {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: 1, maxUnavailable: 2 },
      });
      const budget = docs.find((d) => d.kind === "PodDisruptionBudget") as Doc;
      assert.equal(budget["spec"].maxUnavailable, 2, service);
      assert.ok(!docs.some((d) => d.kind === "ScaledObject"), `${service}: a hot standby adds no throughput`);
    }
  });

  test("a manifest asking active/standby without a fixed replica count is refused, naming the field", () => {
    const { scaling: _, ...unscaled } = deployment;
    assert.throws(
      () => serviceManifest({ ...base, deployment: { ...unscaled, singleton: false, activeStandby: true } }),
      (e: Error) => /manifests\.genealogy-builder\.deployment\.activeStandby.*replicas/s.test(e.message),
    );
  });

  test("a partitioned durable is watched through its partitions, and no more replicas than partitions", () => {
    const [durable, c] = Object.entries(base.consumers ?? {})[0] as [string, { stream: string }];
    const partitioned = serviceManifest({
      ...base,
      consumers: { [durable]: { ...(base.consumers?.[durable] as ConsumerOfManifest), partitions: 3 } },
      deployment: { ...deployment, singleton: false, scaling: { maxReplicas: 3 } },
    });
    const scaler = (serviceWorkload(partitioned) as Doc[]).find((d) => d.kind === "ScaledObject") as Doc;
    assert.deepEqual(
      scaler["spec"].triggers.map((t: { metadata: Record<string, string> }) => [
        t.metadata["stream"],
        t.metadata["consumer"],
      ]),
      [0, 1, 2].map((i) => [c.stream, `${durable}-p${i}`]),
    );
    assert.throws(
      () =>
        serviceManifest({
          ...partitioned,
          deployment: { ...deployment, singleton: false, scaling: { maxReplicas: 4 } },
        }),
      /deployment\.scaling\.maxReplicas: is more than the partitions of a partitioned durable \(3\)/,
    );
  });

  test("a manifest asking a singleton for several replicas is refused, naming the field", () => {
    assert.throws(
      () => {
        const { scaling: _, ...fixed } = deployment;
        return serviceManifest({ ...base, deployment: { ...fixed, singleton: true, replicas: 2 } });
      },
      (e: Error) => /manifests\.genealogy-builder\.deployment\.replicas.*singleton/s.test(e.message),
    );
  });

  test("a manifest asking a singleton to scale is refused, naming the field", () => {
    assert.throws(
      () =>
        serviceManifest({
          ...base,
          deployment: { ...deployment, singleton: true, scaling: { maxReplicas: 2 } },
        }),
      (e: Error) => /manifests\.genealogy-builder\.deployment\.scaling.*singleton/s.test(e.message),
    );
  });
});
