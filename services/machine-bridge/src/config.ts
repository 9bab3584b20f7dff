/**
 * The machine bridge's plant mapping: which OPC UA endpoints to read, which node of each machine
 * carries which signal, and where the machine sits in the ISA-95 hierarchy. A YAML or JSON file
 * (path in `BRIDGE_CONFIG`), validated here; an error is a {@link ConfigError} naming the key, e.g.
 * `endpoints.0.machines.2.signals.goodCounter`.
 */
import { z } from "zod";
import {
  DOWNTIME_CATEGORY_SYMBOLS,
  PACK_ML_MODE_SYMBOLS,
  PACK_ML_STATE_SYMBOLS,
  type PackMlState,
} from "../../../contracts/src/index.js";
import { ConfigError, loadStructured, parseStructured } from "../../../streams/src/index.js";
import { BUILTIN_STATE_PROFILES, type StateTable, stateTable } from "./profiles.js";

/** Identifier usable as a NATS subject token. */
const token = z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' and '_' only (a subject token)");
/** An OPC UA node id in its string form: `ns=1;s=Line1.Filler.State`, `ns=2;i=1042`, `nsu=urn:x;s=...`. */
const nodeId = z
  .string()
  .regex(/^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$/, "an OPC UA node id such as ns=1;s=Line1.State or ns=2;i=1042");
const positiveMs = z.number().int().positive();

/**
 * The data type a node is expected to have: the browse name of its DataType node, as `threadline
 * bridge discover` writes it (`Int64`, `Double`, `Duration`, a vendor's enumeration `PressStatus` …).
 * Checked at start-up and after every reconnection: a node whose type changed is reported.
 */
const dataType = z.string().min(1).max(200);

/** Monitoring parameters of one signal. Counters and states default to "every change". */
const Monitoring = {
  /** Server-side sampling interval; 0 = report every change. @default 0 (signals), 1000 (telemetry) */
  samplingIntervalMs: z.number().int().nonnegative().optional(),
  /** Values the server keeps between two publishes. @default 100 (signals), 10 (telemetry) */
  queueSize: z.number().int().positive().max(10_000).optional(),
  /** The node's expected data type (its DataType's browse name). @default not checked */
  dataType: dataType.optional(),
};

/** A signal's node: its node id, or `{ nodeId, samplingIntervalMs?, queueSize?, dataType? }`. */
const SignalNode = z.preprocess(
  (v) => (typeof v === "string" ? { nodeId: v } : v),
  z.object({ nodeId, ...Monitoring }).strict(),
);
export type SignalNode = z.output<typeof SignalNode>;

/**
 * A running signal: a Boolean (or a number, 0 = not running), or a vendor's status whose `values`
 * (numbers, texts or enumeration names) mean running — any other value is a stop, and names the
 * downtime when nothing better does.
 */
const RunningNode = z.preprocess(
  (v) => (typeof v === "string" ? { nodeId: v } : v),
  z
    .object({
      nodeId,
      ...Monitoring,
      values: z
        .array(z.union([z.string().min(1), z.number(), z.boolean()]))
        .min(1)
        .optional(),
    })
    .strict(),
);
export type RunningNode = z.output<typeof RunningNode>;

/** OPC UA Alarms & Conditions of a machine. */
const AlarmsMapping = z
  .object({
    /**
     * The node whose events are subscribed to: an object with an EventNotifier (the machine's own,
     * or `i=2253`, the Server object, which notifies every event of the server).
     */
    notifier: nodeId,
    /** Only conditions whose SourceNode is one of these. @default every condition of the notifier */
    sources: z.array(nodeId).min(1).optional(),
    /**
     * Active alarms name a downtime that no stop reason signal names: the most severe one at or
     * above `minSeverity` (1-1000) gives its ConditionName as the reason code and its message as
     * the text. `true` = every severity. @default off
     */
    downtimeReason: z
      .preprocess(
        (v) => (v === true ? {} : v === false ? undefined : v),
        z
          .object({ minSeverity: z.number().int().min(1).max(1000).default(1) })
          .strict()
          .optional(),
      )
      .optional(),
  })
  .strict();
