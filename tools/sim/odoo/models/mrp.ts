/**
 * Manufacturing: every mrp model of the profile, from the modules that define them — work centres and
 * time logs (mrp-workcenter.ts), BoMs and operations (mrp-bom.ts), manufacturing orders
 * (mrp-production.ts) and how they close (mrp-mark-done.ts), work orders (mrp-workorder.ts), the
 * wizards (mrp-wizards.ts) and unbuild orders (mrp-unbuild.ts).
 */
import type { MethodSpec, ModelSpec } from "../orm.js";
import type { Profile } from "../profiles.js";
import { bomModels } from "./mrp-bom.js";
import { markDone } from "./mrp-mark-done.js";
import { productionModels } from "./mrp-production.js";
import { unbuildModels } from "./mrp-unbuild.js";
import { mrpWizardModels } from "./mrp-wizards.js";
import { workcenterModels } from "./mrp-workcenter.js";
import { workorderModels } from "./mrp-workorder.js";

export function mrpModels(p: Profile): ModelSpec[] {
  const productions = productionModels(p);
  const production = productions[0] as ModelSpec;
  const methods = production.methods as Record<string, MethodSpec>;
  methods["button_mark_done"] = { fn: ({ env, ids }) => markDone(env, ids) };
  return [
    ...workcenterModels(p),
    ...bomModels(p),
    ...productions,
    ...workorderModels(p),
    ...mrpWizardModels(p),
    ...unbuildModels(p),
  ];
}
