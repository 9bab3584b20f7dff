/** The quality service's errors: one class, the code (contracts' error catalogue) says which. */
import { type CatalogedErrorCode, ThreadlineError } from "../../../contracts/src/index.js";

/** The codes the quality service raises. Codes are stable: never reuse a retired one. */
export const QualityErrorCode = {
  SpcOptionsInvalid: "QUALITY_SPC_OPTIONS_INVALID",
  SpcPointInvalid: "QUALITY_SPC_POINT_INVALID",
  CsvInvalid: "QUALITY_CSV_INVALID",
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