export type AlarmsMapping = z.infer<typeof AlarmsMapping>;

const Deadband = z
  .object({
    /** absolute: in the tag's unit; percent: of the EURange (needs an AnalogItem). */
    type: z.enum(["absolute", "percent"]),
    value: z.number().nonnegative(),
  })
  .strict();

export const TelemetryTag = z
  .object({
    /** Tag name in the events, e.g. "temperature" or "spindle.speed". */
    tag: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '.', '-' and '_'"),
    nodeId,
    samplingIntervalMs: z.number().int().nonnegative().default(1000),
    queueSize: z.number().int().positive().max(10_000).default(10),
    deadband: Deadband.optional(),
    /** The node's expected data type (its DataType's browse name). @default not checked */
    dataType: dataType.optional(),
  })
  .strict();
export type TelemetryTag = z.infer<typeof TelemetryTag>;

const stateName = z.enum(PACK_ML_STATE_SYMBOLS);

/** A custom numbering: state → number as the device shows it. */
const CustomProfile = z.partialRecord(stateName, z.number().int()).superRefine((numbers, ctx) => {
  const seen = new Map<number, string>();
  for (const [state, n] of Object.entries(numbers)) {
    if (n === undefined) continue;
    const other = seen.get(n);
    if (other) ctx.addIssue({ code: "custom", path: [state], message: `number ${n} is already ${other}` });
    seen.set(n, state);
  }
});

/** The default rule for an order or lot written to a machine: what Odoo names and a PLC string takes. */
export const DEFAULT_ORDER_PATTERN = "^[A-Za-z0-9/_.-]{1,64}$";

/** A regular expression given as text; an invalid one is named with the engine's message. */
const pattern = z.string().superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
  }
});

/**
 * SET_ORDER: how the order and lot are written to the machine — an OPC UA method call with the
 * order and lot as String input arguments (`""` clears one), or writes of two String nodes — and
 * which values may be written. The machine's `signals.order` and `signals.lot` are read back to
 * confirm (both required). Nothing else of the machine is ever written.
 */
const SetOrderCommand = z
  .object({
    /** `Call(object, method, [order, lot])`. */
    method: z.object({ object: nodeId, method: nodeId }).strict().optional(),
    /** `Write(order, value)`, `Write(lot, value)`. */
    write: z.object({ order: nodeId, lot: nodeId }).strict().optional(),
    /** What an order must match (null, clearing it, is always allowed). @default ^[A-Za-z0-9/_.-]{1,64}$ */
    orderPattern: pattern.default(DEFAULT_ORDER_PATTERN),
    /** What a lot must match (null, clearing it, is always allowed). @default ^[A-Za-z0-9/_.-]{1,64}$ */
    lotPattern: pattern.default(DEFAULT_ORDER_PATTERN),
    /** Sends in total when the read-back does not confirm (a refusal is never re-sent). @default 3 */
    attempts: z.number().int().min(1).max(10).default(3),
    /** How long the read-back may take to show the values written, per attempt. @default 3000 */
    confirmTimeoutMs: positiveMs.max(60_000).default(3_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.method === undefined) === (c.write === undefined))
      ctx.addIssue({
        code: "custom",
        path: c.method ? ["write"] : ["method"],
        message:
          "declare either a method call (method: { object, method }) or node writes (write: { order, lot }), exactly one",
      });
  });
export type SetOrderCommand = z.infer<typeof SetOrderCommand>;

/** What may be written to a machine, by command. Only machines with this block accept commands. */
const CommandsMapping = z.object({ setOrder: SetOrderCommand.optional() }).strict();
export type CommandsMapping = z.infer<typeof CommandsMapping>;

