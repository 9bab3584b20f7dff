/** Every model of the simulated database for one Odoo version (generic methods come from the registry). */
import type { ModelSpec } from "../orm.js";
import type { Profile } from "../profiles.js";
import { accessModels } from "./access.js";
import { baseModels } from "./base.js";
import { irModelModels } from "./ir-model.js";
import { irModelDataModels } from "./ir-model-data.js";
import { mrpModels } from "./mrp.js";
import { qualityModels } from "./quality.js";
import { stockModels } from "./stock.js";

export interface ModelOptions {
  /** Enterprise `quality_control` installed: quality.* models and the picking checks. */
  quality: boolean;
}

export function allModels(p: Profile, opts: ModelOptions): ModelSpec[] {
  return [
    ...baseModels(p),
    ...accessModels(p),
    ...irModelModels(),
    ...irModelDataModels(),
    ...stockModels(p, opts),
    ...mrpModels(p),
    ...(opts.quality ? qualityModels() : []),
  ];
}
