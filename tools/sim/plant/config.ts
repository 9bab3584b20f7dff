/**
 * Plant simulator configuration: sites → lines → machines, each machine with its production,
 * stop and telemetry behaviour, plus a scripted scenario of timed actions. Validated by zod; an
 * error is a {@link ConfigError} whose `key` is the offending path, e.g. `sites.0.lines.1.machines.0.cycleTimeMs`.
 */
import { z } from "zod";
import { loadStructured, parseStructured } from "../../../streams/src/index.js";
import { PACKML_COMMAND_NAMES, type PackMlCommand } from "./packml.js";

/** Identifier usable as a NATS subject token. */
const token = z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' and '_' only (a subject token)");
const probability = z.number().min(0).max(1);
const nonNegInt = z.number().int().nonnegative();

/** A range [min, max] in milliseconds, min ≤ max. */
const msRange = z
  .tuple([nonNegInt, nonNegInt])
  .refine(([min, max]) => min <= max, "min must not exceed max ([min, max] in ms)");

export const TelemetryTagConfig = z
  .object({
    name: token,
    unit: z.string().min(1),
    mean: z.number(),
    /** Standard deviation of the gaussian noise (≥ 0). */
    sd: z.number().nonnegative(),
    /** Linear drift of the mean, in units per hour of virtual time. @default 0 */
    driftPerHour: z.number().default(0),
  })
  .strict();

export const OutOfControlConfig = z
  .object({
    /** Chance, per sample and tag, that an out-of-control run starts. @default 0 */
    probability: probability.default(0),
    /** Samples in a run, all on one side of the centre line. @default 8 (Western Electric rule 4) */
    length: z.number().int().min(1).default(8),
    /** Minimum shift from the centre line during a run, in standard deviations. @default 1 */
    shiftSd: z.number().nonnegative().default(1),
  })
  .strict();

export const StopReasonConfig = z
  .object({
    code: z.string().min(1),
    text: z.string().min(1).optional(),
    /** Chance, per completed cycle, that this stop happens. */
    probability,
    /** How long the machine stays HELD/STOPPED before it recovers by itself, [min, max] ms. */
    durationMs: msRange,
    /** hold: EXECUTE → HOLDING → HELD → (Unhold); stop: → STOPPING → STOPPED → (Reset, Start). @default hold */
    kind: z.enum(["hold", "stop"]).default("hold"),
  })
  .strict();

export const MachineConfig = z
  .object({
    /** Machine token; unique in the plant (scenario steps and `command()` use it). */
    id: token,
    /** Duration of one production cycle (one unit, good or reject), ms. */
    cycleTimeMs: z.number().int().positive(),
    /** Chance that a completed unit is a reject. @default 0 */
    rejectRate: probability.default(0),
    /** Time an acting state (STARTING, HOLDING, ...) takes before it completes, ms. @default 500 */
    actingStateMs: nonNegInt.default(500),
    /** State at t=0: STOPPED, IDLE or EXECUTE (reached without transitions). @default EXECUTE */
    initialState: z.enum(["STOPPED", "IDLE", "EXECUTE"]).default("EXECUTE"),
    /** Telemetry sampling period (virtual ms). @default 1000 */
    sampleIntervalMs: z.number().int().positive().default(1000),
    telemetry: z.array(TelemetryTagConfig).default([]),
    outOfControl: OutOfControlConfig.default({ probability: 0, length: 8, shiftSd: 1 }),
    stopReasons: z.array(StopReasonConfig).default([]),
    counters: z
      .object({
        /** Largest counter value; the next count wraps to 0. @default 4294967295 (UInt32) */
        max: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(0xffff_ffff),
        /** PLC counter values at t=0 (e.g. close to `max` to test rollover). @default 0 */
        initialGood: nonNegInt.default(0),
        initialReject: nonNegInt.default(0),
      })
      .strict()
      .default({ max: 0xffff_ffff, initialGood: 0, initialReject: 0 }),
    order: z.string().min(1).nullable().default(null),
    lot: z.string().min(1).nullable().default(null),
    /**
     * How the OPC UA simulator numbers this machine's `State` variable. `tmc`: the OPC UA PackML /
     * TMC StateEnumeration of OPC 30060 (STOPPED 0 ... UNHOLDING 16; UNDEFINED, which has no number
     * there, is -1); `packtags`: PackTags `StateCurrent` (UNDEFINED 0, CLEARING 1 ... COMPLETE 17).
     * Mixing both in one plant exercises the bridge's per-vendor mapping. @default tmc
     */
    stateNumbering: z.enum(["tmc", "packtags"]).default("tmc"),
  })
  .strict()
  .superRefine((m, ctx) => {
    const total = m.stopReasons.reduce((s, r) => s + r.probability, 0);
    if (total > 1)
      ctx.addIssue({ code: "custom", path: ["stopReasons"], message: `probabilities sum to ${total} (> 1)` });
    dupes(
      m.stopReasons.map((r) => r.code),
      ["stopReasons"],
      "code",
      ctx,
    );
    dupes(
      m.telemetry.map((t) => t.name),
      ["telemetry"],
      "name",
      ctx,
    );
    for (const k of ["initialGood", "initialReject"] as const)
      if (m.counters[k] > m.counters.max)
        ctx.addIssue({ code: "custom", path: ["counters", k], message: "exceeds counters.max" });
  });