export const MachineMapping = z
  .object({
    /** ISA-95 path. `site` defaults to the bridge's `site`. */
    site: token.optional(),
    area: token.optional(),
    line: token,
    cell: token.optional(),
    machine: token,
    /** State numbering of this machine; overrides the endpoint's. */
    profile: z.string().min(1).optional(),
    /**
     * What the machine has. All optional: a PackML `state` or a `running` signal (not both),
     * counters, order/lot, stop reasons — or nothing but telemetry.
     */
    signals: z
      .object({
        state: SignalNode.optional(),
        running: RunningNode.optional(),
        mode: SignalNode.optional(),
        goodCounter: SignalNode.optional(),
        rejectCounter: SignalNode.optional(),
        order: SignalNode.optional(),
        lot: SignalNode.optional(),
        stopReason: SignalNode.optional(),
        stopReasonText: SignalNode.optional(),
      })
      .strict()
      .default({}),
    counters: z
      .object({
        /** Largest value before the counter wraps to 0. @default 4294967295 (UInt32) */
        max: z.coerce.bigint().positive().default(0xffff_ffffn),
        /**
         * A decrease is a rollover when the wrapped distance is at most this fraction of the range,
         * otherwise a reset (counting restarts from 0). @default 0.1
         */
        rolloverWindow: z.number().gt(0).lt(1).default(0.1),
        /**
         * The machine's counting unit: the name of an Odoo unit of measure (`uom.uom`), e.g. `Units`,
         * `Dozens`, `Case of 12`, `kg`. Reports carry it; the Odoo connector converts their quantities
         * to the order's unit on posting (same category only: a unit of another category, or one Odoo
         * does not know, is dead-lettered as UOM_CATEGORY_MISMATCH / UOM_UNKNOWN). @default "Units"
         */
        uom: z.string().min(1).default("Units"),
        /**
         * The reject counter's unit when it counts in another unit than the good counter (a case
         * packer counting cases out and single jars rejected). @default the good counter's `uom`
         */
        rejectUom: z.string().min(1).optional(),
      })
      .strict()
      .default({ max: 0xffff_ffffn, rolloverWindow: 0.1, uom: "Units" }),
    telemetry: z.array(TelemetryTag).default([]),
    /** OPC UA Alarms & Conditions: alarm events, and optionally downtime reasons. @default none */
    alarms: AlarmsMapping.optional(),
    /** Mode number → PackML mode, when a mode signal is mapped. @default 1 PRODUCTION, 2 MAINTENANCE, 3 MANUAL */
    modes: z.record(z.string().regex(/^-?\d+$/), z.enum(PACK_ML_MODE_SYMBOLS)).optional(),
    /**
     * What this machine's rejects are scrap of, for a machine upstream of the counting point: the
     * product code (Odoo default_code) of the component it handles, e.g. a capper's caps. Without
     * it an upstream machine's rejects are OEE data only. Not allowed on the counting point, whose
     * rejects are scrap of the finished product.
     */
    rejects: z
      .object({ component: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * What Threadline may write to this machine (threadline.cmd.machine.<site>.<line>.<machine>).
     * @default none: the machine accepts no command
     */
    commands: CommandsMapping.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.commands?.setOrder)
      for (const signal of ["order", "lot"] as const)
        if (!m.signals[signal])
          ctx.addIssue({
            code: "custom",
            path: ["signals", signal],
            message: `commands.setOrder is declared: the machine's ${signal} must be mapped (the write is confirmed by reading it back)`,
          });
    if (m.signals.state && m.signals.running)
      ctx.addIssue({
        code: "custom",
        path: ["signals", "running"],
        message:
          "a machine has a PackML state or a running signal, not both (the state already says when it runs)",
      });
    const tags = new Set<string>();
    m.telemetry.forEach((t, i) => {
      if (tags.has(t.tag))
        ctx.addIssue({ code: "custom", path: ["telemetry", i, "tag"], message: `duplicate tag ${t.tag}` });
      tags.add(t.tag);
    });
  });
export type MachineMapping = z.infer<typeof MachineMapping>;

const SecurityMode = z.enum(["None", "Sign", "SignAndEncrypt"]);
const SecurityPolicy = z.enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]);

