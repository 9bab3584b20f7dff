/**
 * The PackML state model (ISA-TR88.00.02-2015, as exposed by the OPC UA PackML companion spec
 * OPC 30050): states, commands, the legal transitions and the "state complete" edges of the acting
 * states. Pure functions; the plant model drives them with a virtual clock.
 *
 * State names are the symbols of the `mfg.machine.PackMlState` Avro enum, and the primary numbering
 * is PackTags `StateCurrent` (UNDEFINED 0, CLEARING 1 ... COMPLETE 17), which is also the enum's
 * symbol order. OPC UA for Machine Tools / TMC (OPC 30060) numbers the same states differently
 * (STOPPED 0, RESETTING 1 ... UNHOLDING 16): {@link TMC_STATE_NUMBERS} has that table, so the
 * simulator can expose either profile and the bridge's per-vendor mapping can be tested.
 */
import {
  type CatalogedErrorCode,
  PACK_ML_STATE_SYMBOLS,
  type PackMlState,
  ThreadlineError,
} from "../../../contracts/src/index.js";

export type { PackMlState };

/** All states, indexed by their PackTags state number. */
export const PACKML_STATES: readonly PackMlState[] = PACK_ML_STATE_SYMBOLS;

/** PackTags / TR88.00.02 state number (`StateCurrent`): UNDEFINED 0, CLEARING 1 ... COMPLETE 17. */
export function stateNumber(state: PackMlState): number {
  return PACK_ML_STATE_SYMBOLS.indexOf(state);
}

/** The state for a PackTags state number; UNDEFINED for a number outside 0..17. */
export function stateFromNumber(n: number): PackMlState {
  return PACK_ML_STATE_SYMBOLS[n] ?? "UNDEFINED";
}

/**
 * OPC 30060 (TMC) StateEnumeration values — a second vendor profile. UNDEFINED has no number there.
 * Written out here independently of the bridge's copy (services/machine-bridge/src/profiles.ts) on
 * purpose: the simulator plays the device, so a wrong table on the bridge's side fails the tests
 * instead of agreeing with itself.
 */
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

/** PackML commands, valued by their PackTags `CntrlCmd` number (0 is "undefined"). */
export const PACKML_COMMANDS = {
  Reset: 1,
  Start: 2,
  Stop: 3,
  Hold: 4,
  Unhold: 5,
  Suspend: 6,
  Unsuspend: 7,
  Abort: 8,
  Clear: 9,
  Complete: 10,
} as const;
export type PackMlCommand = keyof typeof PACKML_COMMANDS;
export const PACKML_COMMAND_NAMES = Object.keys(PACKML_COMMANDS) as PackMlCommand[];

/**
 * Acting states and the wait state each one reaches on "state complete" (SC). EXECUTE is acting in
 * PackML too, but here it only completes on the Complete command (a production run never ends by itself).
 */
export const ACTING_STATES: Readonly<Partial<Record<PackMlState, PackMlState>>> = {
  CLEARING: "STOPPED",
  STARTING: "EXECUTE",
  STOPPING: "STOPPED",
  ABORTING: "ABORTED",
  HOLDING: "HELD",
  UNHOLDING: "EXECUTE",
  SUSPENDING: "SUSPENDED",
  UNSUSPENDING: "EXECUTE",
  RESETTING: "IDLE",
  COMPLETING: "COMPLETE",
};

export function isActingState(state: PackMlState): boolean {
  return ACTING_STATES[state] !== undefined;
}

/** The wait state an acting state reaches on "state complete"; undefined for a wait state. */
export function completedState(state: PackMlState): PackMlState | undefined {
  return ACTING_STATES[state];
}

/** States from which Stop is not accepted (already stopping/stopped, or in the abort branch). */
const NO_STOP: ReadonlySet<PackMlState> = new Set<PackMlState>([
  "UNDEFINED",
  "STOPPED",
  "STOPPING",
  "CLEARING",
  "ABORTING",
  "ABORTED",
]);
const NO_ABORT: ReadonlySet<PackMlState> = new Set<PackMlState>(["UNDEFINED", "ABORTING", "ABORTED"]);

/** Command edges from one specific state (Stop and Abort are handled as "from almost anywhere"). */
const EDGES: Readonly<Partial<Record<PackMlCommand, Partial<Record<PackMlState, PackMlState>>>>> = {
  Reset: { STOPPED: "RESETTING", COMPLETE: "RESETTING" },
  Start: { IDLE: "STARTING" },
  Hold: { EXECUTE: "HOLDING" },
  Unhold: { HELD: "UNHOLDING" },
  Suspend: { EXECUTE: "SUSPENDING" },
  Unsuspend: { SUSPENDED: "UNSUSPENDING" },
  Clear: { ABORTED: "CLEARING" },
  Complete: { EXECUTE: "COMPLETING" },
};

/** Stable error codes of the PackML model. */
export const PackMlErrorCode = {
  IllegalTransition: "PACKML_ILLEGAL_TRANSITION",
} as const satisfies Record<string, CatalogedErrorCode>;

/** A command that the current state does not accept (an OPC UA server answers BadInvalidState). */
export class IllegalTransitionError extends ThreadlineError {
  constructor(
    readonly state: PackMlState,
    readonly command: string,
    readonly machine?: string,
  ) {
    const where = machine ? `machine ${machine}: ` : "";
    const allowed = availableCommands(state);
    super(
      PackMlErrorCode.IllegalTransition,
      `${where}command ${command} is not allowed in state ${state}` +
        ` (allowed: ${allowed.length > 0 ? allowed.join(", ") : "none"})`,
    );
  }
}

/** The state a command leads to, or undefined when the command is illegal in that state. */
export function tryTransition(state: PackMlState, command: PackMlCommand): PackMlState | undefined {
  if (command === "Stop") return NO_STOP.has(state) ? undefined : "STOPPING";
  if (command === "Abort") return NO_ABORT.has(state) ? undefined : "ABORTING";
  return EDGES[command]?.[state];
}

/** The state a command leads to; throws {@link IllegalTransitionError} when it is illegal. */
export function transition(state: PackMlState, command: PackMlCommand, machine?: string): PackMlState {
  const next = tryTransition(state, command);
  if (next === undefined) throw new IllegalTransitionError(state, command, machine);
  return next;
}

/** Commands accepted in a state, in `CntrlCmd` order. */
export function availableCommands(state: PackMlState): PackMlCommand[] {
  return PACKML_COMMAND_NAMES.filter((c) => tryTransition(state, c) !== undefined);
}

export function isPackMlCommand(value: string): value is PackMlCommand {
  return Object.hasOwn(PACKML_COMMANDS, value);
}
