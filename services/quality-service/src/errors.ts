/** The quality service's errors: one class, the code (contracts' error catalogue) says which. */
import { type CatalogedErrorCode, ThreadlineError } from "../../../contracts/src/index.js";

/** The codes the quality service raises. Codes are stable: never reuse a retired one. */
export const QualityErrorCode = {
  SpcOptionsInvalid: "QUALITY_SPC_OPTIONS_INVALID",
  SpcPointInvalid: "QUALITY_SPC_POINT_INVALID",
  CsvInvalid: "QUALITY_CSV_INVALID",
  ConfigInvalid: "QUALITY_CONFIG_INVALID",
  UsersInvalid: "QUALITY_USERS_INVALID",
  Unauthorized: "QUALITY_UNAUTHORIZED",
  Forbidden: "QUALITY_FORBIDDEN",
  RequestInvalid: "QUALITY_REQUEST_INVALID",
  UnknownCharacteristic: "QUALITY_UNKNOWN_CHARACTERISTIC",
  HoldNotFound: "QUALITY_HOLD_NOT_FOUND",
  HoldAlreadyDecided: "QUALITY_HOLD_ALREADY_DECIDED",
  GenealogyUnavailable: "QUALITY_GENEALOGY_UNAVAILABLE",
  NotReady: "QUALITY_NOT_READY",
  RequestFailed: "QUALITY_REQUEST_FAILED",
} as const satisfies Record<string, CatalogedErrorCode>;
export type QualityErrorCode = (typeof QualityErrorCode)[keyof typeof QualityErrorCode];

export class QualityError extends ThreadlineError {
  constructor(
    override readonly code: QualityErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The HTTP status each code answers with in the API (http.ts). */
export const HTTP_STATUS: Readonly<Record<QualityErrorCode, number>> = {
  QUALITY_SPC_OPTIONS_INVALID: 400,
  QUALITY_SPC_POINT_INVALID: 400,
  QUALITY_CSV_INVALID: 400,
  QUALITY_CONFIG_INVALID: 500,
  QUALITY_USERS_INVALID: 500,
  QUALITY_UNAUTHORIZED: 401,
  QUALITY_FORBIDDEN: 403,
  QUALITY_REQUEST_INVALID: 400,
  QUALITY_UNKNOWN_CHARACTERISTIC: 422,
  QUALITY_HOLD_NOT_FOUND: 404,
  QUALITY_HOLD_ALREADY_DECIDED: 409,
  QUALITY_GENEALOGY_UNAVAILABLE: 503,
  QUALITY_NOT_READY: 503,
  QUALITY_REQUEST_FAILED: 500,
};
