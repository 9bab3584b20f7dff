/**
 * A raw, retry-free HTTP client of the simulator's wire protocols, for the simulator's own tests and
 * for poking it by hand. It returns what came over the wire (status, envelope) and hides nothing —
 * it is not the Odoo connector.
 */
import { encodeMethodCall, parseMethodResponse, type XmlRpcResponse } from "./protocol/xmlrpc-codec.js";

export interface JsonRpcEnvelope {
  jsonrpc: "2.0";
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data: Record<string, unknown> };
}

export class RawOdooClient {
  private nextId = 1;

  constructor(readonly url: string) {}

  async jsonrpc(
    service: string,
    method: string,
    args: unknown[],
    path = "/jsonrpc",
  ): Promise<{ status: number; body: JsonRpcEnvelope }> {
    const res = await fetch(`${this.url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        method: "call",
        params: { service, method, args },
        id: this.nextId++,
      }),
    });
    return { status: res.status, body: (await res.json()) as JsonRpcEnvelope };
  }

  /** object.execute_kw over JSON-RPC; returns the envelope. */
  async executeKw(
    auth: { db: string; uid: number; password: string },
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<JsonRpcEnvelope> {
    return (
      await this.jsonrpc("object", "execute_kw", [
        auth.db,
        auth.uid,
        auth.password,
        model,
        method,
        args,
        kwargs,
      ])
    ).body;
  }

  /** Like executeKw but returns the result or throws with the error envelope attached. */
  async call<T = unknown>(
    auth: { db: string; uid: number; password: string },
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<T> {
    const env = await this.executeKw(auth, model, method, args, kwargs);
    if (env.error)
      throw Object.assign(new Error(`${env.error.data["name"]}: ${env.error.data["message"]}`), {
        envelope: env,
      });
    return env.result as T;
  }

  async xmlrpc(
    path: string,
    method: string,
    params: unknown[],
  ): Promise<{ status: number; text: string; parsed: XmlRpcResponse }> {
    const res = await fetch(`${this.url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "text/xml" },
      body: encodeMethodCall(method, params),
    });
    const text = await res.text();
    return { status: res.status, text, parsed: parseMethodResponse(text) };
  }

  async json2(
    model: string,
    method: string,
    body: Record<string, unknown>,
    opts: { apiKey?: string; db?: string } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (opts.apiKey) headers["Authorization"] = `bearer ${opts.apiKey}`;
    if (opts.db) headers["X-Odoo-Database"] = opts.db;
    const res = await fetch(`${this.url}/json/2/${model}/${method}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }
}
