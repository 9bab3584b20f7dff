/**
 * Vendor profiles: how a device numbers its PackML states. The PackML state model is one standard,
 * but devices expose the current state as a number, and the numbering differs: PackTags v3
 * (`StateCurrent`, ISA-TR88.00.02) starts at UNDEFINED 0 / CLEARING 1, while OPC UA for
 * Machinery / TMC (OPC 30060 `StateEnumeration`) starts at STOPPED 0 / RESETTING 1. A bridge
 * config picks a built-in profile per endpoint or machine, or defines its own table.
 */
import { PACK_ML_STATE_SYMBOLS, type PackMlState } from "../../../contracts/src/index.js";

/** A state number → state table. Numbers not in the table read as UNDEFINED (and are counted). */
export type StateTable = ReadonlyMap<number, PackMlState>;

/** PackTags v3 `StateCurrent`: UNDEFINED 0, CLEARING 1 … COMPLETE 17 — the Avro enum's own order. */
export const PACKTAGS_STATE_NUMBERS: Readonly<Record<PackMlState, number>> = Object.fromEntries(
  PACK_ML_STATE_SYMBOLS.map((s, i) => [s, i]),
) as Record<PackMlState, number>;

/** OPC 30060 (TMC) StateEnumeration. UNDEFINED has no number there. */
export const TMC_STATE_NUMBERS: Readonly<Record<Exclude<PackMlState, "UNDEFINED">, number>> = {
  STOPPED: 0,
  RESETTING: 1,
  IDLE: 2,
  STARTING: 3,
  EXECUTE: 4,
  COMPLETING: 5,
  COMPLETE: 6,
  ABORTING: 7,
  ABORTED: 8,
  STOPPING: 9,
  CLEARING: 10,
  SUSPENDING: 11,
  SUSPENDED: 12,
  UNSUSPENDING: 13,
  HOLDING: 14,
  HELD: 15,
  UNHOLDING: 16,
};

/** The built-in profiles, by the name a config uses. */
export const BUILTIN_STATE_PROFILES: Readonly<
  Record<string, Readonly<Partial<Record<PackMlState, number>>>>
> = {
  tmc: TMC_STATE_NUMBERS,
  packtags: PACKTAGS_STATE_NUMBERS,
};

/** Inverts a state → number mapping into the lookup table the bridge uses. */
export function stateTable(numbers: Readonly<Partial<Record<PackMlState, number>>>): StateTable {
  const table = new Map<number, PackMlState>();
  for (const [state, n] of Object.entries(numbers)) if (n !== undefined) table.set(n, state as PackMlState);
  return table;
}
