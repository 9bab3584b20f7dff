/**
 * The quality service's settings: env variables (or the THREADLINE_CONFIG file, same keys),
 * zod-validated, each error naming its variable. What is charted and what places a hold is in the
 * QUALITY_CONFIG file (plan.ts); who may do what through the API is in QUALITY_USERS_FILE (users.ts).
 */
import { z } from "zod";
import { BaseServiceConfig } from "../../../streams/src/index.js";

export const QualityConfig = BaseServiceConfig.extend({
  /**
   * The characteristics to chart and the hold policy (plan.ts), a JSON or YAML file. @default unset: no
   * chart, and the default hold policy (every SPC violation and every MAJOR or CRITICAL nonconformance
   * holds its lot and what was made of it)
   */
  QUALITY_CONFIG: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  /** The API's users, their token digests and roles (users.ts): a JSON file. */
  QUALITY_USERS_FILE: z.string().min(1, "is required: the file naming the API's users and roles"),
  /** The genealogy builder's HTTP API, which the holds and the shipment gate follow the lot graph through. */
  GENEALOGY_URL: z
    .url({ error: "must be an http(s) URL, e.g. http://genealogy-builder:9470" })
    .default("http://127.0.0.1:9470"),
  /** The genealogy builder's bearer token (never logged). */
  GENEALOGY_API_TOKEN: z.string().min(16, "must be at least 16 characters"),
  /** How long one genealogy query may take before the gate fails closed. @default 5000 */
  GENEALOGY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /**
   * How often the gate checks again the deliveries it blocked because the genealogy could not be
   * asked (they clear themselves once the check succeeds). @default 5000
   */
  QUALITY_GATE_RECHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  /**
   * Of the replicas, the one holding the lease `lease.quality-service.<site>` (in THREADLINE_QUALITY)
   * is the active one; an active that stopped renewing keeps it this long, so a standby takes over
   * within it. @default 15000
   */
  LEASE_TTL_MS: z.coerce.number().int().min(300).max(600_000).default(15_000),
  /** The API's port (and /metrics, /healthz, /readyz): the CLI's default. @default 9480 */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9480),
});
export type QualityConfig = z.infer<typeof QualityConfig>;
