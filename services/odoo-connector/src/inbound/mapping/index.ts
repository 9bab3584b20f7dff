/** The Odoo models the inbound sync reads, and what each becomes (see each module's table). */
import type { InboundSource } from "../source.js";
import { consumptionSource } from "./consumption.js";
import { lotSource } from "./lot.js";
import { movementSource } from "./movement.js";
import { productionSource } from "./production.js";
import { shipmentSource } from "./shipment.js";
import { unbuildSource } from "./unbuild.js";

/** In the order a first sync runs them: orders, then lots, consumption, movements, unbuilds, shipments. */
export const SOURCES: readonly InboundSource[] = [
  productionSource,
  lotSource,
  consumptionSource,
  movementSource,
  unbuildSource,
  shipmentSource,
];

export { consumptionSource, lotSource, movementSource, productionSource, shipmentSource, unbuildSource };
