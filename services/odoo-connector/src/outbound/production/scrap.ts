/**
 * Validating a scrap the way the connector needs it: Odoo's "insufficient quantity" wizard
 * (`stock.warn.insufficient.qty.scrap`, returned by `action_validate` when on-hand stock is short —
 * stock_scrap.py, 16–19) is never answered, because answering it drives stock below zero: it
 * dead-letters with a message a stock keeper can act on.
 */
import { PermanentError } from "../../../../../streams/src/index.js";
import { OutboundErrorCode } from "../errors.js";
import { type PostingContext, pressButton } from "../steps.js";

/** `action_validate`, refusing Odoo's "insufficient quantity" wizard with a clear dead letter. */
export async function validateScrap(ctx: PostingContext, id: number, what: string): Promise<void> {
  try {
    await pressButton(ctx, "stock.scrap", "action_validate", [id], {});
  } catch (err) {
    if (
      err instanceof PermanentError &&
      err.code === OutboundErrorCode.WizardUnanswered &&
      /insufficient/.test(err.message)
    )
      throw new PermanentError(
        OutboundErrorCode.ScrapShort,
        `Odoo has less on hand than the scrap of ${what}: count the stock in Odoo (or let someone validate the scrap), then replay the event`,
        { cause: err },
      );
    throw err;
  }
  const [after] = await ctx.odoo.read("stock.scrap", [id], ["state", "name"]);
  if (after?.["state"] !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `the scrap ${String(after?.["name"])} (${what}) is ${String(after?.["state"])} after action_validate, expected done`,
    );
}
