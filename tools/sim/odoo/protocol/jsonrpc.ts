/**
 * JSON-RPC 2.0 over HTTP as odoo/http.py's JsonRPCDispatcher serves it: `POST /jsonrpc` with
 * `params: {service, method, args}` (and the web-client routes in web.ts). Always HTTP 200; errors
 * in `error` with `code` 200 (16–18) or 0 (19), message "Odoo Server Error", `data` from
 * serialize_exception; `code` 100 "Odoo Session Expired" for SessionExpiredException, 404
 * "404: Not Found" for NotFound. A `null`/`None` result leaves `result` out of the envelope.
 * Unparsable JSON is answered 400 "Invalid JSON data" outside the envelope.
 */
import { asOdooError, HttpError, type OdooError, SessionExpired, typeError } from "../errors.js";
import type { Profile } from "../profiles.js";
import {
  type HandlerContext,
  type HandlerResult,
  jsonReply,
  type Reply,
  serializeException,
} from "./common.js";

export interface JsonRpcRequest {
  id: unknown;
  params: Record<string, unknown>;
}

/** Parses a JSON-RPC body; a Reply when Odoo would refuse it before dispatching. */
export function parseJsonRpc(body: string): JsonRpcRequest | Reply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {
      status: 400,
      headers: { "Content-Type": "text/html; charset=utf-8" },
      body: "Invalid JSON data",
    };
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    return {
      status: 400,
      headers: { "Content-Type": "text/html; charset=utf-8" },
      body: "Invalid JSON-RPC data",
    };
  const obj = parsed as Record<string, unknown>;
  const params = obj["params"];
  return {
    id: obj["id"] ?? null,
    params:
      params && typeof params === "object" && !Array.isArray(params)
        ? (params as Record<string, unknown>)
        : {},
  };
}

export function jsonRpcResult(id: unknown, result: unknown): Reply {
  const envelope: Record<string, unknown> = { jsonrpc: "2.0", id };
  if (result !== null && result !== undefined) envelope["result"] = result;
  return jsonReply(200, envelope);
}

export function jsonRpcError(profile: Profile, id: unknown, err: OdooError): Reply {
  let code = profile.jsonRpcErrorCode;
  let message = "Odoo Server Error";
  if (err instanceof HttpError && err.httpStatus === 404) {
    code = 404;
    message = "404: Not Found";
  } else if (err instanceof SessionExpired) {
    code = 100;
    message = "Odoo Session Expired";
  }
  return jsonReply(200, {
    jsonrpc: "2.0",
    id,
    error: { code, message, data: serializeException(profile, err) },
  });
}

/** POST /jsonrpc */
export async function handleJsonRpc(body: string, ctx: HandlerContext): Promise<HandlerResult> {
  const req = parseJsonRpc(body);
  if ("status" in req) return req;
  const { service, method, args } = req.params;
  const list = Array.isArray(args) ? args : [];
  const gate = await ctx.gate({
    protocol: "jsonrpc",
    service: String(service),
    method: service === "object" ? String(list[4] ?? method) : String(method),
    ...(service === "object" && typeof list[3] === "string" ? { model: list[3] } : {}),
  });
  if (gate.kind === "hang") return "hang";
  if (gate.kind === "reply") return gate.reply;
  if (gate.kind === "raise") return jsonRpcError(ctx.profile, req.id, gate.error);
  try {
    for (const [name, v] of [
      ["service", service],
      ["method", method],
      ["args", args],
    ] as const) {
      if (v === undefined) throw typeError(`jsonrpc() missing 1 required positional argument: '${name}'`);
    }
    const result = await ctx.service.dispatch("jsonrpc", String(service), String(method), list);
    return jsonRpcResult(req.id, result);
  } catch (err) {
    return jsonRpcError(ctx.profile, req.id, asOdooError(err));
  }
}
