/**
 * The declarations (streams/src/declarations.ts and the services' manifests, gathered by
 * tools/manifests.ts) as Kubernetes resources for the NACK JetStream controller:
 * `jetstream.nats.io/v1beta2` Stream, Consumer and KeyValue. The committed file
 * `deploy/k8s/streams/streams.yaml` is this output for the production profile:
 *
 *     threadline streams k8s > deploy/k8s/streams/streams.yaml
 *
 * and test/streams/k8s.test.ts fails when the two drift apart.
 *
 * NACK notes: durations are Go durations (`720h`, Go has no `d` unit); streams, buckets and
 * consumers carry `preventDelete: true` (`spec.preventDelete` of each v1beta2 CRD) so deleting the
 * Kubernetes object (or uninstalling a chart) never deletes the data nor a durable's position (its
 * ack floor: recreated, it would start over and post everything again); KeyValue resources are
 * reconciled only by a controller running with `--control-loop`.
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import {
  type Declarations,
  forServer,
  PRODUCTION_SERVER_VERSION,
  parseDuration,
} from "../../streams/src/index.js";

/** The committed manifest. */
export const K8S_FILE = join(PACKAGE_ROOT, "deploy", "k8s", "streams", "streams.yaml");

const API_VERSION = "jetstream.nats.io/v1beta2";
const LABELS = {
  "app.kubernetes.io/part-of": "threadline",
  "app.kubernetes.io/managed-by": "threadline-streams",
};

/** `"30d"` -> `"720h"`: a duration Go's time.ParseDuration reads. */
export function goDuration(duration: string): string {
  const ms = parseDuration(duration);
  if (ms === 0) return "0s";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `MFG_MACHINE` -> `mfg-machine`: a Kubernetes object name. */
function objectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
}

function resource(kind: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind, metadata: { name: objectName(name), labels: { ...LABELS } }, spec };
}

/**
 * The NACK resources for `declared`, as one multi-document YAML text (streams, then buckets, then
 * consumers), for a server of `serverVersion` (partition durables are pinned to their owner where the
 * server has priority groups, as `streams plan` does). @default serverVersion PRODUCTION_SERVER_VERSION
 */
export function generateK8s(
  declared: Declarations,
  serverVersion: string = PRODUCTION_SERVER_VERSION,
): string {
  const d = forServer(declared, serverVersion);
  const docs: Record<string, unknown>[] = [];
  for (const [name, s] of Object.entries(d.streams)) {
    const spec: Record<string, unknown> = {
      name,
      description: s.description,
      subjects: [...s.subjects],
      retention: s.retention,
      storage: s.storage,
      replicas: s.replicas,
      maxAge: goDuration(s.maxAge),
      maxBytes: s.maxBytes,
      maxMsgSize: s.maxMsgSize,
      discard: s.discard,
      duplicateWindow: goDuration(s.duplicateWindow),
    };
    if (s.maxMsgsPerSubject !== undefined) spec["maxMsgsPerSubject"] = s.maxMsgsPerSubject;
    if (s.metadata) spec["metadata"] = { ...s.metadata };
    if (s.compression) spec["compression"] = s.compression;
    if (s.subjectTransform)
      spec["subjectTransform"] = { source: s.subjectTransform.src, dest: s.subjectTransform.dest };
    if (s.allowMsgTtl !== undefined) spec["allowMsgTtl"] = s.allowMsgTtl;
    spec["preventDelete"] = true;
    docs.push(resource("Stream", name, spec));
  }
  for (const [bucket, k] of Object.entries(d.kv)) {
    const spec: Record<string, unknown> = {
      bucket,
      description: k.description,
      history: k.history,
      maxBytes: k.maxBytes ?? -1,
      maxValueSize: k.maxValueSize ?? -1,
      storage: k.storage,
      replicas: k.replicas,
    };
    if (k.ttl) spec["ttl"] = goDuration(k.ttl);
    spec["preventDelete"] = true;
    docs.push(resource("KeyValue", bucket, spec));
  }
  for (const [durable, c] of Object.entries(d.consumers)) {
    const spec: Record<string, unknown> = {
      streamName: c.stream,
      durableName: durable,
      description: c.description,
      deliverPolicy: c.deliverPolicy ?? "all",
      ackPolicy: "explicit",
      replayPolicy: "instant",
      ackWait: goDuration(c.ackWait),
      backoff: c.backoff.map(goDuration),
      maxDeliver: c.maxDeliver,
      maxAckPending: c.maxAckPending,
    };
    if (c.filterSubjects.length === 1) spec["filterSubject"] = c.filterSubjects[0];
    else spec["filterSubjects"] = [...c.filterSubjects];
    if (c.metadata) spec["metadata"] = { ...c.metadata };
    if (c.pauseUntil) spec["pauseUntil"] = c.pauseUntil;
    if (c.priorityGroups) {
      spec["priorityGroups"] = [...c.priorityGroups.groups];
      spec["priorityPolicy"] = c.priorityGroups.policy;
    }
    spec["preventDelete"] = true;
    docs.push(resource("Consumer", durable, spec));
  }
  const header = [
    "# Generated by `threadline streams k8s` from streams/src/declarations.ts and the services' manifests — do not edit.",
    "# NACK (JetStream controller) resources; KeyValue needs the controller's --control-loop mode.",
  ].join("\n");
  return `${header}\n${docs.map((doc) => `---\n${stringify(doc, { lineWidth: 0 })}`).join("")}`;
}
