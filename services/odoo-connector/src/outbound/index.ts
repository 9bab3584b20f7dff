/** Outbound postings: shop-floor events → Odoo, exactly once (see outbound.ts and steps.ts). */
export { type DowntimePostingOptions, postDowntimeEnded, postDowntimeStarted } from "./downtime.js";
export { isCircuitOpen, OutboundErrorCode, odooErrorCode, toConsumerError } from "./errors.js";
export {
  breakerPausePolicy,
  OUTBOUND_DEFAULTS,
  type Outbound,
  type OutboundDurable,
  type OutboundOptions,
  type OutboundParts,
  outboundParts,
  productionPostedId,
  startOutbound,
} from "./outbound.js";
export {
  CLOSE_DEFAULTS,
  type CloseOptions,
  type ClosePolicy,
  closesOn,
  type ProductionPosting,
  postProductionReported,
  postRunEnded,
} from "./production/index.js";
export {
  holdTitle,
  postQualityHoldPlaced,
  postQualityHoldReleased,
  QUALITY_DEFAULTS,
  type QualityPostingOptions,
} from "./quality.js";
export { postShipmentBlocked, postShipmentCleared } from "./shipping.js";
export {
  MARKER,
  type OdooRecord,
  OdooSetup,
  type PostingContext,
  type PostingEvent,
  type PostingOutcome,
  type PostingResult,
} from "./steps.js";
