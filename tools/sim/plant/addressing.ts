/**
 * The plant simulator's OPC UA address-space contract: the namespace, the string node ids of every
 * machine's variables and methods, and how the `State` variable numbers PackML states. The machine
 * bridge's tests import this to generate a bridge config that matches the simulator; nothing here
 * depends on node-opcua.
 *
 *   Objects/Plant                         ns=1;s=Plant
 *     VirtualTimeMs, GroundTruth          ns=1;s=Plant.VirtualTimeMs, ns=1;s=Plant.GroundTruth
 *     <site>/<line>/<machine>             ns=1;s=<site>, ns=1;s=<site>.<line>, ns=1;s=<site>.<line>.<machine>
 *       State, StateName, GoodCount, ...  ns=1;s=<site>.<line>.<machine>.State, ...
 *       Telemetry/<tag>                   ns=1;s=<site>.<line>.<machine>.Telemetry.<tag>
 *       Start(), ForceStop(code, ms), ... ns=1;s=<site>.<line>.<machine>.Start, ...
 */
import {
  PACKML_COMMAND_NAMES,
  type PackMlCommand,
  type PackMlState,
  stateNumber,
  TMC_STATE_NUMBERS,
} from "./packml.js";

/** The simulator's namespace; it is namespace index 1 (the first after ns=0). */
export const PLANT_NAMESPACE_URI = "urn:threadline:plant-simulator";
/** Index of {@link PLANT_NAMESPACE_URI} in the server's namespace array. */
export const PLANT_NAMESPACE_INDEX = 1;

const ns = (id: string) => `ns=${PLANT_NAMESPACE_INDEX};s=${id}`;

/** The `Objects/Plant` object. */
export const PLANT_NODE_ID = ns("Plant");
/** Double: the model's virtual time, ms since the start. */
export const VIRTUAL_TIME_NODE_ID = ns("Plant.VirtualTimeMs");
/** String: `JSON.stringify(model.groundTruth())`, computed when read. */
export const GROUND_TRUTH_NODE_ID = ns("Plant.GroundTruth");

/** Methods on every machine object besides the PackML commands. */
export const EXTRA_METHOD_NAMES = ["ForceStop", "ResetCounters", "SetOrder"] as const;
export type MachineMethodName = PackMlCommand | (typeof EXTRA_METHOD_NAMES)[number];
export const MACHINE_METHOD_NAMES: readonly MachineMethodName[] = [
  ...PACKML_COMMAND_NAMES,
  ...EXTRA_METHOD_NAMES,
];

/** Node ids (`ns=1;s=...`) of one machine's object, variables and methods. */
export interface MachineNodeIds {
  /** The machine object (the methods' `objectId`). */
  machine: string;
  /** Int32: the PackML state number in the machine's `stateNumbering` (see {@link stateValue}). */
  state: string;
  /** String: the PackML state name, e.g. "EXECUTE". */
  stateName: string;
  /** UInt32 (UInt64 when `counters.max` > 0xFFFFFFFF): the PLC counters; they wrap and reset. */
  goodCount: string;
  rejectCount: string;
  /** Double: the configured cycle time. */
  cycleTimeMs: string;
  /** String, "" when none. */
  order: string;
  lot: string;
  /** String: the stop reason code, "" when none. */
  stopReason: string;
  stopReasonText: string;
  /** Double AnalogItems, by tag name, with EngineeringUnits and EURange. */
  telemetry: Record<string, string>;
  /** By method name: one per PackML command, plus ForceStop, ResetCounters, SetOrder. */
  methods: Record<MachineMethodName, string>;
}

/** The node ids of machine `machine` on line `line` of site `site`, with telemetry tags `tags`. */
export function machineNodeIds(
  site: string,
  line: string,
  machine: string,
  tags: readonly string[],
): MachineNodeIds {
  const base = `${site}.${line}.${machine}`;
  const v = (name: string) => ns(`${base}.${name}`);
  return {
    machine: ns(base),
    state: v("State"),
    stateName: v("StateName"),
    goodCount: v("GoodCount"),
    rejectCount: v("RejectCount"),
    cycleTimeMs: v("CycleTimeMs"),
    order: v("Order"),
    lot: v("Lot"),
    stopReason: v("StopReason"),
    stopReasonText: v("StopReasonText"),
    telemetry: Object.fromEntries(tags.map((t) => [t, v(`Telemetry.${t}`)])),
    methods: Object.fromEntries(MACHINE_METHOD_NAMES.map((m) => [m, v(m)])) as Record<
      MachineMethodName,
      string
    >,
  };
}

/** How a machine numbers its `State` variable (machine config key `stateNumbering`). */
export type StateNumbering = "tmc" | "packtags";

/**
 * The value of the `State` variable: `tmc` is the OPC 30060 StateEnumeration (UNDEFINED, which it
 * lacks, is -1), `packtags` the PackTags `StateCurrent` number.
 */
export function stateValue(state: PackMlState, numbering: StateNumbering): number {
  if (numbering === "packtags") return stateNumber(state);
  return state === "UNDEFINED" ? -1 : TMC_STATE_NUMBERS[state];
}