export const EndpointConfig = z
  .object({
    /** Endpoint id in logs, metrics and connector status. */
    id: token,
    /** `opc.tcp://host:port[/path]`. */
    url: z.string().regex(/^opc\.tcp:\/\/[^\s/]+(:\d+)?(\/.*)?$/, "an opc.tcp://host:port URL"),
    security: z
      .object({
        mode: SecurityMode.default("None"),
        policy: SecurityPolicy.default("None"),
      })
      .strict()
      .default({ mode: "None", policy: "None" }),
    /** Username/password login; anonymous when absent. The password comes from an env variable. */
    user: z
      .object({
        username: z.string().min(1),
        /** Name of the environment variable holding the password (never the password itself). */
        passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name"),
      })
      .strict()
      .optional(),
    /** State numbering of the machines on this endpoint (built-in: tmc, packtags; or one of `profiles`). @default tmc */
    profile: z.string().min(1).default("tmc"),
    /** Reconnect backoff. */
    reconnect: z
      .object({ initialDelayMs: positiveMs.default(500), maxDelayMs: positiveMs.default(10_000) })
      .strict()
      .default({ initialDelayMs: 500, maxDelayMs: 10_000 }),
    /** Subscription publishing interval. @default 100 */
    publishingIntervalMs: positiveMs.default(100),
    /** Session timeout requested from the server; an abandoned session is freed after it. @default 30000 */
    sessionTimeoutMs: positiveMs.default(30_000),
    machines: z.array(MachineMapping).min(1),
  })
  .strict()
  .superRefine((e, ctx) => {
    if ((e.security.mode === "None") !== (e.security.policy === "None"))
      ctx.addIssue({
        code: "custom",
        path: ["security", "policy"],
        message: `mode ${e.security.mode} needs ${e.security.mode === "None" ? "policy None" : "a policy other than None"}`,
      });
  });
export type EndpointConfig = z.infer<typeof EndpointConfig>;

