/** The Odoo client of the connector: JSON-2 (19+) and JSON-RPC (16–18), limits, retries, circuit breaker. */
export { type BreakerListener, type BreakerState, CircuitBreaker } from "./breaker.js";
export {
  type CallOptions,
  type CallParams,
  OdooClient,
  type SearchOptions,
  type SearchReadOptions,
  type WriteOptions,
} from "./client.js";
export {
  CIRCUIT_OPEN,
  CLOSED,
  OdooConnectError,
  OdooConnectErrorCode,
  OdooError,
  type OdooErrorKind,
  TIMEOUT,
} from "./errors.js";
export type { ServerVersion } from "./handshake.js";
export { DEFAULTS, type OdooClientOptions } from "./options.js";
export { READ_METHODS } from "./retry.js";
export type { Protocol } from "./transport.js";
