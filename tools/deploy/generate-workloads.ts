/**
 * The services' Kubernetes workloads, from their manifests' `deployment` blocks: per service (a
 * Kustomize directory `deploy/k8s/base/<service>/`, so an overlay takes the services it runs) a
 * ServiceAccount, a ConfigMap of settings, a Deployment (or, when it writes to a volume that must follow
 * it, a StatefulSet), a Service, a ServiceMonitor, a PodDisruptionBudget, a NetworkPolicy and the cert-manager Certificate
 * of its NATS client identity; a service that is not a singleton also gets a KEDA ScaledObject that
 * scales it by its durables' pending messages (its manifest's `deployment.scaling`). The committed base is this output:
 *
 *     threadline streams k8s --workloads > deploy/k8s/base/workloads.yaml
 *
 * and test/deploy/workloads.test.ts fails when the two drift apart.
 *
 * What every pod gets, and why:
 * - the image's distroless `node` runs the manifest's entry point as user 65532, root filesystem read
 *   only, no privilege escalation, no capability, the runtime's seccomp profile; no service account
 *   token (no service calls the Kubernetes API);
 * - `/healthz` as startup and liveness probe, `/readyz` as readiness (streams/src/http.ts);
 * - a termination grace period longer than the whole shutdown: the one deadline of streams/src/shutdown.ts
 *   (the consumers' drain, 25 s, then 15 s for the rest; the process exits when it passes) plus 5 s;
 * - mutual TLS to NATS: the Certificate's Secret mounted where NATS_TLS_CA/CERT/KEY point, rotated by
 *   cert-manager and picked up without a restart (streams/src/tls.ts);
 * - its files (a plan, a plant file, a users file) from the ConfigMap `<service>-files`, which each
 *   overlay provides (optional: a service that needs none starts without it).
 *
 * NetworkPolicy: ingress only from Prometheus' namespace (`monitoring`) on the HTTP port, and for the
 * paths the manifest opens to the ingress (the Odoo webhook) from the ingress controller's namespace
 * (`ingress-nginx`); egress to NATS (namespace `nats`, 4222), DNS, and what the manifest names.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import {
  DEFAULT_DRAIN_MS,
  type DeploymentDeclaration,
  JETSTREAM_ACCOUNT,
  partitionDurables,
  type ServiceManifest,
  shutdownDeadlineMs,
} from "../../streams/src/index.js";

/**
 * The pod's grace period: the services' one shutdown deadline (streams/src/shutdown.ts) with the
 * default drain, plus 5 s for the signal to arrive and the process to exit.
 */
export const TERMINATION_GRACE_SECONDS = (shutdownDeadlineMs(DEFAULT_DRAIN_MS) + 5_000) / 1000;

/** Where cluster-wide things are, as the overlays may patch them. */
export const CLUSTER = {
  natsUrl: "tls://nats.nats.svc:4222",
  natsNamespace: "nats",
  monitoringNamespace: "monitoring",
  ingressNamespace: "ingress-nginx",
  issuer: "threadline-nats-ca",
  image: "threadline",
  /** The ingress class and the public host of the paths a manifest opens (the Odoo webhook). */
  ingressClass: "nginx",
  ingressHost: "threadline.example.com",
  /**
   * What KEDA's nats-jetstream scaler asks for a durable's pending count: the NATS chart's headless
   * Service (the scaler finds the consumer's leader among the nodes through it), monitoring port.
   */
  natsMonitoring: "nats-headless.nats.svc.cluster.local:8222",
  /** The NATS account holding the streams (deploy/nats/accounts.conf), as the monitoring endpoint names it. */
  jetstreamAccount: JETSTREAM_ACCOUNT,
} as const;

/** A service that is not a singleton scales like this unless its manifest says otherwise. */
export const DEFAULT_SCALING = { minReplicas: 1, maxReplicas: 4, lagThreshold: 1000 } as const;

const TLS_DIR = "/etc/threadline/nats-tls";
const USER = 65532;

const labelsOf = (service: string) => ({
  "app.kubernetes.io/name": service,
  "app.kubernetes.io/part-of": "threadline",
  "app.kubernetes.io/managed-by": "threadline-streams",
});

