/**
 * Odoo 19's JSON-2 API: `POST /json/2/<model>/<method>` with `Authorization: bearer <api-key>`,
 * optional `X-Odoo-Database`, a JSON object of named arguments plus `ids` and `context`; the answer is
 * the bare JSON result, errors a 4xx/5xx status with serialize_exception's object
 * (odoo/documentation content/developer/reference/external_api.rst; odoo/http.py Json2Dispatcher:
 * UserError family and SessionExpiredException → their http_status — UserError/ValidationError 422,
 * AccessError/AccessDenied 403, MissingError 404 —, werkzeug HTTPException → its code with
 * arguments [description, code], anything else 500).
 */
import { asOdooError, HttpError, type OdooError } from "../errors.js";
import {
  type HandlerContext,
  type HandlerResult,
  jsonReply,
  type Reply,
  serializeException,
} from "./common.js";

export function json2Error(ctx: HandlerContext, err: OdooError, headers: Record<string, string> = {}): Reply {
  return jsonReply(err.httpStatus, serializeException(ctx.profile, err), headers);
}

const BEARER = /^bearer\s+(.+)$/i;

export async function handleJson2(
  path: string,
  method: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  ctx: HandlerContext,
): Promise<HandlerResult> {
  const m = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m || method !== "POST")
    return json2Error(ctx, new HttpError(404, "NotFound", "Did you mean POST /json/2/<model>/<method>?"));
  const model = decodeURIComponent(m[1] as string);
  const modelMethod = decodeURIComponent(m[2] as string);
  const gate = await ctx.gate({ protocol: "json2", service: "object", method: modelMethod, model });
  if (gate.kind === "hang") return "hang";
  if (gate.kind === "reply") return gate.reply;
  if (gate.kind === "raise") return json2Error(ctx, gate.error);

  const dbHeader = headers["x-odoo-database"];
  if (typeof dbHeader === "string" && dbHeader !== ctx.service.db.name)
    return json2Error(ctx, new HttpError(404, "NotFound", `database ${JSON.stringify(dbHeader)} not found`));
  const auth = headers["authorization"];
  const token = typeof auth === "string" ? BEARER.exec(auth)?.[1]?.trim() : undefined;
  const user = token ? ctx.service.userForApiKey(token) : undefined;
  if (!user) {
    ctx.service.log({
      protocol: "json2",
      service: "object",
      method: modelMethod,
      model,
      ok: false,
      error: "werkzeug.exceptions.Unauthorized",
    });
    return json2Error(ctx, new HttpError(401, "Unauthorized", "Invalid apikey"), {
      "WWW-Authenticate": "Bearer",
    });
  }
  let params: Record<string, unknown> = {};
  if (body.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return json2Error(
        ctx,
        new HttpError(400, "BadRequest", `could not parse the body as json: ${(err as Error).message}`),
      );
    }
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      params = parsed as Record<string, unknown>;
  }
  try {
    const result = await ctx.service.callJson2(user.id, model, modelMethod, params);
    return jsonReply(200, result === undefined ? null : result);
  } catch (err) {
    return json2Error(ctx, asOdooError(err));
  }
}
