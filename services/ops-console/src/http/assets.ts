/**
 * The console's page: `index.html` and the bundle the project's build made (tools/build/console-web.ts), read once
 * at start, gzip-compressed once, served from memory. The bundle's names carry their content hash, so
 * they are cached for a year and a new build is fetched at once; index.html is revalidated every time.
 * Nothing is loaded from another site: the console works on a plant network without internet.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

interface Asset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly immutable: boolean;
}

/** The built page's folder: dist/services/ops-console/web next to this file's dist/…/src/http. */
export const WEB_DIR = new URL("../../web/", import.meta.url).pathname;

export function loadAssets(dir: string = WEB_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, "index.html")))
    throw new Error(`the console's page is not built (${dir}index.html is missing): run make build`);
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    assets.set(`/${name}`, {
      body,
      gzip: gzipSync(body, { level: 9 }),
      type,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`,
      immutable: /\.[0-9a-f]{8,}\./.test(name) || /-[A-Z0-9]{8}\./.test(name),
    });
  }
  return assets;
}

/** Serves the page at `/` and the bundle's files at `/assets/<name>`. */
export function registerAssets(app: FastifyInstance, assets: Map<string, Asset>): void {
  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply.header("content-type", asset.type).header("etag", asset.etag).header("vary", "accept-encoding");
    reply.header("cache-control", asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(request.headers["accept-encoding"] ?? ""))
      return reply.header("content-encoding", "gzip").send(asset.gzip);
    return reply.send(asset.body);
  };
  const index = assets.get("/index.html")!;
  app.get("/", async (request, reply) => send(request, reply, index));
  app.get<{ Params: { name: string } }>("/assets/:name", async (request, reply) => {
    const asset = request.params.name === "index.html" ? undefined : assets.get(`/${request.params.name}`);
    if (!asset)
      return reply
        .code(404)
        .send({ error: { code: "CONSOLE_NOT_FOUND", message: `no such file: ${request.params.name}` } });
    return send(request, reply, asset);
  });
}
