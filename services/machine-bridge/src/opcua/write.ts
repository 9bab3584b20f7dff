/**
 * The bridge's only OPC UA writes: the order and lot of a machine, by a method call
 * (`Call(object, method, [order, lot])`, String arguments, `""` = none) or by writing two String
 * nodes — and the read-back that confirms them. Each request is bounded in time; nothing here
 * decides whether to retry (src/commands.ts does).
 */
import {
  AttributeIds,
  type ClientSession,
  DataType,
  type StatusCode,
  StatusCodes,
  Variant,
} from "node-opcua";
import type { SetOrderCommand } from "../config.js";

/** A request that got no answer within its time. */
export class OpcUaTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = "OpcUaTimeoutError";
  }
}

function bounded<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OpcUaTimeoutError(what, ms)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Sends the order and lot as the mapping declares; the machine's answer (Good or the first bad status). */
export async function sendOrder(
  session: ClientSession,
  spec: Pick<SetOrderCommand, "method" | "write">,
  order: string | null,
  lot: string | null,
  timeoutMs: number,
): Promise<StatusCode> {
  const text = (v: string | null) => new Variant({ dataType: DataType.String, value: v ?? "" });
  if (spec.method) {
    const result = await bounded(
      `call ${spec.method.method}`,
      timeoutMs,
      session.call({
        objectId: spec.method.object,
        methodId: spec.method.method,
        inputArguments: [text(order), text(lot)],
      }),
    );
    const badArgument = result.inputArgumentResults?.find((s) => s.isNotGood());
    return result.statusCode.isNotGood() ? result.statusCode : (badArgument ?? StatusCodes.Good);
  }
  if (!spec.write) throw new Error("setOrder declares neither a method nor writes");
  const statuses = await bounded(
    `write ${spec.write.order}, ${spec.write.lot}`,
    timeoutMs,
    session.write([
      { nodeId: spec.write.order, attributeId: AttributeIds.Value, value: { value: text(order) } },
      { nodeId: spec.write.lot, attributeId: AttributeIds.Value, value: { value: text(lot) } },
    ]),
  );
  return statuses.find((s) => s.isNotGood()) ?? StatusCodes.Good;
}

/** What a String node holds (`""` and null read as null), or its bad status's name. */
export type ReadBack = { readonly value: string | null } | { readonly status: string };

/** Reads the given String nodes once. */
export async function readTexts(
  session: ClientSession,
  nodeIds: readonly string[],
  timeoutMs: number,
): Promise<ReadBack[]> {
  const values = await bounded(
    `read ${nodeIds.join(", ")}`,
    timeoutMs,
    session.read(nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value }))),
  );
  return values.map((dv) => {
    if (dv.statusCode.isBad()) return { status: dv.statusCode.name || dv.statusCode.toString() };
    const v = dv.value?.value;
    return { value: v === null || v === undefined || v === "" ? null : String(v) };
  });
}
