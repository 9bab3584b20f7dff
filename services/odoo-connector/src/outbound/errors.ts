/**
 * What a failed posting means for the event: a failure retrying cannot fix goes to the dead-letter
 * stream (`PermanentError`, with a stable code and Odoo's own error name and message), anything else
 * is tried again later (`RetryableError`) — safe, because every posting checks Odoo for its event id
 * before applying anything.
 */
import type { CatalogedErrorCode } from "../../../../contracts/src/index.js";
import { PermanentError, RetryableError } from "../../../../streams/src/index.js";
import { CLOSED, OdooError } from "../odoo/errors.js";

export { isCircuitOpen, isTransientOdooError, odooErrorCode } from "../odoo/errors.js";

/**
 * Codes of the connector's own permanent failures, `CONNECTOR_<…>` (Odoo's own errors are `ODOO_<NAME>`,
 * see `odooErrorCode`). Each is explained in docs/errors.md.
 */
export const OutboundErrorCode = {
  /** No manufacturing order of that name (nor a backorder of it) exists in Odoo. */
  OrderNotFound: "CONNECTOR_ORDER_NOT_FOUND",
  /** The order and all its backorders are done or cancelled, or it is still a draft: nothing to post to. */
  OrderNotOpen: "CONNECTOR_ORDER_NOT_OPEN",
  /** The picking (delivery) of a shipment decision does not exist in Odoo. */
  PickingNotFound: "CONNECTOR_PICKING_NOT_FOUND",
  /** A lot or product the event names is unknown in Odoo. */
  LotNotFound: "CONNECTOR_LOT_NOT_FOUND",
  ProductNotFound: "CONNECTOR_PRODUCT_NOT_FOUND",
  /** The work center of a downtime's line is not configured or not found in Odoo. */
  WorkcenterNotFound: "CONNECTOR_WORKCENTER_NOT_FOUND",
  /** Odoo is missing a record the connector's configuration names (location, loss reason, stage, …). */
  SetupMissing: "CONNECTOR_SETUP_MISSING",
  /** A button answered with a wizard the connector does not know how to answer. */
  WizardUnanswered: "CONNECTOR_WIZARD_UNANSWERED",
  /** Odoo did not end in the state the posting expects after its buttons (e.g. the order not done). */
  UnexpectedState: "CONNECTOR_UNEXPECTED_STATE",
  /**
   * Closing the order opened Odoo's consumption warning (BoM consumption "warning" or "strict"): the
   * components recorded differ from the BoM. Never confirmed blindly: a planner corrects the
   * consumption (or the BoM) in Odoo, then replays the event.
   */
  ConsumptionWarning: "CONNECTOR_CONSUMPTION_WARNING",
  /** A report of another lot than the one the open order already produced (its run should have ended). */
  LotMismatch: "CONNECTOR_LOT_MISMATCH",
  /** A serial-tracked product reached a posting that takes lots only. */
  SerialTracked: "CONNECTOR_SERIAL_TRACKED",
  /** Odoo has less on hand than a scrap takes (its "insufficient quantity" wizard). */
  ScrapShort: "CONNECTOR_SCRAP_INSUFFICIENT_QUANTITY",
  /** Odoo is not set up for Threadline (threadline odoo setup). */
  SetupIncomplete: "CONNECTOR_SETUP_INCOMPLETE",
  /** An event's quantity is not a finite decimal. */
  QuantityInvalid: "CONNECTOR_QUANTITY_INVALID",
  /** Odoo's circuit breaker stayed open until the consumer stopped: the event is given back. */
  CircuitOpen: "CONNECTOR_CIRCUIT_OPEN",
} as const satisfies Record<string, CatalogedErrorCode>;

/**
 * The consumer-facing error for a failure of a posting: PermanentError (dead letter) for Odoo's
 * permanent errors — ValidationError, UserError, AccessError, MissingError, … — with the error's code
 * (`ODOO_<NAME>`; `CONNECTOR_CLIENT_ERROR` for the client's own) and `<python name>: <Odoo's message>`
 * as message; RetryableError for everything else
 * (an outage, a timeout, a serialization failure, refused credentials: the data is fine, someone has
 * to fix the API key), retried by the consumer with its jittered backoff. Errors that already are
 * one of the two pass through unchanged.
 */
export function toConsumerError(err: unknown): Error {
  if (err instanceof PermanentError || err instanceof RetryableError) return err;
  if (!(err instanceof OdooError)) {
    // A bug or an unexpected answer: retried (it may be a glitch); the durable's maxDeliver bounds it
    // and the last attempt dead-letters it with MAX_DELIVERIES.
    return err instanceof Error ? err : new Error(String(err));
  }
  const code = err.code;
  const message = `${err.odooName}: ${err.odooMessage}`;
  // A closed client (shutdown) says nothing about the event: it is given back, not dead-lettered.
  if (err.kind === "permanent" && err.odooName !== CLOSED)
    return new PermanentError(code, message, { cause: err });
  return new RetryableError(
    code,
    message,
    err.retryAfterMs !== undefined ? { cause: err, retryAfterMs: err.retryAfterMs } : { cause: err },
  );
}
