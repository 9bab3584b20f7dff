/**
 * A service's manifest: everything it declares about itself in one place — the durable consumers it
 * owns (with their server settings), the KV buckets and streams it owns, the events it publishes, its
 * HTTP routes and the rest of its NATS access. `streams plan|apply`, the Kubernetes generator and
 * `streams permissions` gather the manifests (tools/manifests.ts); `streams/` itself declares only what
 * is shared (the domain streams, the dead-letter stream, the registry, shared buckets).
 *
 * ```ts
 * export const manifest = serviceManifest({
 *   service: "order-progress",
 *   description: "tracks each order's progress",
 *   consumers: {
 *     "order-progress-reports": {
 *       stream: "MFG_PRODUCTION", description: "...", filterSubjects: ["mfg.production.production_reported.>"],
 *       ackWait: "30s", backoff: ["30s", "2m"], maxDeliver: 5, maxAckPending: 256,
 *     },
 *   },
 *   publishes: ["mfg.production.production_order_changed.v1"],
 * });
 * ```
 *
 * A durable's, a bucket's or a stream's name is spelled here once; code refers to it through the
 * manifest. A stream belongs in a manifest when one service is its only writer (the Odoo connector's
 * MFG_MASTERDATA); a stream several services publish into is shared, in streams/src/declarations.ts.
 */
import { z } from "zod";
import { EVENT_TYPES, type EventType } from "../../contracts/src/index.js";
import {
  DeclarationError,
  type DeclarationProblem,
  type KvDeclaration,
  type ManifestConsumerDeclaration,
  type SizeByProfile,
  type StreamDeclaration,
} from "./declarations.js";
import type { DeadLetterAccess, ServiceAccess, StreamReadAccess } from "./permissions.js";

/** An HTTP route the service serves besides /healthz, /readyz and /metrics, and how it is protected. */
export interface HttpRouteDeclaration {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** The path as fastify spells it, e.g. `/odoo/webhook/:token`. */
  readonly path: string;
  /**
   * `bearer`: a token in the Authorization header; `path-token`: a secret in the path; `session`: a
   * signed-in user's session cookie (the ops console); `none`.
   */
  readonly auth: "bearer" | "path-token" | "session" | "none";
  readonly description: string;
}

/** A KV bucket a service owns; replicas come from the environment's profile. */
export type OwnedKvDeclaration = Omit<KvDeclaration, "replicas">;

/**
 * A stream a service owns; replicas come from the environment's profile, and so may its size cap:
 * `maxBytes: { production: 5 * GiB, local: 32 * MiB }` (a local server's store is small, see
 * PROFILES), or one number for every environment.
 */
export type OwnedStreamDeclaration = Omit<StreamDeclaration, "replicas" | "maxBytes"> & {
  readonly maxBytes: number | SizeByProfile;
};

/**
 * How a service runs on Kubernetes (tools/deploy/generate-workloads.ts makes its Deployment or
 * StatefulSet, ConfigMap, Service, PodDisruptionBudget, NetworkPolicy and NATS client Certificate).
 */
export interface DeploymentDeclaration {
  /** The entry point in the image, e.g. `dist/services/odoo-connector/src/main.js`. */
  readonly entry: string;
  /** Its HTTP port (health, metrics, API): the service's HTTP_PORT default. */
  readonly port: number;
  /**
   * One copy only (a `Recreate` rollout): its state is per process. A service whose ordered durables
   * are partitioned (`partitions`) keeps its per-key order across replicas and need not be one.
   */
  readonly singleton: boolean;
  /**
   * How a service that is not a singleton scales with KEDA's `nats-jetstream` trigger, one per durable
   * it owns: one more replica per `lagThreshold` messages pending on its busiest durable, between
   * `minReplicas` and `maxReplicas`. Only without `singleton`.
   * @default { minReplicas: 1, maxReplicas: 4, lagThreshold: 1000 } when the service is not a singleton
   */
  readonly scaling?: {
    /** At least this many; 1 keeps its HTTP API and metrics up when nothing is pending. @default 1 */
    readonly minReplicas?: number;
    /** @default 4 */
    readonly maxReplicas?: number;
    /** Pending messages per replica. @default 1000 */
    readonly lagThreshold?: number;
  };
  /**
   * A fixed number of copies, for a service that is neither a singleton nor scaled by its durables'
   * lag: one whose work is spread over its replicas under leases (the machine bridge's endpoints),
   * where more replicas mean a faster takeover, not more throughput. Not with `singleton` or `scaling`.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * With `replicas`: one replica works, the one holding the service's lease (runService's
   * `activeStandby`); the others are hot standbys, not ready. So a rollout and a drain must not wait
   * for them to be ready: every pod may be replaced at once (the lease, released on SIGTERM, keeps
   * two from ever both being active). @default false
   */
  readonly activeStandby?: boolean;
  /** Settings that come from its Secret `<service>-secrets` (names only). */
  readonly secrets: readonly string[];
  /** Settings a cluster gives it (its ConfigMap), beside NATS's, HTTP's and the log level. */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * Where it writes: a directory on an emptyDir, or with `size` on a PersistentVolumeClaim that follows
   * the pod through a reschedule (the service then runs as a StatefulSet).
   */
  readonly volumes?: readonly { readonly name: string; readonly mountPath: string; readonly size?: string }[];
  /** What it connects to besides NATS and DNS: a service of the namespace by name, or any host on a port. */
  readonly egress?: readonly { readonly to: string; readonly port: number }[];
  /** Paths the ingress may route to it (a webhook); every other route is cluster-internal. */
  readonly ingressPaths?: readonly string[];
  /** CPU and memory it requests; the memory request is its limit too. */
  readonly resources: { readonly cpu: string; readonly memory: string };
}