export const BridgeConfig = z
  .object({
    /** This bridge instance, e.g. "machine-bridge-lyon-1" (connector status events, KV keys). */
    connectorId: token,
    /** Default site of the machines. */
    site: token,
    /** Custom state numberings, by name. */
    profiles: z.record(z.string().min(1), CustomProfile).default({}),
    /** Where node-opcua keeps its certificates (own and trusted/rejected servers'). Never $HOME. */
    pkiFolder: z.string().min(1).default("./pki"),
    /** Trust a server certificate seen for the first time (test plants only). @default false */
    trustUnknownServerCertificates: z.boolean().default(false),
    /** How often each endpoint is checked (a read of the server's clock). @default 5000 */
    heartbeatMs: positiveMs.default(5_000),
    /** A heartbeat without an answer within this is a failure. @default 3000 */
    heartbeatTimeoutMs: positiveMs.default(3_000),
    /** An endpoint failing its heartbeat this long is rebuilt from a new client and session. @default 60000 */
    rebuildAfterMs: positiveMs.default(60_000),
    /** ProductionReported at most this often per machine (and before every order/lot change). @default 1000 */
    reportIntervalMs: positiveMs.default(1_000),
    telemetry: z
      .object({
        /** One TelemetrySampled per machine per interval. @default 1000 */
        batchIntervalMs: positiveMs.default(1_000),
        /** A batch is sent early when it holds this many samples. @default 500 */
        maxSamples: z.number().int().positive().default(500),
        /** Samples kept while NATS is unreachable; the oldest are dropped (and counted) beyond. @default 100000 */
        maxBuffered: z.number().int().positive().default(100_000),
      })
      .strict()
      .default({ batchIntervalMs: 1_000, maxSamples: 500, maxBuffered: 100_000 }),
    downtime: z
      .object({
        /** Stop reason code → OEE category. */
        categories: z.record(z.string(), z.enum(DOWNTIME_CATEGORY_SYMBOLS)).default({}),
        /** Category of a reason not listed. @default UNCLASSIFIED */
        defaultCategory: z.enum(DOWNTIME_CATEGORY_SYMBOLS).default("UNCLASSIFIED"),
      })
      .strict()
      .default({ categories: {}, defaultCategory: "UNCLASSIFIED" }),
    endpoints: z.array(EndpointConfig).min(1),
    /**
     * How often nodes found bad (missing, not readable, of the wrong type) are checked again; one
     * that is good again gets its monitored item back. Every node is also checked at start-up and
     * after every reconnection. @default 30000
     */
    recheckNodesMs: positiveMs.default(30_000),
    /**
     * Per line (`line`, or `site/line` when the bridge maps several sites): which machine is the
     * line's counting point — the one whose good count is the line's finished output posted to the
     * ERP. @default the last machine of the line in this file's order that maps a good counter
     */
    lines: z.record(z.string().min(1), z.object({ countingPoint: token }).strict()).default({}),
  })
  .strict()
  .superRefine((b, ctx) => {
    const known = (p: string) => p in BUILTIN_STATE_PROFILES || p in b.profiles;
    const endpointIds = new Set<string>();
    const machines = new Map<string, string>();
    b.endpoints.forEach((e, ei) => {
      if (endpointIds.has(e.id))
        ctx.addIssue({
          code: "custom",
          path: ["endpoints", ei, "id"],
          message: `duplicate endpoint id ${e.id}`,
        });
      endpointIds.add(e.id);
      if (!known(e.profile))
        ctx.addIssue({
          code: "custom",
          path: ["endpoints", ei, "profile"],
          message: unknownProfile(e.profile, b),
        });
      e.machines.forEach((m, mi) => {
        const path = ["endpoints", ei, "machines", mi];
        if (m.profile !== undefined && !known(m.profile))
          ctx.addIssue({ code: "custom", path: [...path, "profile"], message: unknownProfile(m.profile, b) });
        const key = machineKeyOf(m, b.site);
        const other = machines.get(key);
        if (other)
          ctx.addIssue({
            code: "custom",
            path: [...path, "machine"],
            message: `${key} is already mapped at ${other}`,
          });
        machines.set(key, path.join("."));
      });
    });
    const byLine = machinesByLine(b);
    for (const [line, setting] of Object.entries(b.lines)) {
      const found = byLine.get(line) ?? byLine.get(`${b.site}/${line}`);
      if (!found) {
        ctx.addIssue({
          code: "custom",
          path: ["lines", line],
          message: `no machine is mapped on line ${line} (lines: ${[...byLine.keys()].join(", ")})`,
        });
        continue;
      }
      if (!found.some((m) => m.mapping.machine === setting.countingPoint))
        ctx.addIssue({
          code: "custom",
          path: ["lines", line, "countingPoint"],
          message: `${setting.countingPoint} is not a machine of line ${line} (machines: ${found.map((m) => m.mapping.machine).join(", ")})`,
        });
    }
    for (const [line, members] of byLine) {
      const point = countingPointOf(b, line, members);
      if (!point) continue;
      if (point.mapping.rejects)
        ctx.addIssue({
          code: "custom",
          path: [...point.path, "rejects"],
          message: `${point.mapping.machine} is the counting point of line ${line}: its rejects are scrap of the finished product, not of a component`,
        });
      if (!point.mapping.signals.goodCounter)
        ctx.addIssue({
          code: "custom",
          path: [...point.path, "signals", "goodCounter"],
          message: `${point.mapping.machine} is named the counting point of line ${line} and must map its good counter`,
        });
    }
  });
