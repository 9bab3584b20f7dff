/**
 * What the declarations tests used to borrow from a planned quality service, now that it is built: its
 * real manifest, and the platform's declarations with every service.
 */
import { qualityServiceManifest } from "../../services/quality-service/src/manifest.js";
import type { DeclarationOptions, Declarations } from "../../streams/src/declarations.js";
import { platformDeclarations } from "../../tools/manifests.js";

export const qualityServiceExample = qualityServiceManifest;

/** Threadline's services' declarations. */
export function declarationsWithExamples(options: Omit<DeclarationOptions, "manifests"> = {}): Declarations {
  return platformDeclarations(options);
}