function dupes(values: string[], path: (string | number)[], field: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) ctx.addIssue({ code: "custom", path: [...path, i, field], message: `duplicate ${v}` });
    seen.add(v);
  });
}

/** The data types a generic device's variable can have (OPC UA built-in types and a few standard subtypes). */
export const DEVICE_DATA_TYPES = [
  "Boolean",
  "SByte",
  "Byte",
  "Int16",
  "UInt16",
  "Int32",
  "UInt32",
  "Int64",
  "UInt64",
  "Float",
  "Double",
  "String",
  "DateTime",
  "LocalizedText",
  "Guid",
  "ByteString",
  "XmlElement",
  "NodeId",
  "QualifiedName",
  "StatusCode",
  /** Standard subtypes: Duration (of Double), UtcTime (of DateTime), Counter (of UInt32). */
  "Duration",
  "UtcTime",
  "Counter",
  /** The abstract BaseDataType: the value's own type decides (set with `valueType`). */
  "BaseDataType",
  /** An Int32 of the device's own enumeration type (`enumeration`). */
  "Enumeration",
  /** A structure (the standard Range: low, high), an ExtensionObject. */
  "Structure",
] as const;
export type DeviceDataType = (typeof DEVICE_DATA_TYPES)[number];

export const DeviceVariableConfig = z
  .object({
    /** Browse name; `set`/`remove` use it. */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
    dataType: z.enum(DEVICE_DATA_TYPES),
    /** For BaseDataType: the type of the value it holds. @default Double */
    valueType: z.enum(DEVICE_DATA_TYPES).optional(),
    /** An array of this length (ValueRank 1). @default a scalar */
    arrayLength: z.number().int().nonnegative().optional(),
    /** Initial value (JSON: 64-bit integers as decimal strings, times as ISO-8601, LocalizedText as { text, locale }). */
    value: z.unknown().optional(),
    /** An AnalogItem with EngineeringUnits and EURange. */
    unit: z.string().min(1).optional(),
    range: z.tuple([z.number(), z.number()]).optional(),
    /** Enumeration members: names (EnumStrings, numbered from 0) or { value, name } (EnumValues). */
    enumeration: z
      .union([
        z.array(z.string().min(1)).min(1),
        z.array(z.object({ value: z.number().int(), name: z.string().min(1) }).strict()).min(1),
      ])
      .optional(),
    /** Name of the enumeration data type. @default `<name>Enum` */
    enumerationName: z.string().min(1).optional(),
    /** A folder under the device object (Organizes), e.g. "Counters". @default directly under it */
    folder: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    /** AccessLevel CurrentRead. false: the node exists and cannot be read (BadNotReadable). @default true */
    readable: z.boolean().default(true),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.dataType === "Enumeration" && !v.enumeration)
      ctx.addIssue({
        code: "custom",
        path: ["enumeration"],
        message: "an Enumeration variable needs its members",
      });
  });
export type DeviceVariableConfig = z.infer<typeof DeviceVariableConfig>;

export const DeviceAlarmConfig = z
  .object({
    /** ConditionName and browse name. */
    name: z.string().regex(/^[A-Za-z0-9_-]+$/),
    /** @default 500 */
    severity: z.number().int().min(1).max(1000).default(500),
    message: z.string().min(1).optional(),
  })
  .strict();

/**
 * A generic OPC UA device, modelled the way many vendors' servers do and unlike the plant's
 * machines: its own namespace with numeric node ids, variables of every built-in type (some in
 * folders, some AnalogItems, an enumeration of its own, a structure, arrays), no PackML, and
 * alarms (OPC UA Alarms & Conditions) with the device object as their event notifier.
 */