export type BridgeConfig = z.infer<typeof BridgeConfig>;
export type BridgeConfigInput = z.input<typeof BridgeConfig>;

function unknownProfile(name: string, b: { profiles: Record<string, unknown> }): string {
  const names = [...Object.keys(BUILTIN_STATE_PROFILES), ...Object.keys(b.profiles)];
  return `unknown profile ${name} (known: ${names.join(", ")})`;
}

/** The machine's ISA-95 equipment path as events carry it (`site`: the bridge's default). */
export function equipmentOf(
  m: Pick<MachineMapping, "site" | "area" | "line" | "cell" | "machine">,
  site: string,
) {
  return {
    site: m.site ?? site,
    area: m.area ?? null,
    line: m.line,
    cell: m.cell ?? null,
    machine: m.machine,
  };
}

/** `site/line/machine` (with area and cell when set): unique per bridge. */
export function machineKeyOf(
  m: Pick<MachineMapping, "site" | "area" | "line" | "cell" | "machine">,
  site: string,
) {
  return [m.site ?? site, m.area, m.line, m.cell, m.machine].filter((p) => p !== undefined).join("/");
}

interface LineMember {
  readonly mapping: MachineMapping;
  readonly path: (string | number)[];
}

/** `site/line` → its machines in file order. */
function machinesByLine(b: Pick<BridgeConfig, "site" | "endpoints">): Map<string, LineMember[]> {
  const out = new Map<string, LineMember[]>();
  b.endpoints.forEach((e, ei) => {
    e.machines.forEach((m, mi) => {
      const line = `${m.site ?? b.site}/${m.line}`;
      const members = out.get(line) ?? [];
      members.push({ mapping: m, path: ["endpoints", ei, "machines", mi] });
      out.set(line, members);
    });
  });
  return out;
}

/**
 * The line's counting point: the machine `lines` names, else the last machine of the line that
 * maps a good counter (a line where nothing counts has none).
 */
function countingPointOf(
  b: Pick<BridgeConfig, "site" | "lines">,
  line: string,
  members: readonly LineMember[],
): LineMember | undefined {
  const [site, token] = line.split("/") as [string, string];
  const chosen =
    b.lines[line]?.countingPoint ?? (site === b.site ? b.lines[token]?.countingPoint : undefined);
  if (chosen !== undefined) return members.find((m) => m.mapping.machine === chosen);
  return members.findLast((m) => m.mapping.signals.goodCounter !== undefined);
}

/** Machine keys (see machineKeyOf) of the lines' counting points. */
export function countingPoints(config: BridgeConfig): Set<string> {
  const out = new Set<string>();
  for (const [line, members] of machinesByLine(config)) {
    const point = countingPointOf(config, line, members);
    if (point) out.add(machineKeyOf(point.mapping, config.site));
  }
  return out;
}

/** The state table a machine uses (machine profile, else endpoint profile). */
export function stateTableFor(
  config: BridgeConfig,
  endpoint: EndpointConfig,
  machine: MachineMapping,
): StateTable {
  const name = machine.profile ?? endpoint.profile;
  const numbers = config.profiles[name] ?? BUILTIN_STATE_PROFILES[name];
  if (!numbers) throw new ConfigError("profile", unknownProfile(name, config));
  return stateTable(numbers as Partial<Record<PackMlState, number>>);
}

/** Validates a bridge config (already parsed from YAML/JSON); throws {@link ConfigError} naming the key. */
export function parseBridgeConfig(input: unknown, where = "bridge config"): BridgeConfig {
  return parseStructured(BridgeConfig, input, where);
}

/** Reads and validates a bridge config file (YAML or JSON). */
export function loadBridgeConfig(path: string): BridgeConfig {
  return loadStructured(BridgeConfig, path);
}
