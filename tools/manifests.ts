/**
 * Threadline's own services, gathered: the one place that knows every manifest. `streams plan|apply`,
 * `streams k8s` and `streams permissions`, the demo, the fault run and the tests declare through it.
 * `threadline new service <name>` adds a new service's manifest here (tools/scaffold/register.ts).
 */

import { genealogyBuilderManifest } from "../services/genealogy-builder/src/manifest.js";
import { machineBridgeManifest } from "../services/machine-bridge/src/manifest.js";
import { odooConnectorManifest } from "../services/odoo-connector/src/manifest.js";
import { opsConsoleManifest } from "../services/ops-console/src/manifest.js";
import { productionOrchestratorManifest } from "../services/production-orchestrator/src/manifest.js";
import { qualityServiceManifest } from "../services/quality-service/src/manifest.js";
import {
  type DeclarationOptions,
  type Declarations,
  declarations,
  type ServiceManifest,
} from "../streams/src/index.js";

export const SERVICE_MANIFESTS: readonly ServiceManifest[] = [
  machineBridgeManifest,
  odooConnectorManifest,
  productionOrchestratorManifest,
  genealogyBuilderManifest,
  qualityServiceManifest,
  opsConsoleManifest,
];

/** The shared declarations and every service's durables and buckets, for an environment. */
export function platformDeclarations(options: Omit<DeclarationOptions, "manifests"> = {}): Declarations {
  return declarations({ ...options, manifests: SERVICE_MANIFESTS });
}

/** The manifest of a service by name, or undefined. */
export function manifestOf(service: string): ServiceManifest | undefined {
  return SERVICE_MANIFESTS.find((m) => m.service === service);
}