/** What a service declares about itself. */
export interface ServiceManifest {
  /** The service name: NATS user, inbox prefix `_INBOX_<service>`, logs and metrics. */
  readonly service: string;
  readonly description: string;
  /**
   * The durables it owns, by name (each name starts with the service's). One with `partitions: P` is
   * P durables `<name>-p<i>` on the server, run by the SDK as one partitioned consumer.
   */
  readonly consumers?: Readonly<Record<string, ManifestConsumerDeclaration>>;
  /** The KV buckets it owns, by name; it may write them. */
  readonly kv?: Readonly<Record<string, OwnedKvDeclaration>>;
  /**
   * The streams it owns, by name: declared (and checked) with the shared ones. It publishes into them
   * through `publishes`, like into any stream; owning one grants nothing more.
   */
  readonly streams?: Readonly<Record<string, OwnedStreamDeclaration>>;
  /** The events it publishes. */
  readonly publishes?: readonly EventType[];
  /** Its HTTP routes beyond the health server's. */
  readonly http?: readonly HttpRouteDeclaration[];
  /** How it runs on Kubernetes. @default none: no workload is generated */
  readonly deployment?: DeploymentDeclaration;
  /** NATS access beyond what the above implies (shared buckets, streams it reads). */
  readonly access?: {
    readonly kvRead?: readonly string[];
    readonly kvWrite?: readonly string[];
    readonly readsLast?: readonly string[];
    readonly reads?: readonly StreamReadAccess[];
    /** Dead letters of what it refuses before publishing: `mfg.dlq.<stream>.<producer>` each. */
    readonly deadLetters?: readonly DeadLetterAccess[];
    readonly accountInfo?: boolean;
    /** Command subjects it may send to, e.g. `threadline.cmd.machine.>` (the production orchestrator). */
    readonly commands?: readonly string[];
    /** Command subjects it serves and answers (the machine bridge). */
    readonly servesCommands?: readonly string[];
    /** It acts for ops (the ops console): the ops user's grants besides its own. */
    readonly ops?: boolean;
  };
}

const SERVICE_RE = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const bytes = z.number().int().min(-1);

const ManifestSchema = z.object({
  service: z.string().regex(SERVICE_RE, "lower-case letters, digits and - (e.g. odoo-connector)"),
  description: z.string().min(1),
  consumers: z
    .record(
      z.string(),
      z
        .object({
          stream: z.string(),
          partitions: z
            .number()
            .int()
            .min(1)
            .max(64, "at most 64: each partition reads the whole stream")
            .optional(),
        })
        .loose(),
    )
    .optional(),
  kv: z.record(z.string(), z.object({}).loose()).optional(),
  streams: z
    .record(
      z.string(),
      z
        .object({
          maxBytes: z.union([bytes, z.strictObject({ production: bytes, local: bytes })], {
            error: "must be bytes (-1 unlimited) or { production, local } bytes",
          }),
          replicas: z.undefined("comes from the environment's profile: leave it out").optional(),
        })
        .loose(),
    )
    .optional(),
  publishes: z.array(z.enum(EVENT_TYPES as unknown as [EventType, ...EventType[]])).optional(),
  http: z
    .array(
      z
        .object({
          method: z.enum(["GET", "POST", "PUT", "DELETE"]),
          path: z.string().startsWith("/"),
          auth: z.enum(["bearer", "path-token", "session", "none"]),
          description: z.string().min(1),
        })
        .strict(),
    )
    .optional(),
  access: z.object({}).loose().optional(),
  deployment: z
    .strictObject({
      entry: z.string().regex(/^dist\/.+\.js$/, "is a built file, e.g. dist/services/<name>/src/main.js"),
      port: z.number().int().min(1024).max(65535),
      singleton: z.boolean(),
      scaling: z
        .strictObject({
          minReplicas: z.number().int().min(1).optional(),
          maxReplicas: z.number().int().min(1).max(100).optional(),
          lagThreshold: z.number().int().min(1).optional(),
        })
        .optional(),
      replicas: z.number().int().min(1).max(100).optional(),
      activeStandby: z.boolean().optional(),
      secrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, "is an environment variable name")),
      settings: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.string()).optional(),
      volumes: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[a-z][a-z0-9-]*$/),
            mountPath: z.string().startsWith("/"),
            size: z
              .string()
              .regex(/^\d+(Mi|Gi)$/, "is a quantity in Mi or Gi")
              .optional(),
          }),
        )
        .optional(),
      egress: z
        .array(z.strictObject({ to: z.string().min(1), port: z.number().int().min(1).max(65535) }))
        .optional(),
      ingressPaths: z.array(z.string().startsWith("/")).optional(),
      resources: z.strictObject({
        cpu: z.string().regex(/^\d+m?$/, "is a CPU quantity, e.g. 250m"),
        memory: z.string().regex(/^\d+(Mi|Gi)$/, "is a quantity in Mi or Gi"),
      }),
    })
    .optional(),
});

