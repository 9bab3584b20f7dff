/** The genealogy builder's errors: one class, the code (contracts' error catalogue) says which. */
import { ThreadlineError } from "../../../contracts/src/index.js";

export type GenealogyErrorCode =
  | "GENEALOGY_EVENT_UNUSABLE"
  | "GENEALOGY_DATABASE_UNAVAILABLE"
  | "GENEALOGY_SCHEMA_AHEAD"
  | "GENEALOGY_LOT_UNKNOWN"
  | "GENEALOGY_LOT_AMBIGUOUS"
  | "GENEALOGY_QUERY_INVALID"
  | "GENEALOGY_REBUILD_FAILED"
  | "GENEALOGY_REBUILD_RUNNING"
  | "GENEALOGY_EMBEDDED_TAKEN";

/** HTTP status of each code the API answers with. */
export const HTTP_STATUS: Readonly<Record<GenealogyErrorCode, number>> = {
  GENEALOGY_EVENT_UNUSABLE: 422,
  GENEALOGY_DATABASE_UNAVAILABLE: 503,
  GENEALOGY_SCHEMA_AHEAD: 500,
  GENEALOGY_LOT_UNKNOWN: 404,
  GENEALOGY_LOT_AMBIGUOUS: 409,
  GENEALOGY_QUERY_INVALID: 400,
  GENEALOGY_REBUILD_FAILED: 500,
  GENEALOGY_REBUILD_RUNNING: 409,
  GENEALOGY_EMBEDDED_TAKEN: 503,
};

export class GenealogyError extends ThreadlineError {
  constructor(
    override readonly code: GenealogyErrorCode,
    message: string,
    options?: { cause?: unknown; details?: unknown },
  ) {
    super(code, message, options);
    this.details = options?.details;
  }
  /** What the answer carries beside the message (the candidates of an ambiguous lot, …). */
  readonly details: unknown;
}
