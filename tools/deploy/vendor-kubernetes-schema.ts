/**
 * Cuts the Kubernetes OpenAPI (v2) document down to the kinds Threadline's manifests use and the
 * definitions they reach, without descriptions, so deploy/schemas/kubernetes.json stays small enough to
 * commit and review. Run it when moving to another Kubernetes release (deploy/schemas/README.md says
 * where the document comes from):
 *
 *     node dist/tools/deploy/vendor-kubernetes-schema.js swagger.json > deploy/schemas/kubernetes.json
 */
import { readFileSync } from "node:fs";

/** The kinds the manifests (or a platform team's overlay) may hold; the check refuses any other. */
export const VENDORED_KINDS: readonly string[] = [
  "v1/ConfigMap",
  "v1/Namespace",
  "v1/PersistentVolumeClaim",
  "v1/Secret",
  "v1/Service",
  "v1/ServiceAccount",
  "apps/v1/Deployment",
  "apps/v1/StatefulSet",
  "networking.k8s.io/v1/Ingress",
  "networking.k8s.io/v1/NetworkPolicy",
  "policy/v1/PodDisruptionBudget",
];

type Json = Record<string, unknown>;
type Gvk = { group: string; version: string; kind: string };

function apiVersionKind(gvk: Gvk): string {
  return `${gvk.group ? `${gvk.group}/` : ""}${gvk.version}/${gvk.kind}`;
}

/** The same value without `description` keys (they are most of the document's size). */
function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Json)
      .filter(([key]) => key !== "description")
      .map(([key, inner]) => [key, withoutDescriptions(inner)]),
  );
}

function referencedDefinitions(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) referencedDefinitions(v, into);
  else if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value as Json)) {
      if (key === "$ref" && typeof inner === "string") into.add(inner.replace("#/definitions/", ""));
      else referencedDefinitions(inner, into);
    }
  }
}

/** `{ kinds: { "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment", … }, definitions: { … } }`. */
export function vendorKubernetesSchema(openapi: { definitions: Record<string, Json> }): Json {
  const kinds: Record<string, string> = {};
  for (const [name, definition] of Object.entries(openapi.definitions)) {
    for (const gvk of (definition["x-kubernetes-group-version-kind"] as Gvk[] | undefined) ?? []) {
      const key = apiVersionKind(gvk);
      if (VENDORED_KINDS.includes(key) && !name.includes("DeleteOptions")) kinds[key] = name;
    }
  }
  const missing = VENDORED_KINDS.filter((k) => !kinds[k]);
  if (missing.length) throw new Error(`the OpenAPI document has no definition of ${missing.join(", ")}`);
  const keep = new Set<string>();
  const pending = Object.values(kinds);
  while (pending.length) {
    const name = pending.pop() as string;
    if (keep.has(name)) continue;
    const definition = openapi.definitions[name];
    if (!definition) throw new Error(`the OpenAPI document refers to ${name}, which it does not define`);
    keep.add(name);
    const refs = new Set<string>();
    referencedDefinitions(definition, refs);
    pending.push(...refs);
  }
  const definitions = Object.fromEntries(
    [...keep].sort().map((n) => [n, withoutDescriptions(openapi.definitions[n])]),
  );
  return { kinds, definitions };
}

if (process.argv[1]?.endsWith("vendor-kubernetes-schema.js")) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: vendor-kubernetes-schema <kubernetes OpenAPI v2 swagger.json>\n");
    process.exit(2);
  }
  const vendored = vendorKubernetesSchema(JSON.parse(readFileSync(file, "utf8")));
  process.stdout.write(`${JSON.stringify(vendored, null, 1)}\n`);
}
