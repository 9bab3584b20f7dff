/**
 * The genealogy builder's settings: env variables (or the THREADLINE_CONFIG file, same keys),
 * zod-validated, each error naming its variable.
 */
import { z } from "zod";
import { BaseServiceConfig, checkDatabaseUrl } from "../../../streams/src/index.js";

export const GenealogyConfig = BaseServiceConfig.extend({
  /**
   * The PostgreSQL server (`postgres://user:password@host:5432/database`). @default unset: the embedded
   * database (PGlite) in GENEALOGY_DATA_DIR — the same SQL, for a demo or a single small plant
   */
  DATABASE_URL: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .superRefine((v, ctx) => {
      const problem = v === undefined ? undefined : checkDatabaseUrl(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  /** The embedded database's directory (when DATABASE_URL is not set). @default ".threadline/genealogy-db" */
  GENEALOGY_DATA_DIR: z.string().min(1).default(".threadline/genealogy-db"),
  /** The schema the graph lives in (a rebuild builds `<schema>_rebuild` beside it). @default "genealogy" */
  GENEALOGY_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,40}$/, "must be a lower-case SQL name (letters, digits, _)")
    .default("genealogy"),
  /** The bearer token the HTTP API requires (at least 16 characters; never logged). */
  GENEALOGY_API_TOKEN: z.string().min(16, "must be at least 16 characters"),
  /** Events written per transaction at most. @default 256 */
  GENEALOGY_BATCH: z.coerce.number().int().min(1).max(5000).default(256),
  /** The API's port (and /metrics, /healthz, /readyz): the CLI's default. @default 9470 */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9470),
  /**
   * How long the embedded graph's lease outlives a replica that stopped renewing it (embedded-owner.ts);
   * a second replica waits this long, and a bit, before it is refused. @default 15000
   */
  GENEALOGY_LEASE_TTL_MS: z.coerce.number().int().min(300).max(600_000).default(15_000),
  /** Connections to the PostgreSQL server at most (queries and writes). @default 8 */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(100).default(8),
});
export type GenealogyConfig = z.infer<typeof GenealogyConfig>;
