/**
 * Why a quantity cannot be converted, or a unit table cannot be built. Each is a PermanentError: a
 * handler that lets one through dead-letters the event with the code (retrying cannot make kg into
 * Units), and the message names both units so the dead letter says what to fix.
 */
import type { CatalogedErrorCode } from "../../../contracts/src/index.js";
import { PermanentError } from "../consumer/errors.js";

/** Codes of the units module; each is explained in docs/errors.md. */
export const UnitErrorCode = {
  Unknown: "UOM_UNKNOWN",
  CategoryMismatch: "UOM_CATEGORY_MISMATCH",
  QuantityInvalid: "UOM_QUANTITY_INVALID",
  FactorInvalid: "UOM_FACTOR_INVALID",
  TableInvalid: "UOM_TABLE_INVALID",
} as const satisfies Record<string, CatalogedErrorCode>;

/** A conversion naming a unit the table does not hold. */
export class UnitUnknownError extends PermanentError {
  constructor(
    readonly from: string,
    readonly to: string,
    /** The unit(s) of the two the table lacks. */
    readonly unknown: readonly string[],
  ) {
    super(
      UnitErrorCode.Unknown,
      `cannot convert ${from} to ${to}: ${unknown.map((u) => `"${u}"`).join(" and ")} ${unknown.length > 1 ? "are" : "is"} not a known unit of measure (add it in Odoo, or fix the unit the producer sends)`,
    );
  }
}

/** A conversion between units of two categories (16–18) or two reference trees (19): kg is not Units. */
export class UnitCategoryMismatchError extends PermanentError {
  constructor(
    readonly from: string,
    readonly to: string,
    readonly fromCategory: string,
    readonly toCategory: string,
  ) {
    super(
      UnitErrorCode.CategoryMismatch,
      `cannot convert ${from} (${fromCategory}) to ${to} (${toCategory}): units of different categories do not convert (count the machine in a unit of ${toCategory}, or fix the order's unit)`,
    );
  }
}

/** A quantity that is not a decimal number. */
export class UnitQuantityInvalidError extends PermanentError {
  constructor(
    readonly value: string,
    readonly unit: string,
  ) {
    super(UnitErrorCode.QuantityInvalid, `"${value}" ${unit} is not a decimal quantity`);
  }
}

/** A unit record whose factor or rounding is zero, negative or not a number. */
export class UnitFactorInvalidError extends PermanentError {
  constructor(
    readonly unit: string,
    readonly field: string,
    readonly value: unknown,
  ) {
    super(
      UnitErrorCode.FactorInvalid,
      `unit of measure "${unit}": ${field} ${JSON.stringify(value)} is not a positive number (Odoo refuses a conversion ratio of 0 too); fix the unit in Odoo`,
    );
  }
}

/** Unit records that do not make a table: a duplicate name, a missing or circular reference unit. */
export class UnitTableInvalidError extends PermanentError {
  constructor(
    readonly unit: string,
    detail: string,
  ) {
    super(UnitErrorCode.TableInvalid, `unit of measure "${unit}": ${detail}`);
  }
}
