/**
 * XML-RPC at `/xmlrpc/2/<service>` (integer fault codes) and the historical `/xmlrpc/<service>`
 * (string fault codes), as addons/base/controllers/rpc.py (16–18) and addons/rpc/controllers/xmlrpc.py
 * (19) serve them: HTTP 200 `text/xml`; faultCode 4 AccessError, 3 AccessDenied, 2 UserError and its
 * subclasses (faultString = message), 1 anything else (faultString = traceback). A method returning
 * None is committed, then fails to marshal: fault 1 "cannot marshal None unless allow_none is enabled".
 */
import { asOdooError, type OdooError } from "../errors.js";
import type { HandlerContext, HandlerResult, Reply } from "./common.js";
import { encodeFault, encodeResponse, parseMethodCall } from "./xmlrpc-codec.js";

const XML = { "Content-Type": "text/xml; charset=utf-8" };

function faultReply(err: OdooError, legacy: boolean): Reply {
  if (!legacy) return { status: 200, headers: XML, body: encodeFault(err.faultCode, err.faultString()) };
  let code: string;
  let text = "";
  switch (err.pyName) {
    case "odoo.exceptions.RedirectWarning":
      code = `warning -- Warning\n\n${err.message}`;
      break;
    case "odoo.exceptions.MissingError":
      code = `warning -- MissingError\n\n${err.message}`;
      break;
    case "odoo.exceptions.AccessError":
      code = `warning -- AccessError\n\n${err.message}`;
      break;
    case "odoo.exceptions.AccessDenied":
      code = "AccessDenied";
      text = err.message;
      break;
    default:
      if (err.isUserError) code = `warning -- UserError\n\n${err.message}`;
      else {
        code = err.message;
        text = err.traceback();
      }
  }
  return { status: 200, headers: XML, body: encodeFault(code, text) };
}

/** POST /xmlrpc/2/<service> (legacy=false) or /xmlrpc/<service> (legacy=true). */
export async function handleXmlRpc(
  service: string,
  body: string,
  legacy: boolean,
  ctx: HandlerContext,
): Promise<HandlerResult> {
  let call: { methodName: string; params: unknown[] };
  try {
    call = parseMethodCall(body);
  } catch (err) {
    return faultReply(asOdooError(err), legacy);
  }
  const { methodName, params } = call;
  const gate = await ctx.gate({
    protocol: "xmlrpc",
    service,
    method: service === "object" ? String(params[4] ?? methodName) : methodName,
    ...(service === "object" && typeof params[3] === "string" ? { model: params[3] } : {}),
  });
  if (gate.kind === "hang") return "hang";
  if (gate.kind === "reply") return gate.reply;
  if (gate.kind === "raise") return faultReply(gate.error, legacy);
  let result: unknown;
  try {
    result = await ctx.service.dispatch("xmlrpc", service, methodName, params);
  } catch (err) {
    return faultReply(asOdooError(err), legacy);
  }
  try {
    return { status: 200, headers: XML, body: encodeResponse(result) };
  } catch (err) {
    return faultReply(asOdooError(err), legacy);
  }
}
