/**
 * Discovery: browse a server and write a mapping skeleton a person edits instead of typing node
 * ids (`threadline bridge discover`).
 *
 * The browse follows hierarchical references forward from the Objects folder (or a given root),
 * leaving out the Server object, condition instances (their fields are not machine data) and
 * properties (read for what they say: EngineeringUnits, EURange). Each variable belongs to its
 * nearest object that is not a folder — servers differ here: one puts a machine's tags straight
 * under its object, another in folders of folders, a third in a structure variable whose fields
 * are variables — and is named by the browse path from that object (`Counters.GoodParts`).
 *
 * What is recognised, by browse names as the companion specifications define them:
 * - PackML (OPC 30060 PackMLBaseObjectType, PackTags v3 in PLCs): `Status.StateCurrent` → state,
 *   `Status.UnitModeCurrent` → mode, `Admin.ProdProcessedCount` / `ProdDefectiveCount` (or their
 *   `Count` field) → good and reject counters, `Admin.StopReason` (`ID`, `Message`) → stop reason;
 *   the state numbering is `tmc` when the server has the OPC 30060 namespace, else `packtags`;
 * - OPC 40001 Machinery: `MachineryItemState.CurrentState` → a running signal ("Executing");
 * - conditions (Alarms & Conditions) under an object → `alarms` with the object's notifier.
 * Everything else readable and of a type the bridge carries is a telemetry tag; what is not (a
 * structure, a ByteString, an unreadable node) is listed as a comment saying why.
 */
import {
  AttributeIds,
  BrowseDirection,
  browseAll,
  type ClientSession,
  NodeClass,
  type NodeId,
  ObjectTypeIds,
  type ReferenceDescription,
  ReferenceTypeIds,
  resolveNodeId,
} from "node-opcua";
import { Document, isMap, isSeq, type YAMLMap } from "yaml";
import { type DataTypeInfo, TypeResolver, typeProblem } from "./nodes.js";

export interface DiscoverOptions {
  /** Where to start. @default the Objects folder (i=85) */
  readonly root?: string;
  /** Levels below the root. @default 12 */
  readonly maxDepth?: number;
  /** Nodes visited at most (a guard against huge servers). @default 20000 */
  readonly maxNodes?: number;
}

export interface DiscoveredVariable {
  readonly nodeId: string;
  /** Browse names from the owning object down to the variable. */
  readonly path: readonly string[];
  readonly dataType: DataTypeInfo | null;
  readonly valueRank: number | null;
  readonly arrayDimensions: readonly number[] | null;
  readonly readable: boolean;
  readonly unit: string | null;
  readonly range: readonly [number, number] | null;
}

export interface DiscoveredObject {
  readonly nodeId: string;
  readonly browseName: string;
  /** Browse names from the root. */
  readonly path: readonly string[];
  readonly typeDefinition: string | null;
  readonly eventNotifier: boolean;
  readonly variables: DiscoveredVariable[];
  /** Conditions (alarms) found below it, by name. */
  readonly conditions: string[];
  /** The nearest object up from it (itself included) that is an event notifier. */
  notifier: string | null;
}

export interface Discovery {
  readonly namespaces: readonly string[];
  readonly objects: readonly DiscoveredObject[];
  /** The browse stopped at `maxNodes`. */
  readonly truncated: boolean;
}

/** A node id's string with namespace 0 left implicit (`i=85`), as node-opcua writes some and not others. */
const idOf = (id: NodeId | { toString(): string }) => id.toString().replace(/^ns=0;/, "");
/** References followed down that are not part of a machine: events and their sources. */
const NOT_FOLLOWED = new Set([`i=${ReferenceTypeIds.HasEventSource}`, `i=${ReferenceTypeIds.HasNotifier}`]);

const OBJECTS_FOLDER = "i=85";
const SERVER_OBJECT = "i=2253";
const FOLDER_TYPE = `i=${ObjectTypeIds.FolderType}`;
const CONDITION_TYPE = ObjectTypeIds.ConditionType;
export const PACKML_NAMESPACE = "http://opcfoundation.org/UA/PackML/";

interface Visit {
  readonly nodeId: NodeId;
  readonly depth: number;
  /** The object owning variables found here. */
  readonly owner: DiscoveredObject | null;
  /** Browse names from the owner. */
  readonly pathFromOwner: readonly string[];
  readonly pathFromRoot: readonly string[];
  /** The nearest notifier above. */
  readonly notifier: string | null;
}

