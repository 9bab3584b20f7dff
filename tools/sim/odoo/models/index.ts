/** Every model of the simulated database for one Odoo version, each with the generic ORM methods. */
import { baseMethods } from "../methods.js";
import type { ModelSpec } from "../orm.js";
import type { Profile } from "../profiles.js";
import { baseModels } from "./base.js";
import { mrpModels } from "./mrp.js";
import { qualityModels } from "./quality.js";
import { stockModels } from "./stock.js";

export function allModels(p: Profile): ModelSpec[] {
  const generic = baseMethods(p);
  return [...baseModels(p), ...stockModels(p), ...mrpModels(p), ...qualityModels()].map((spec) => ({
    ...spec,
    methods: { ...generic, ...(spec.methods ?? {}) },
  }));
}
