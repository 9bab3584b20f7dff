/**
 * What the protocol handlers share: the reply shape, the gate that applies injected faults before a
 * call runs, and `serialize_exception` (the error object JSON-RPC puts in `error.data` and JSON-2
 * sends as the body).
 */
import type { OdooError } from "../errors.js";
import type { CallKey } from "../faults.js";
import type { Profile } from "../profiles.js";
import type { OdooService } from "../service.js";

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What the fault gate lets happen to a call. */
export type Gate =
  | { kind: "proceed" }
  | { kind: "reply"; reply: Reply }
  | { kind: "hang" }
  | { kind: "raise"; error: OdooError };

export interface HandlerContext {
  service: OdooService;
  profile: Profile;
  /** Applies injected faults (latency, proxy pages, hangs, raised errors) to one call. */
  gate(call: CallKey): Promise<Gate>;
}

export type HandlerResult = Reply | "hang";

export const JSON_TYPE = "application/json; charset=utf-8";

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { "Content-Type": JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** `odoo.http.serialize_exception` (member order of the version). */
export function serializeException(profile: Profile, err: OdooError): Record<string, unknown> {
  const name = err.pyName;
  const message = err.message;
  const args = err.pyArgs;
  const debug = err.traceback();
  return profile.debugLast
    ? { name, message, arguments: args, context: {}, debug }
    : { name, debug, message, arguments: args, context: {} };
}
