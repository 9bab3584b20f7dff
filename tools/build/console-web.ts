/**
 * Builds the ops console's page (services/ops-console/web) into dist/services/ops-console/web: the
 * TypeScript bundled and minified by esbuild into one `app-<hash>.js`, the stylesheet into
 * `app-<hash>.css`, and `index.html` naming both. The content hash in the names lets the server cache
 * them for a year. The page's types are checked by `tsc -p services/ops-console/web` (make build).
 *
 *   node dist/tools/build/console-web.js      # prints each file and its size
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";

const SOURCE = join(PACKAGE_ROOT, "services/ops-console/web");
export const CONSOLE_WEB_OUT = join(PACKAGE_ROOT, "dist/services/ops-console/web");

export async function buildConsoleWeb(out: string = CONSOLE_WEB_OUT): Promise<Record<string, number>> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await build({
    entryPoints: { app: join(SOURCE, "src/main.ts"), "app-style": join(SOURCE, "styles.css") },
    outdir: out,
    entryNames: "[name]-[hash]",
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome109", "safari16", "firefox115"],
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((f) => f.endsWith(".js"));
  const css = outputs.find((f) => f.endsWith(".css"));
  if (!js || !css) throw new Error(`esbuild made no script or stylesheet: ${outputs.join(", ")}`);
  const html = readFileSync(join(SOURCE, "index.html"), "utf8").replace("{{js}}", js).replace("{{css}}", css);
  writeFileSync(join(out, "index.html"), html);
  return Object.fromEntries(readdirSync(out).map((f) => [f, statSync(join(out, f)).size]));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const sizes = await buildConsoleWeb();
  for (const [f, n] of Object.entries(sizes)) process.stdout.write(`${f}\t${n} B\n`);
}
