/**
 * The manifest of a service that is planned but not built (the quality service), as it is expected to
 * declare itself: the declarations tests need durables on every stream, and this gives them without
 * shipping durables for a service that does not exist.
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

/** Threadline's services and the planned one. */
export function declarationsWithExamples(options: Omit<DeclarationOptions, "manifests"> = {}): Declarations {
  return declarations({
    ...options,
    manifests: [...SERVICE_MANIFESTS, qualityServiceExample],
  });
}