/** Browses the server (see the module comment). */
export async function discover(session: ClientSession, options: DiscoverOptions = {}): Promise<Discovery> {
  const maxDepth = options.maxDepth ?? 12;
  const maxNodes = options.maxNodes ?? 20_000;
  const resolver = new TypeResolver(session);
  const subtypeCache = new Map<string, Promise<boolean>>();
  const namespaces = ((await session.read({ nodeId: "i=2255", attributeId: AttributeIds.Value })).value
    ?.value ?? []) as string[];
  const objects: DiscoveredObject[] = [];
  const seen = new Set<string>([SERVER_OBJECT]);
  const root = resolveNodeId(options.root ?? OBJECTS_FOLDER);
  let queue: Visit[] = [
    { nodeId: root, depth: 0, owner: null, pathFromOwner: [], pathFromRoot: [], notifier: null },
  ];
  seen.add(idOf(root));
  let visited = 0;
  let truncated = false;
  while (queue.length > 0) {
    const level = queue;
    queue = [];
    const results = await browseAll(
      session,
      level.map((v) => ({
        nodeId: v.nodeId,
        browseDirection: BrowseDirection.Forward,
        referenceTypeId: resolveNodeId(ReferenceTypeIds.HierarchicalReferences),
        includeSubtypes: true,
        nodeClassMask: NodeClass.Object | NodeClass.Variable,
        resultMask: 0x3f,
      })),
    );
    const variables: { ref: ReferenceDescription; from: Visit }[] = [];
    const objectRefs: { ref: ReferenceDescription; from: Visit }[] = [];
    for (const [i, result] of results.entries()) {
      const from = level[i] as Visit;
      for (const ref of result.references ?? []) {
        const id = idOf(ref.nodeId);
        if (NOT_FOLLOWED.has(idOf(ref.referenceTypeId)) || seen.has(id)) continue;
        seen.add(id);
        if (++visited > maxNodes) {
          truncated = true;
          break;
        }
        // Properties describe their parent (units, ranges, enum names): read, never mapped.
        if (idOf(ref.referenceTypeId) === `i=${ReferenceTypeIds.HasProperty}`) continue;
        if (ref.nodeClass === NodeClass.Variable) variables.push({ ref, from });
        else objectRefs.push({ ref, from });
      }
    }
    // Objects: a condition is noted on its owner, a folder passes its owner on, any other object owns.
    const notifierFlags = await readAll(
      session,
      objectRefs.map((o) => o.ref.nodeId),
      AttributeIds.EventNotifier,
    );
    for (const [i, { ref, from }] of objectRefs.entries()) {
      const typeDefinition = ref.typeDefinition ? idOf(ref.typeDefinition) : null;
      const name = ref.browseName.name ?? ref.nodeId.toString();
      if (typeDefinition && (await isSubtype(session, typeDefinition, CONDITION_TYPE, subtypeCache))) {
        from.owner?.conditions.push(name);
        continue;
      }
      const eventNotifier = (Number(notifierFlags[i] ?? 0) & 1) === 1;
      const id = ref.nodeId.toString();
      const notifier = eventNotifier ? id : from.notifier;
      const isFolder = typeDefinition === FOLDER_TYPE;
      const pathFromRoot = [...from.pathFromRoot, name];
      let owner = from.owner;
      let pathFromOwner = [...from.pathFromOwner, name];
      if (!isFolder || owner === null) {
        owner = {
          nodeId: id,
          browseName: name,
          path: pathFromRoot,
          typeDefinition: typeDefinition ? await typeName(session, typeDefinition) : null,
          eventNotifier,
          variables: [],
          conditions: [],
          notifier,
        };
        objects.push(owner);
        pathFromOwner = [];
      }
      if (from.depth + 1 < maxDepth)
        queue.push({
          nodeId: ref.nodeId,
          depth: from.depth + 1,
          owner,
          pathFromOwner,
          pathFromRoot,
          notifier,
        });
    }
    // Variables: read their type, access and units; a variable's own components (a structure's
    // fields) are browsed too.
    const described = await describeVariables(
      session,
      variables.map((v) => v.ref.nodeId),
      resolver,
    );
    for (const [i, { ref, from }] of variables.entries()) {
      const d = described[i];
      if (!d || !from.owner) continue;
      const path = [...from.pathFromOwner, ref.browseName.name ?? ref.nodeId.toString()];
      from.owner.variables.push({ ...d, nodeId: ref.nodeId.toString(), path });
      if (from.depth + 1 < maxDepth)
        queue.push({
          nodeId: ref.nodeId,
          depth: from.depth + 1,
          owner: from.owner,
          pathFromOwner: path,
          pathFromRoot: [...from.pathFromRoot, ...path.slice(-1)],
          notifier: from.notifier,
        });
    }
    if (truncated) break;
  }
  return {
    namespaces,
    objects: objects.filter((o) => o.variables.length > 0 || o.conditions.length > 0),
    truncated,
  };
}