/**
 * Checks a manifest's shape and its names (durables start with `<service>-`, so the owner of a durable
 * is plain from its name and two services cannot claim one) and returns it as typed. The consumer,
 * bucket and stream settings themselves are checked with every other declaration by `declarations()`.
 *
 * @throws {DeclarationError} naming each problem under `manifests.<service>`.
 */
export function serviceManifest<const M extends ServiceManifest>(manifest: M): M {
  const parsed = ManifestSchema.safeParse(manifest);
  const key = `manifests.${manifest.service}`;
  const problems: DeclarationProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ key: [key, ...i.path].join("."), message: i.message }));
  for (const durable of Object.keys(manifest.consumers ?? {}))
    if (!durable.startsWith(`${manifest.service}-`))
      problems.push({
        key: `${key}.consumers.${durable}`,
        message: `a durable's name starts with its service's (${manifest.service}-…)`,
      });
  const scaling = manifest.deployment?.scaling;
  // More replicas than partitions would idle: a partition has one owner at a time.
  const partitions = Object.values(manifest.consumers ?? {}).flatMap((c) =>
    c.partitions ? [c.partitions] : [],
  );
  if (scaling && partitions.length > 0 && (scaling.maxReplicas ?? 4) > Math.min(...partitions))
    problems.push({
      key: `${key}.deployment.scaling.maxReplicas`,
      message: `is more than the partitions of a partitioned durable (${Math.min(...partitions)}): the extra replicas would own none`,
    });
  if (scaling && manifest.deployment?.singleton)
    problems.push({
      key: `${key}.deployment.scaling`,
      message: "a singleton runs one copy: it cannot scale",
    });
  const replicas = manifest.deployment?.replicas;
  if (replicas !== undefined && manifest.deployment?.singleton)
    problems.push({ key: `${key}.deployment.replicas`, message: "a singleton runs one copy" });
  if (replicas !== undefined && scaling)
    problems.push({
      key: `${key}.deployment.replicas`,
      message: "a service scaled by its durables' lag gets its replica count from KEDA (scaling)",
    });
  if (manifest.deployment?.activeStandby && replicas === undefined)
    problems.push({
      key: `${key}.deployment.activeStandby`,
      message: "needs a fixed replicas count: a hot standby adds no throughput to scale on",
    });
  if (scaling && (scaling.minReplicas ?? 1) > (scaling.maxReplicas ?? 4))
    problems.push({ key: `${key}.deployment.scaling`, message: "minReplicas is more than maxReplicas" });
  if (problems.length > 0) throw new DeclarationError(problems);
  return manifest;
}

/** The durable names a manifest owns, typed: `durables(manifest)["odoo-connector-quality"]`. */
export function durableNames<M extends ServiceManifest>(
  manifest: M,
): { readonly [K in keyof NonNullable<M["consumers"]>]: K } {
  return Object.fromEntries(Object.keys(manifest.consumers ?? {}).map((d) => [d, d])) as never;
}

/** The NATS access a manifest implies: its durables, events, owned buckets (written) and extras. */
export function manifestAccess(manifest: ServiceManifest): ServiceAccess {
  const a = manifest.access ?? {};
  const kvWrite = [...Object.keys(manifest.kv ?? {}), ...(a.kvWrite ?? [])];
  return {
    service: manifest.service,
    consumes: Object.entries(manifest.consumers ?? {}).map(([durable, c]) => ({ stream: c.stream, durable })),
    publishes: manifest.publishes ?? [],
    ...(kvWrite.length > 0 ? { kvWrite } : {}),
    ...(a.kvRead ? { kvRead: a.kvRead } : {}),
    ...(a.readsLast ? { readsLast: a.readsLast } : {}),
    ...(a.reads ? { reads: a.reads } : {}),
    ...(a.deadLetters ? { deadLetters: a.deadLetters } : {}),
    ...(a.accountInfo !== undefined ? { accountInfo: a.accountInfo } : {}),
    ...(a.commands ? { commands: a.commands } : {}),
    ...(a.servesCommands ? { servesCommands: a.servesCommands } : {}),
    ...(a.ops ? { ops: true } : {}),
  };
}