/** Every document of one service; `all` are the services beside it (who calls its API). */
export function serviceWorkload(m: ServiceManifest, all: readonly ServiceManifest[] = [m]): object[] {
  const d = m.deployment as DeploymentDeclaration;
  const name = m.service;
  const labels = labelsOf(name);
  const selector = { "app.kubernetes.io/name": name };
  const persistent = (d.volumes ?? []).filter((v) => v.size);
  const durables = Object.entries(m.consumers ?? {});
  // A fixed count (the bridge's endpoints, an active/standby service) is not KEDA's to change.
  const scaled = !d.singleton && d.replicas === undefined && durables.length > 0;
  const scratch = (d.volumes ?? []).filter((v) => !v.size);
  const settings: Record<string, string> = {
    NATS_URL: CLUSTER.natsUrl,
    // Its own user in its own account (deploy/nats/accounts.conf); NATS_PASSWORD is in its Secret.
    NATS_USER: name,
    NATS_TLS_CA: `${TLS_DIR}/ca.crt`,
    NATS_TLS_CERT: `${TLS_DIR}/tls.crt`,
    NATS_TLS_KEY: `${TLS_DIR}/tls.key`,
    HTTP_HOST: "0.0.0.0",
    HTTP_PORT: String(d.port),
    DRAIN_TIMEOUT_MS: String(DEFAULT_DRAIN_MS),
    LOG_LEVEL: "info",
    ...d.settings,
  };
  const container = {
    name,
    image: `${CLUSTER.image}:latest`,
    args: [d.entry],
    envFrom: [
      { configMapRef: { name: `${name}-settings` } },
      // Every service has a Secret: its NATS_PASSWORD, and what its manifest's `secrets` name.
      { secretRef: { name: `${name}-secrets` } },
    ],
    ports: [{ name: "http", containerPort: d.port }],
    startupProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2, failureThreshold: 60 },
    livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, failureThreshold: 2 },
    resources: {
      requests: { cpu: d.resources.cpu, memory: d.resources.memory },
      limits: { memory: d.resources.memory },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: "nats-tls", mountPath: TLS_DIR, readOnly: true },
      { name: "files", mountPath: `/etc/threadline/${name}`, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
      ...(d.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath })),
    ],
  };
  const pod = {
    metadata: { labels },
    spec: {
      serviceAccountName: name,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: USER,
        runAsGroup: USER,
        fsGroup: USER,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [container],
      volumes: [
        { name: "nats-tls", secret: { secretName: `${name}-nats-tls` } },
        { name: "files", configMap: { name: `${name}-files`, optional: true } },
        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        ...scratch.map((v) => ({ name: v.name, emptyDir: {} })),
      ],
    },
  };
  const workload =
    persistent.length > 0
      ? {
          apiVersion: "apps/v1",
          kind: "StatefulSet",
          metadata: { name, labels },
          spec: {
            serviceName: name,
            ...(scaled ? {} : { replicas: d.replicas ?? 1 }),
            selector: { matchLabels: selector },
            // One copy at a time: the next starts once the previous is gone (its volume follows it).
            podManagementPolicy: "OrderedReady",
            updateStrategy: { type: "RollingUpdate" },
            template: pod,
            volumeClaimTemplates: persistent.map((v) => ({
              metadata: { name: v.name, labels },
              spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: v.size } } },
            })),
          },
        }
      : {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name, labels },
          spec: {
            // A scaled service's count is KEDA's: a replica count here would reset it on every apply.
            ...(scaled ? {} : { replicas: d.replicas ?? 1 }),
            selector: { matchLabels: selector },
            // A singleton's old pod stops before the new one starts: two would decide twice. An
            // active/standby service's standbys are never ready, so its rollout cannot wait for them:
            // every pod is replaced at once, and the lease (released on SIGTERM) keeps one active.
            strategy: d.singleton
              ? { type: "Recreate" }
              : d.activeStandby
                ? { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: d.replicas ?? 1 } }
                : { type: "RollingUpdate" },
            template: pod,
          },
        };
  const egress = [
    {
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": CLUSTER.natsNamespace } } }],
      ports: [{ protocol: "TCP", port: 4222 }],
    },
    {
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }],
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
      ],
    },
    ...(d.egress ?? []).map((e) =>
      e.to === "*"
        ? { ports: [{ protocol: "TCP", port: e.port }] }
        : {
            to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": e.to } } }],
            ports: [{ protocol: "TCP", port: e.port }],
          },
    ),
  ];
  const ingress = [
    {
      from: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": CLUSTER.monitoringNamespace } },
        },
      ],
      ports: [{ protocol: "TCP", port: d.port }],
    },
    ...(d.ingressPaths?.length
      ? [
          {
            from: [
              {
                namespaceSelector: {
                  matchLabels: { "kubernetes.io/metadata.name": CLUSTER.ingressNamespace },
                },
              },
            ],
            ports: [{ protocol: "TCP", port: d.port }],
          },
        ]
      : []),
    // Services of the namespace that call its API (the quality service asks the genealogy builder).
    ...all
      .filter((o) => o.deployment?.egress?.some((e) => e.to === name))
      .map((o) => o.service)
      .map((caller) => ({
        from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": caller } } }],
        ports: [{ protocol: "TCP", port: d.port }],
      })),
  ];
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name, labels },
      automountServiceAccountToken: false,
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${name}-settings`, labels }, data: settings },
    workload,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels },
      spec: { selector, ports: [{ name: "http", port: d.port, targetPort: "http" }] },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name, labels },
      // One copy: a drain may take it (it drains and another pod starts); 0 would block node upgrades.
      // An active/standby service has one ready pod only: a budget of 1 would never let a drain
      // evict the active one (its standby takes over within the lease ttl).
      spec: {
        selector: { matchLabels: selector },
        maxUnavailable: d.activeStandby ? (d.replicas ?? 1) : 1,
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name, labels },
      spec: { podSelector: { matchLabels: selector }, policyTypes: ["Ingress", "Egress"], ingress, egress },
    },
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: selector },
        endpoints: [
          {
            port: "http",
            path: "/metrics",
            interval: "30s",
            // /metrics wants the bearer METRICS_TOKEN (streams/src/http.ts), from the service's Secret.
            bearerTokenSecret: { name: `${name}-secrets`, key: "METRICS_TOKEN" },
          },
        ],
      },
    },
    ...(scaled ? [scaledObject(m, workload.kind)] : []),
    ...(d.ingressPaths?.length ? [ingressOf(name, labels, d)] : []),
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: `${name}-nats-client`, labels },
      spec: {
        secretName: `${name}-nats-tls`,
        // The subject is the NATS user with `verify_and_map` (docs/security.md).
        commonName: name,
        usages: ["client auth", "digital signature", "key encipherment"],
        duration: "2160h",
        renewBefore: "360h",
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
        issuerRef: { name: CLUSTER.issuer, kind: "Issuer" },
      },
    },
  ];
}

/**
 * The Ingress of the paths a manifest opens to the outside (the Odoo webhook) and of nothing else: the
 * controller routes only these prefixes; its TLS certificate is the overlay's (cert-manager's
 * ingress-shim or a Secret the platform provides).
 */
function ingressOf(name: string, labels: Record<string, string>, d: DeploymentDeclaration): object {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, labels },
    spec: {
      ingressClassName: CLUSTER.ingressClass,
      tls: [{ hosts: [CLUSTER.ingressHost], secretName: `${name}-ingress-tls` }],
      rules: [
        {
          host: CLUSTER.ingressHost,
          http: {
            paths: (d.ingressPaths ?? []).map((path) => ({
              path,
              pathType: "Prefix",
              backend: { service: { name, port: { name: "http" } } },
            })),
          },
        },
      ],
    },
  };
}

/**
 * KEDA's ScaledObject of a service that is not a singleton: one `nats-jetstream` trigger per durable
 * it owns; KEDA scales to the largest of their wishes (pending ÷ lagThreshold replicas).
 */
function scaledObject(m: ServiceManifest, kind: string): object {
  const scaling = { ...DEFAULT_SCALING, ...m.deployment?.scaling };
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name: m.service, labels: labelsOf(m.service) },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind, name: m.service },
      minReplicaCount: scaling.minReplicas,
      maxReplicaCount: scaling.maxReplicas,
      // Scale down slowly: a replica leaving hands its in-flight messages back (ack wait) to the others.
      cooldownPeriod: 300,
      // A partitioned durable exists on the server as its partitions: KEDA watches those (each reads
      // the whole filtered stream, so each one's pending is the durable's lag).
      triggers: Object.entries(m.consumers ?? {})
        .flatMap(([durable, c]) =>
          (c.partitions ? partitionDurables(durable, c.partitions) : [durable]).map((consumer) => ({
            consumer,
            stream: c.stream,
          })),
        )
        .map(({ consumer, stream }) => ({
          type: "nats-jetstream",
          name: consumer,
          metadata: {
            natsServerMonitoringEndpoint: CLUSTER.natsMonitoring,
            account: CLUSTER.jetstreamAccount,
            stream,
            consumer,
            lagThreshold: String(scaling.lagThreshold),
          },
        })),
    },
  };
}

const HEADER =
  "# Generated by `threadline streams k8s --workloads --write` from the services' manifests. Do not edit.\n";

const yamlStream = (docs: readonly object[]) =>
  HEADER + docs.map((doc) => `---\n${stringify(doc, { lineWidth: 0 })}`).join("");

/** The workloads of every manifest with a `deployment`, as one YAML stream. */
export function generateWorkloads(manifests: readonly ServiceManifest[]): string {
  return yamlStream(manifests.filter((m) => m.deployment).flatMap((m) => serviceWorkload(m, manifests)));
}

/** Where the base lives. */
export const WORKLOADS_DIR = join(PACKAGE_ROOT, "deploy", "k8s", "base");

/**
 * The base as files, by path relative to `deploy/k8s/base`: `<service>/workloads.yaml` and its
 * `kustomization.yaml` per service, and the base's own `kustomization.yaml` taking them all.
 */
export function workloadFiles(manifests: readonly ServiceManifest[]): Record<string, string> {
  const deployed = manifests.filter((m) => m.deployment);
  const files: Record<string, string> = {};
  for (const m of deployed) {
    files[`${m.service}/workloads.yaml`] = yamlStream(serviceWorkload(m, manifests));
    files[`${m.service}/kustomization.yaml`] =
      HEADER +
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: ["workloads.yaml"],
      });
  }
  files["kustomization.yaml"] =
    HEADER +
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["issuer", "monitoring", ...deployed.map((m) => m.service)],
    });
  files["monitoring/kustomization.yaml"] =
    HEADER +
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["alerts.yaml"],
    });
  files["monitoring/alerts.yaml"] = yamlStream([prometheusRule()]);
  files["issuer/kustomization.yaml"] =
    HEADER +
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["issuer.yaml"],
    });
  files["issuer/issuer.yaml"] = yamlStream([
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Issuer",
      metadata: { name: CLUSTER.issuer, labels: { "app.kubernetes.io/part-of": "threadline" } },
      // The CA's certificate and key, created once by the platform team (docs/security.md).
      spec: { ca: { secretName: "nats-ca" } },
    },
  ]);
  return files;
}

/** The alert rule files (deploy/prometheus/*-rules.yaml) as one PrometheusRule of the Prometheus Operator. */
export function prometheusRule(): object {
  const dir = join(PACKAGE_ROOT, "deploy", "prometheus");
  const groups = readdirSync(dir)
    .filter((f) => f.endsWith("-rules.yaml"))
    .sort()
    .flatMap((f) => (parse(readFileSync(join(dir, f), "utf8")) as { groups: object[] }).groups);
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "threadline-alerts", labels: { "app.kubernetes.io/part-of": "threadline" } },
    spec: { groups },
  };
}

/** Writes the base (`--write`); the paths written. */
export function writeWorkloads(manifests: readonly ServiceManifest[], dir = WORKLOADS_DIR): string[] {
  const files = workloadFiles(manifests);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return Object.keys(files).map((p) => join(dir, p));
}
