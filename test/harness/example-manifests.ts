/**
 * Manifests of two services that are planned but not built (a quality service, a genealogy builder),
 * as they are expected to declare themselves: the declarations tests need durables on every stream,
 * and these give them without shipping durables for services that do not exist.
 */
import { type DeclarationOptions, type Declarations, declarations } from "../../streams/src/declarations.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import { SERVICE_MANIFESTS } from "../../tools/manifests.js";

export const qualityServiceExample = serviceManifest({
  service: "quality-service",
  description: "SPC, quality holds and the shipment gate",
  consumers: {
    // Evaluates inspections (SPC, holds). Local work: short waits, a few retries.
    "quality-service-inspections": {
      stream: "MFG_QUALITY",
      description: "quality-service: SPC and quality holds from recorded inspections",
      filterSubjects: ["mfg.quality.inspection_recorded.>"],
      ackWait: "30s",
      backoff: ["30s", "2m", "10m"],
      maxDeliver: 6,
      maxAckPending: 256,
    },
    // The shipment gate: answers shipment requests with blocked/cleared.
    "quality-service-shipment-gate": {
      stream: "MFG_SHIPPING",
      description: "quality-service: blocks or clears shipment requests against open quality holds",
      filterSubjects: ["mfg.shipping.shipment_requested.>"],
      ackWait: "30s",
      backoff: ["30s", "2m", "10m"],
      maxDeliver: 6,
      maxAckPending: 128,
    },
  },
  kv: {
    // Open quality holds by lot, read by the shipment gate; the audit trail is MFG_QUALITY.
    THREADLINE_QUALITY_HOLDS: {
      description: "Open quality holds by lot (projection of MFG_QUALITY; the gate reads it)",
      history: 10,
      storage: "file",
    },
  },
  publishes: ["mfg.quality.quality_hold_placed.v1", "mfg.quality.quality_hold_released.v1"],
});

export const genealogyBuilderExample = serviceManifest({
  service: "genealogy-builder",
  description: "the lot graph from every inventory event",
  consumers: {
    // Builds the lot graph from every inventory event: fast idempotent upserts, so a large window.
    "genealogy-builder-inventory": {
      stream: "MFG_INVENTORY",
      description: "genealogy-builder: lot graph from lots, consumption and goods movements",
      filterSubjects: ["mfg.inventory.>"],
      ackWait: "30s",
      backoff: ["30s", "2m", "10m", "30m"],
      maxDeliver: 8,
      maxAckPending: 1024,
    },
  },
});

/** Threadline's services and the two planned ones. */
export function declarationsWithExamples(options: Omit<DeclarationOptions, "manifests"> = {}): Declarations {
  return declarations({
    ...options,
    manifests: [...SERVICE_MANIFESTS, qualityServiceExample, genealogyBuilderExample],
  });
}