export const DeviceConfig = z
  .object({
    /** Browse name of the device object (under Objects/Devices). */
    id: token,
    variables: z.array(DeviceVariableConfig).default([]),
    alarms: z.array(DeviceAlarmConfig).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    dupes(
      d.variables.map((v) => v.name),
      ["variables"],
      "name",
      ctx,
    );
    dupes(
      d.alarms.map((a) => a.name),
      ["alarms"],
      "name",
      ctx,
    );
  });
export type DeviceConfig = z.infer<typeof DeviceConfig>;
export type DeviceConfigInput = z.input<typeof DeviceConfig>;

export const LineConfig = z.object({ id: token, machines: z.array(MachineConfig).min(1) }).strict();
export const SiteConfig = z.object({ id: token, lines: z.array(LineConfig).min(1) }).strict();

const at = z.number().int().nonnegative();
const command = z.enum(PACKML_COMMAND_NAMES as [PackMlCommand, ...PackMlCommand[]]);

/** One timed action of a scenario; `at` is virtual ms since the start. */
export const ScenarioStep = z.discriminatedUnion("action", [
  z.object({ at, machine: token, action: z.literal("command"), command }).strict(),
  z
    .object({
      at,
      machine: token,
      action: z.literal("setOrder"),
      order: z.string().min(1).nullable().optional(),
      lot: z.string().min(1).nullable().optional(),
    })
    .strict(),
  z
    .object({
      at,
      machine: token,
      action: z.literal("forceStop"),
      /** A configured reason code (its text, kind and duration range apply) or a free code. */
      reason: z.string().min(1),
      text: z.string().min(1).optional(),
      kind: z.enum(["hold", "stop"]).optional(),
      /** Auto-recover after this long HELD/STOPPED; absent: the configured range, or stay down. */
      durationMs: nonNegInt.optional(),
    })
    .strict(),
  /** A PLC counter reset: the good and reject counters go to 0 (ground truth keeps counting). */
  z.object({ at, machine: token, action: z.literal("resetCounters") }).strict(),
]);
export type ScenarioStep = z.infer<typeof ScenarioStep>;

export const PlantConfig = z
  .object({
    /** PRNG seed (uint32). @default 1 */
    seed: z.number().int().nonnegative().max(0xffff_ffff).default(1),
    /** PackML machines, by site and line. @default none (a plant of generic devices only) */
    sites: z.array(SiteConfig).default([]),
    /** Generic OPC UA devices (see {@link DeviceConfig}). @default none */
    devices: z.array(DeviceConfig).default([]),
    scenario: z.array(ScenarioStep).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.sites.length === 0 && p.devices.length === 0)
      ctx.addIssue({
        code: "custom",
        path: ["sites"],
        message: "a plant needs a site with machines, or devices",
      });
    dupes(
      p.devices.map((d) => d.id),
      ["devices"],
      "id",
      ctx,
    );
    const ids = new Set<string>();
    p.sites.forEach((s, si) => {
      s.lines.forEach((l, li) => {
        l.machines.forEach((m, mi) => {
          if (ids.has(m.id))
            ctx.addIssue({
              code: "custom",
              path: ["sites", si, "lines", li, "machines", mi, "id"],
              message: `duplicate machine id ${m.id}`,
            });
          ids.add(m.id);
        });
      });
    });
    p.scenario.forEach((step, i) => {
      if (!ids.has(step.machine))
        ctx.addIssue({
          code: "custom",
          path: ["scenario", i, "machine"],
          message: `unknown machine ${step.machine}`,
        });
    });
  });
export type PlantConfig = z.infer<typeof PlantConfig>;
export type PlantConfigInput = z.input<typeof PlantConfig>;
export type MachineConfig = z.infer<typeof MachineConfig>;
export type TelemetryTagConfig = z.infer<typeof TelemetryTagConfig>;
export type StopReasonConfig = z.infer<typeof StopReasonConfig>;

/** Validates a plant config (already parsed from YAML/JSON); throws {@link ConfigError} naming the key. */
export function parsePlantConfig(input: unknown, where = "plant config"): PlantConfig {
  return parseStructured(PlantConfig, input, where);
}

/** Reads and validates a plant config file (YAML or JSON). */
export function loadPlantConfig(path: string): PlantConfig {
  return loadStructured(PlantConfig, path);
}
