/**
 * Runs a plant for a given stretch of virtual time, `speed` times faster than real time, then
 * stands still: what a demo or a test wants when it must compare the plant with what was
 * observed (the simulator's own driver, `autoRun`, never stops until the server does).
 */
import type { PlantModel } from "./model.js";

export interface RunForOptions {
  /** Virtual ms per step. @default 20 */
  stepMs?: number;
  /** Virtual ms per real ms. @default 2 */
  speed?: number;
}

export async function runFor(
  model: PlantModel,
  virtualMs: number,
  options: RunForOptions = {},
): Promise<void> {
  const stepMs = options.stepMs ?? 20;
  const speed = options.speed ?? 2;
  const end = model.now + virtualMs;
  while (model.now < end) {
    model.advance(Math.min(stepMs, end - model.now));
    await new Promise((r) => setTimeout(r, stepMs / speed));
  }
}
