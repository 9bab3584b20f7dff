/**
 * Inbound: Odoo → events. `InboundSync` polls the manufacturing orders, lots, component moves, move
 * lines and deliveries with compound cursors kept in KV; `registerOdooWebhook` makes Odoo's webhooks
 * trigger it. What each record becomes: mapping/*.ts.
 */
export { CursorConflictError } from "./cursor.js";
export { SOURCES } from "./mapping/index.js";
export { movementTypeOf } from "./mapping/movement.js";
export { type OrderSnapshot, orderState } from "./mapping/production.js";
export { INBOUND_DEFAULTS, type InboundSyncOptions } from "./options.js";
export type { InboundSource } from "./source.js";
export { InboundSync, type PassReport, type SourceStatus } from "./sync.js";
export {
  MIN_WEBHOOK_TOKEN_LENGTH,
  OdooWebhookBody,
  type OdooWebhookOptions,
  registerOdooWebhook,
  type WebhookTarget,
} from "./webhook.js";