async function readAll(
  session: ClientSession,
  ids: readonly NodeId[],
  attributeId: AttributeIds,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const dvs = await session.read(ids.slice(i, i + 500).map((nodeId) => ({ nodeId, attributeId })));
    for (const dv of dvs) out.push(dv.statusCode.isGood() ? dv.value.value : null);
  }
  return out;
}

async function describeVariables(
  session: ClientSession,
  ids: readonly NodeId[],
  resolver: TypeResolver,
): Promise<Omit<DiscoveredVariable, "nodeId" | "path">[]> {
  const [types, ranks, dims, access, userAccess] = await Promise.all([
    readAll(session, ids, AttributeIds.DataType),
    readAll(session, ids, AttributeIds.ValueRank),
    readAll(session, ids, AttributeIds.ArrayDimensions),
    readAll(session, ids, AttributeIds.AccessLevel),
    readAll(session, ids, AttributeIds.UserAccessLevel),
  ]);
  // EngineeringUnits and EURange, where a variable has them (AnalogItemType, OPC 10000-8 §5.3.2).
  const properties = await browseAll(
    session,
    ids.map((nodeId) => ({
      nodeId,
      browseDirection: BrowseDirection.Forward,
      referenceTypeId: resolveNodeId(ReferenceTypeIds.HasProperty),
      includeSubtypes: true,
      nodeClassMask: NodeClass.Variable,
      resultMask: 0x3f,
    })),
  );
  const wanted: { index: number; kind: "unit" | "range"; nodeId: NodeId }[] = [];
  properties.forEach((p, index) => {
    for (const ref of p.references ?? []) {
      if (ref.browseName.name === "EngineeringUnits")
        wanted.push({ index, kind: "unit", nodeId: ref.nodeId });
      if (ref.browseName.name === "EURange") wanted.push({ index, kind: "range", nodeId: ref.nodeId });
    }
  });
  const propertyValues = await readAll(
    session,
    wanted.map((w) => w.nodeId),
    AttributeIds.Value,
  );
  const units = new Map<number, string>();
  const ranges = new Map<number, [number, number]>();
  wanted.forEach((w, i) => {
    const v = propertyValues[i] as { displayName?: { text?: string }; low?: number; high?: number } | null;
    if (!v) return;
    if (w.kind === "unit" && v.displayName?.text) units.set(w.index, v.displayName.text);
    if (w.kind === "range" && typeof v.low === "number" && typeof v.high === "number")
      ranges.set(w.index, [v.low, v.high]);
  });
  const out: Omit<DiscoveredVariable, "nodeId" | "path">[] = [];
  for (const [i] of ids.entries()) {
    const t = types[i] as NodeId | null;
    const dataType = t ? await resolver.resolve(t).catch(() => null) : null;
    const readable = (Number(access[i] ?? 1) & 1) === 1 && (Number(userAccess[i] ?? 1) & 1) === 1;
    out.push({
      dataType,
      valueRank: ranks[i] === null ? null : Number(ranks[i]),
      arrayDimensions:
        Array.isArray(dims[i]) || ArrayBuffer.isView(dims[i])
          ? Array.from(dims[i] as ArrayLike<number>)
          : null,
      readable,
      unit: units.get(i) ?? null,
      range: ranges.get(i) ?? null,
    });
  }
  return out;
}

async function isSubtype(
  session: ClientSession,
  typeId: string,
  ancestor: number,
  cache: Map<string, Promise<boolean>>,
): Promise<boolean> {
  let found = cache.get(typeId);
  if (!found) {
    found = (async () => {
      let current = resolveNodeId(typeId);
      for (let depth = 0; depth < 32; depth++) {
        if (current.namespace === 0 && current.value === ancestor) return true;
        if (current.namespace === 0 && current.value === ObjectTypeIds.BaseObjectType) return false;
        const r = await session.browse({
          nodeId: current,
          browseDirection: BrowseDirection.Inverse,
          referenceTypeId: resolveNodeId(ReferenceTypeIds.HasSubtype),
          includeSubtypes: false,
          resultMask: 0x3f,
        });
        const parent = r.references?.[0]?.nodeId;
        if (!parent) return false;
        current = parent;
      }
      return false;
    })();
    cache.set(typeId, found);
  }
  return found;
}

