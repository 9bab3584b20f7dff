/**
 * The import rules of the layers, as a checker over source text (test/architecture.test.ts runs it on
 * the repository and on fake files).
 *
 * Layers, lowest first: contracts <- streams <- services <- tools (an arrow reads "may be imported by").
 * - contracts/ and streams/ each have one public entry point, `<layer>/src/index.ts`: code outside
 *   `<layer>/src/` imports that file and no other file of `<layer>/src/` (streams/examples/ is such code:
 *   it uses streams as a service would).
 * - No layer imports a higher one.
 * - No service imports another service: what two services share belongs in streams/ or contracts/.
 *
 * Imports are found with the TypeScript parser, not a regular expression, so an import quoted in a
 * comment or a string is not one: static `import … from`, `export … from`, `import("…")` with a string
 * literal (a dynamic import, or a type written as `import("…").T`). Only relative specifiers can reach
 * another layer; packages (`@nats-io/jetstream`, `node:fs`) are not checked.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";
import ts from "typescript";

/** The layers, lowest first: each may import those before it and itself. */
export const LAYERS = ["contracts", "streams", "services", "tools"] as const;
export type Layer = (typeof LAYERS)[number];

/** The layers with a single public entry point, and that entry point. */
export const ENTRY_POINTS = {
  contracts: "contracts/src/index.ts",
  streams: "streams/src/index.ts",
} as const;

/** A TypeScript file: its path from the repository root (with `/`) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** One import of a file: where it is, what it says and, for a relative specifier, the file it names. */
export interface ImportSite {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly specifier: string;
  /** The imported file from the repository root, as a `.ts` path; undefined for a package. */
  readonly target: string | undefined;
}

export type Rule = "contracts-entry-point" | "streams-entry-point" | "upward-import" | "service-to-service";

export interface Violation extends ImportSite {
  readonly rule: Rule;
  readonly target: string;
  /** `file:line imports "specifier"` and what to do instead. */
  readonly message: string;
}

/** The layer a path belongs to (its first folder), if any. */
export function layerOf(path: string): Layer | undefined {
  const top = path.split("/")[0];
  return LAYERS.find((layer) => layer === top);
}

/** Every import of a file, in source order. */
export function importsOf(file: SourceFile): ImportSite[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sites: ImportSite[] = [];
  const record = (literal: ts.StringLiteral) => {
    const line = source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1;
    sites.push({ file: file.path, line, specifier: literal.text, target: resolve(file.path, literal.text) });
  };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) record(node.moduleSpecifier);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      record(node.arguments[0]);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      record(node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

/** The file a relative specifier names, from the repository root, with the `.ts` of its source. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const path = posix.normalize(posix.join(posix.dirname(from), specifier));
  return path.replace(/\.(js|mjs|ts|mts)$/, "") + ".ts";
}

/** What is wrong with one import, if anything. Rules are checked in the order of {@link Rule}. */
function violationOf(site: ImportSite): Omit<Violation, keyof ImportSite> | undefined {
  const target = site.target;
  if (target === undefined) return undefined;
  const from = layerOf(site.file);
  const to = layerOf(target);
  if (from === undefined || to === undefined) return undefined;
  const where = `${site.file}:${site.line} imports "${site.specifier}" (${target})`;

  for (const [layer, entry] of Object.entries(ENTRY_POINTS) as [keyof typeof ENTRY_POINTS, string][]) {
    const inside = `${layer}/src/`;
    if (target.startsWith(inside) && target !== entry && !site.file.startsWith(inside)) {
      return {
        rule: `${layer}-entry-point`,
        message: `${where}: outside ${inside}, import ${entry} (export the name there if it is missing)`,
      };
    }
  }
  if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) {
    return {
      rule: "upward-import",
      message: `${where}: ${from}/ may not import ${to}/ (layers: ${LAYERS.join(" <- ")})`,
    };
  }
  const service = (path: string) => path.split("/")[1];
  if (from === "services" && to === "services" && service(site.file) !== service(target)) {
    return {
      rule: "service-to-service",
      message: `${where}: a service may not import another service; move what they share to streams/ or contracts/`,
    };
  }
  return undefined;
}

/** Every import of the files that breaks a rule, in file and line order. */
export function checkArchitecture(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    for (const site of importsOf(file)) {
      const found = violationOf(site);
      if (found) violations.push({ ...site, target: site.target!, ...found });
    }
  }
  return violations;
}

/** The TypeScript sources of every layer under `root` (never dist/, node_modules/ or test/). */
export function readLayerSources(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "dist") walk(path);
      } else if (entry.isFile() && entry.name.endsWith(".ts")) {
        files.push({ path: relative(root, path).split(sep).join("/"), text: readFileSync(path, "utf8") });
      }
    }
  };
  for (const layer of LAYERS) walk(join(root, layer));
  return files;
}

/** The lines of a file's `export * from` (and `export * as x from`): a surface nobody listed by name. */
export function wildcardExportLines(file: SourceFile): number[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  return source.statements
    .filter((s) => ts.isExportDeclaration(s) && (!s.exportClause || ts.isNamespaceExport(s.exportClause)))
    .map((s) => source.getLineAndCharacterOfPosition(s.getStart(source)).line + 1);
}
