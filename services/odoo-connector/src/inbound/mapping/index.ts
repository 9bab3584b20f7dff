/** The Odoo models the inbound sync reads, and what each becomes (see each module's table). */
import type { InboundSource } from "../source.js";
import { consumptionSource } from "./consumption.js";
import { lotSource } from "./lot.js";
import { bomLineSource, bomOperationSource, bomSource } from "./masterdata-bom.js";
import { locationSource } from "./masterdata-location.js";
import { partnerSource } from "./masterdata-partner.js";
import { productSource, productTemplateSource } from "./masterdata-product.js";
import { unitSource } from "./masterdata-unit.js";
import { workCenterSource } from "./masterdata-workcenter.js";
import { movementSource } from "./movement.js";
import { productionMovesSource, productionSource } from "./production.js";
import { shipmentSource } from "./shipment.js";
import { unbuildSource } from "./unbuild.js";

/** The master data (mfg.masterdata.*, stream MFG_MASTERDATA): units first, then what refers to them. */
export const MASTERDATA_SOURCES: readonly InboundSource[] = [
  unitSource,
  productSource,
  productTemplateSource,
  workCenterSource,
  bomSource,
  bomLineSource,
  bomOperationSource,
  locationSource,
  partnerSource,
].map((source) => ({ ...source, referenceData: true }));

/**
 * In the order a first sync runs them: master data (what the events below refer to), then orders,
 * lots, consumption, movements, unbuilds, shipments.
 */
export const SOURCES: readonly InboundSource[] = [
  ...MASTERDATA_SOURCES,
  productionSource,
  productionMovesSource,
  lotSource,
  consumptionSource,
  movementSource,
  unbuildSource,
  shipmentSource,
];

export {
  bomLineSource,
  bomOperationSource,
  bomSource,
  consumptionSource,
  locationSource,
  lotSource,
  movementSource,
  partnerSource,
  productionMovesSource,
  productionSource,
  productSource,
  productTemplateSource,
  shipmentSource,
  unbuildSource,
  unitSource,
  workCenterSource,
};
