/**
 * The web-client routes some integrations use instead of /jsonrpc: `POST /web/session/authenticate`
 * (a `session_id` cookie), `POST /web/dataset/call_kw[/<model>.<method>]` with `{model, method, args,
 * kwargs}`, `/web/session/destroy`, `/web/webclient/version_info`, `/web/database/list`, and on 19
 * `GET /web/version`. A missing or expired session answers JSON-RPC code 100 "Odoo Session Expired".
 */
import { randomBytes } from "node:crypto";
import { AccessDenied, asOdooError, SessionExpired } from "../errors.js";
import { hasGroup } from "../models/access.js";
import { type HandlerContext, type HandlerResult, jsonReply } from "./common.js";
import { jsonRpcError, jsonRpcResult, parseJsonRpc } from "./jsonrpc.js";

export class WebSessions {
  private readonly sessions = new Map<string, number>();

  open(uid: number): string {
    const sid = randomBytes(20).toString("hex");
    this.sessions.set(sid, uid);
    return sid;
  }

  uid(sid: string | undefined): number | undefined {
    return sid ? this.sessions.get(sid) : undefined;
  }

  close(sid: string | undefined): void {
    if (sid) this.sessions.delete(sid);
  }

  /** Expires every session (what a `session_expired` fault does). */
  expireAll(): void {
    this.sessions.clear();
  }
}

function cookie(header: string | string[] | undefined, name: string): string | undefined {
  const raw = Array.isArray(header) ? header.join("; ") : (header ?? "");
  for (const part of raw.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export async function handleWeb(
  path: string,
  method: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  sessions: WebSessions,
  ctx: HandlerContext,
): Promise<HandlerResult | undefined> {
  const p = ctx.profile;
  if (path === "/web/version" && p.version >= 19 && method === "GET")
    return jsonReply(200, { version_info: [...p.serverVersionInfo], version: p.serverVersion });
  if (method !== "POST") return undefined;
  const known = [
    "/web/session/authenticate",
    "/web/session/destroy",
    "/web/webclient/version_info",
    "/web/database/list",
  ];
  if (!known.includes(path) && !path.startsWith("/web/dataset/call_kw")) return undefined;
  const req = parseJsonRpc(body);
  if ("status" in req) return req;
  const sid = cookie(headers["cookie"], "session_id");
  const params = req.params;
  if (path === "/web/webclient/version_info") return jsonRpcResult(req.id, ctx.service.version());
  if (path === "/web/database/list") return jsonRpcResult(req.id, [ctx.service.db.name]);
  if (path === "/web/session/destroy") {
    sessions.close(sid);
    return jsonRpcResult(req.id, null);
  }
  if (path === "/web/session/authenticate") {
    const gate = await ctx.gate({ protocol: "web", service: "common", method: "authenticate" });
    if (gate.kind === "hang") return "hang";
    if (gate.kind === "reply") return gate.reply;
    if (gate.kind === "raise") return jsonRpcError(p, req.id, gate.error);
    try {
      const uid = ctx.service.authenticate(params["db"], params["login"], params["password"]);
      if (uid === false) throw new AccessDenied();
      const newSid = sessions.open(uid);
      const user = ctx.service.db.users.get(uid);
      const reply = jsonRpcResult(req.id, {
        uid,
        // ir_http.py session_info: is_system = group_system, is_admin = group_erp_manager
        is_system: hasGroup(ctx.service.db, uid, "base.group_system"),
        is_admin: hasGroup(ctx.service.db, uid, "base.group_erp_manager"),
        db: ctx.service.db.name,
        username: user?.login,
        name: user?.name,
        user_context: { lang: "en_US", tz: "UTC", uid },
        server_version: p.serverVersion,
        server_version_info: [...p.serverVersionInfo],
      });
      reply.headers["Set-Cookie"] = `session_id=${newSid}; HttpOnly; Path=/; SameSite=Lax`;
      return reply;
    } catch (err) {
      return jsonRpcError(p, req.id, asOdooError(err));
    }
  }
  // /web/dataset/call_kw
  const model = String(params["model"] ?? "");
  const modelMethod = String(params["method"] ?? "");
  const gate = await ctx.gate({ protocol: "web", service: "object", method: modelMethod, model });
  if (gate.kind === "hang") return "hang";
  if (gate.kind === "reply") return gate.reply;
  if (gate.kind === "raise") {
    if (gate.error instanceof SessionExpired) sessions.close(sid);
    return jsonRpcError(p, req.id, gate.error);
  }
  const uid = sessions.uid(sid);
  if (uid === undefined) return jsonRpcError(p, req.id, new SessionExpired());
  try {
    const args = Array.isArray(params["args"]) ? (params["args"] as unknown[]) : [];
    const kwargs =
      params["kwargs"] && typeof params["kwargs"] === "object"
        ? (params["kwargs"] as Record<string, unknown>)
        : {};
    const result = await ctx.service.call({ protocol: "web", uid, model, method: modelMethod, args, kwargs });
    return jsonRpcResult(req.id, result);
  } catch (err) {
    return jsonRpcError(p, req.id, asOdooError(err));
  }
}