async function typeName(session: ClientSession, typeId: string): Promise<string> {
  const dv = await session.read({ nodeId: typeId, attributeId: AttributeIds.BrowseName });
  return (dv.value?.value as { name?: string } | undefined)?.name ?? typeId;
}

// ---------------------------------------------------------------------------------------------
// The skeleton

export interface SkeletonEndpoint {
  readonly url: string;
  readonly security?: { mode: string; policy: string };
  readonly user?: { username: string; passwordEnv: string };
}

/** A subject token out of a browse name (`Press 7/A` → `Press_7_A`). */
function token(name: string): string {
  const t = name.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return t === "" ? "node" : t;
}

/** A tag name out of a browse path. */
function tagOf(path: readonly string[]): string {
  return path.map((p) => p.replace(/[^A-Za-z0-9_-]+/g, "_")).join(".") || "value";
}

interface Recognised {
  signals: Record<string, Record<string, unknown>>;
  profile?: string;
  used: Set<string>;
  notes: string[];
}

const INTEGER_TYPES = new Set(["SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"]);

/** PackML and Machinery signals of an object, by their standard browse names. */
function recognise(o: DiscoveredObject, packmlNamespace: boolean): Recognised {
  const r: Recognised = { signals: {}, used: new Set(), notes: [] };
  const find = (...names: string[]) =>
    o.variables.find(
      (v) => v.readable && names.every((n, i) => v.path[v.path.length - names.length + i] === n),
    );
  const scalar = (v: DiscoveredVariable | undefined) =>
    v && (v.valueRank === null || v.valueRank === -1) && v.dataType?.builtIn !== "Structure" ? v : undefined;
  const use = (signal: string, v: DiscoveredVariable | undefined, extra: Record<string, unknown> = {}) => {
    if (!v) return false;
    r.signals[signal] = { nodeId: v.nodeId, ...(v.dataType ? { dataType: v.dataType.name } : {}), ...extra };
    r.used.add(v.nodeId);
    return true;
  };
  const count = (name: string) =>
    scalar(find(name)) && INTEGER_TYPES.has(find(name)?.dataType?.builtIn ?? "")
      ? find(name)
      : (scalar(find(name, "Count")) ?? scalar(find(name, "0", "Count")) ?? scalar(find(name, "AccCount")));
  if (use("state", scalar(find("StateCurrent")))) {
    r.profile = packmlNamespace ? "tmc" : "packtags";
    r.notes.push(
      `PackML recognised: state numbering ${r.profile} (${packmlNamespace ? "the server has the OPC 30060 namespace" : "PackTags names in a PLC"}) — check it`,
    );
    use("mode", scalar(find("UnitModeCurrent")));
    use("goodCounter", count("ProdProcessedCount"));
    use("rejectCounter", count("ProdDefectiveCount"));
    if (!use("stopReason", scalar(find("StopReason", "ID")))) use("stopReason", scalar(find("StopReason")));
    use("stopReasonText", scalar(find("StopReason", "Message")));
  } else if (use("running", scalar(find("MachineryItemState", "CurrentState")), { values: ["Executing"] })) {
    r.notes.push("OPC 40001 Machinery recognised: MachineryItemState Executing is running");
  }
  return r;
}

/**
 * The mapping skeleton as YAML, with comments: a valid bridge config (`threadline bridge --check`
 * accepts it) whose every machine sits on line `line1` until a person says otherwise.
 */
