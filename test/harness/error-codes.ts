/**
 * The error codes written in the sources, found with the TypeScript parser (a code quoted in a comment
 * or in a message is not one), so test/contracts/error-catalog.test.ts can check each against the
 * catalogue (contracts/src/error-catalog.ts). A code is found where:
 * - it is a string value of a code table: a `const` whose name ends in `ErrorCode` or `_CODES`
 *   (`OutboundErrorCode = { OrderNotFound: "CONNECTOR_ORDER_NOT_FOUND" }`);
 * - it is the literal first argument of `new PermanentError(`, `new RetryableError(` or
 *   `new ThreadlineError(` (either branch of a `? :` too);
 * - it is the literal first argument of `super(` in a class that `extends ThreadlineError`;
 * - it is the literal value of a class field named `code` (`readonly code = "…"`).
 */
import ts from "typescript";
import type { SourceFile } from "./architecture.js";

/** One code written in a source file. */
export interface CodeSite {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly code: string;
  /** How it was found, e.g. `OutboundErrorCode`, `new PermanentError`, `super in FooError`. */
  readonly where: string;
}

const CODE_TABLE_NAME = /(ErrorCode|_CODES)$/;
const CODE_CONSTRUCTORS = new Set(["PermanentError", "RetryableError", "ThreadlineError"]);

/** `x as const`, `x satisfies T`, `(x)`: the expression inside. */
function unwrap(node: ts.Expression): ts.Expression {
  let e = node;
  while (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e))
    e = e.expression;
  return e;
}

/** The string literals an expression can evaluate to without running anything (both `? :` branches). */
function literalsOf(node: ts.Expression): ts.StringLiteralLike[] {
  const e = unwrap(node);
  if (ts.isStringLiteralLike(e)) return [e];
  if (ts.isConditionalExpression(e)) return [...literalsOf(e.whenTrue), ...literalsOf(e.whenFalse)];
  return [];
}

function extendsThreadlineError(node: ts.ClassLikeDeclaration): boolean {
  return (node.heritageClauses ?? []).some(
    (h) =>
      h.token === ts.SyntaxKind.ExtendsKeyword &&
      h.types.some((t) => ts.isIdentifier(t.expression) && t.expression.text === "ThreadlineError"),
  );
}

/** Every error code written in the file, in source order. */
export function codeSitesOf(file: SourceFile): CodeSite[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sites: CodeSite[] = [];
  const record = (literal: ts.StringLiteralLike, where: string) => {
    const line = source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1;
    sites.push({ file: file.path, line, code: literal.text, where });
  };
  const classes: ts.ClassLikeDeclaration[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      CODE_TABLE_NAME.test(node.name.text) &&
      node.initializer
    ) {
      const table = unwrap(node.initializer);
      if (ts.isObjectLiteralExpression(table))
        for (const p of table.properties)
          if (ts.isPropertyAssignment(p))
            for (const l of literalsOf(p.initializer)) record(l, node.name.text);
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      CODE_CONSTRUCTORS.has(node.expression.text) &&
      node.arguments?.[0]
    ) {
      for (const l of literalsOf(node.arguments[0])) record(l, `new ${node.expression.text}`);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.SuperKeyword &&
      node.arguments[0] &&
      classes.length > 0 &&
      extendsThreadlineError(classes[classes.length - 1] as ts.ClassLikeDeclaration)
    ) {
      const name = classes[classes.length - 1]?.name?.text ?? "(anonymous class)";
      for (const l of literalsOf(node.arguments[0])) record(l, `super in ${name}`);
    } else if (
      ts.isPropertyDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === "code" &&
      node.initializer
    ) {
      for (const l of literalsOf(node.initializer)) record(l, "class field code");
    }
    const isClass = ts.isClassDeclaration(node) || ts.isClassExpression(node);
    if (isClass) classes.push(node);
    ts.forEachChild(node, visit);
    if (isClass) classes.pop();
  };
  visit(source);
  return sites;
}

/** The codes written in the files that the catalogue does not list, in file and line order. */
export function uncataloguedCodes(
  files: readonly SourceFile[],
  isCatalogued: (code: string) => boolean,
): CodeSite[] {
  return files.flatMap(codeSitesOf).filter((site) => !isCatalogued(site.code));
}

/** Every string literal's text in the files (to tell whether a catalogued code is still written anywhere). */
export function stringLiteralsOf(files: readonly SourceFile[]): Set<string> {
  const texts = new Set<string>();
  for (const file of files) {
    const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const visit = (node: ts.Node) => {
      if (ts.isStringLiteralLike(node)) texts.add(node.text);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return texts;
}

/** The codes of a rendered catalogue page: the first cell of every table row, without its backticks. */
export function documentedCodes(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}