export function skeleton(d: Discovery, endpoint: SkeletonEndpoint, now = new Date()): string {
  const host = /^opc\.tcp:\/\/\[?([^\]/:]+)\]?(?::(\d+))?/.exec(endpoint.url);
  const endpointId = token(`${host?.[1] ?? "plc"}-${host?.[2] ?? "4840"}`);
  const packml = d.namespaces.includes(PACKML_NAMESPACE);
  const names = new Map<string, number>();
  const comments: { path: (string | number)[]; before?: string; after?: string }[] = [];
  const machines: Record<string, unknown>[] = [];
  for (const o of d.objects) {
    let name = token(o.browseName);
    const n = names.get(name) ?? 0;
    names.set(name, n + 1);
    if (n > 0) name = `${name}_${n + 1}`;
    const recognised = recognise(o, packml);
    const telemetry: Record<string, unknown>[] = [];
    const refused: string[] = [];
    const tags = new Set<string>();
    for (const v of o.variables) {
      if (recognised.used.has(v.nodeId)) continue;
      const problem = !v.readable
        ? "not readable"
        : typeProblem({ role: "telemetry" }, v.dataType, v.valueRank);
      if (problem) {
        refused.push(`${tagOf(v.path)} ${v.nodeId}: ${problem}`);
        continue;
      }
      let tag = tagOf(v.path);
      for (let k = 2; tags.has(tag); k++) tag = `${tagOf(v.path)}_${k}`;
      tags.add(tag);
      telemetry.push({ tag, nodeId: v.nodeId, ...(v.dataType ? { dataType: v.dataType.name } : {}) });
      const info = [
        v.dataType && v.dataType.name !== v.dataType.builtIn ? v.dataType.builtIn : null,
        v.valueRank !== null && v.valueRank >= 1
          ? `array${v.arrayDimensions ? `[${v.arrayDimensions.join("x")}]` : ""}`
          : null,
        v.dataType?.enumeration ? [...v.dataType.enumeration].map(([k2, t]) => `${k2}=${t}`).join(" ") : null,
        v.unit,
        v.range ? `range ${v.range[0]}..${v.range[1]}` : null,
      ].filter((x) => x);
      if (info.length > 0)
        comments.push({
          path: ["endpoints", 0, "machines", machines.length, "telemetry", telemetry.length - 1],
          after: ` ${info.join(", ")}`,
        });
    }
    const machine: Record<string, unknown> = { line: "line1", machine: name };
    if (recognised.profile) machine["profile"] = recognised.profile;
    machine["signals"] = recognised.signals;
    if (o.conditions.length > 0 && o.notifier) machine["alarms"] = { notifier: o.notifier };
    machine["telemetry"] = telemetry;
    const index = machines.length;
    machines.push(machine);
    const about = [
      `${o.path.join("/")}  ${o.nodeId}${o.typeDefinition ? `  (${o.typeDefinition})` : ""}`,
      ...recognised.notes,
      ...(o.conditions.length > 0 ? [`alarms: ${o.conditions.join(", ")}`] : []),
      ...refused.map((x) => `not mapped: ${x}`),
    ];
    comments.push({
      path: ["endpoints", 0, "machines", index],
      before: about.map((l) => ` ${l}`).join("\n"),
    });
  }
  const config = {
    connectorId: token(`machine-bridge-${endpointId}`),
    site: "site1",
    pkiFolder: "./pki",
    endpoints: [
      {
        id: endpointId,
        url: endpoint.url,
        ...(endpoint.security && endpoint.security.mode !== "None" ? { security: endpoint.security } : {}),
        ...(endpoint.user ? { user: endpoint.user } : {}),
        machines,
      },
    ],
  };
  const doc = new Document(config);
  doc.commentBefore = [
    ` Made by \`threadline bridge discover\` from ${endpoint.url} on ${now.toISOString()}.`,
    " A skeleton: every readable variable the bridge can carry is a telemetry tag (dataType: its type as",
    " found, checked at every start). Edit it: set each machine's line (and site), move what is a state,",
    " a running signal or a counter from telemetry to signals, delete what you do not need.",
    ...(d.truncated ? [" The browse stopped at --max-nodes: the server has more than listed here."] : []),
    ...(machines.length === 0 ? [" No variables found."] : []),
  ].join("\n");
  for (const c of comments) {
    const node = doc.getIn(c.path, true) as YAMLMap | undefined;
    if (!node) continue;
    if (c.before) node.commentBefore = c.before;
    if (c.after) {
      node.comment = c.after;
    }
  }
  // Telemetry entries and small maps on one line each: a long list reads as a table.
  const machinesNode = doc.getIn(["endpoints", 0, "machines"], true);
  if (isSeq(machinesNode))
    for (const m of machinesNode.items) {
      if (!isMap(m)) continue;
      for (const key of ["telemetry"]) {
        const seq = m.get(key, true);
        if (isSeq(seq)) for (const item of seq.items) if (isMap(item)) item.flow = true;
      }
      for (const key of ["alarms"]) {
        const map = m.get(key, true);
        if (isMap(map)) map.flow = true;
      }
      const signals = m.get("signals", true);
      if (isMap(signals)) {
        if (signals.items.length === 0) signals.flow = true;
        for (const pair of signals.items) if (isMap(pair.value)) pair.value.flow = true;
      }
    }
  const text = doc.toString({ lineWidth: 0 });
  return text.endsWith("\n") ? text : `${text}\n`;
}
