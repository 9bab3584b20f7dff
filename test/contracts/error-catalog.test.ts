/**
 * Error catalogue - one typed catalogue of codes, as a specification:
 * - every code written in the sources (code tables, `new PermanentError("…")`, `super("…")` of a
 *   ThreadlineError, …) is catalogued, and every catalogued code is still written somewhere;
 * - docs/errors.md is exactly what the catalogue renders, so a missing or stale code fails here;
 * - `ODOO_` always means Odoo said so, `CONNECTOR_` that the Odoo connector did;
 * - `threadline errors <code>` answers from the same catalogue.
 * The checkers are shown to fail on fake sources and a fake page, so a pass means something.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  describeErrorCode,
  ERROR_AREAS,
  ERROR_CATALOG,
  type ErrorCatalogEntry,
  isCatalogedErrorCode,
  ODOO_PATTERN,
  odooExceptionCode,
  PACKAGE_ROOT,
} from "../../contracts/src/index.js";
import { odooErrorCode } from "../../services/odoo-connector/src/odoo/errors.js";
import { explainErrorCode, renderErrorCatalog } from "../../tools/cli/errors.js";
import { serviceNames } from "../../tools/scaffold/names.js";
import { serviceFiles } from "../../tools/scaffold/templates.js";
import { readLayerSources, type SourceFile } from "../harness/architecture.js";
import { threadline } from "../harness/cli.js";
import { codeSitesOf, documentedCodes, stringLiteralsOf, uncataloguedCodes } from "../harness/error-codes.js";

const CATALOG_FILE = "contracts/src/error-catalog.ts";
const entries = Object.entries(ERROR_CATALOG) as [string, ErrorCatalogEntry][];
const isDocumented = (code: string) => isCatalogedErrorCode(code);

describe("error catalogue - the sources use catalogued codes only", () => {
  // What `threadline new service` writes raises codes too: the generated service's sources count.
  const sources = [
    ...readLayerSources(PACKAGE_ROOT),
    ...serviceFiles(serviceNames("generated-example")).filter((f) => f.path.endsWith(".ts")),
  ];

  it("the scan finds the codes of every layer (code tables, constructors, super calls)", () => {
    const sites = sources.flatMap(codeSitesOf);
    for (const layer of ["contracts/", "streams/", "services/", "tools/"])
      assert.ok(
        sites.some((s) => s.file.startsWith(layer)),
        `no code found in ${layer}`,
      );
    const found = new Set(sites.map((s) => s.code));
    for (const code of [
      "SCHEMA_INVALID",
      "MAX_DELIVERIES",
      "CONNECTOR_ORDER_NOT_FOUND",
      "NATS_SERVER_NOT_FOUND",
      "USAGE",
    ])
      assert.ok(found.has(code), `the scan does not see ${code}`);
    assert.ok(sites.length >= 80, `only ${sites.length} code sites found`);
  });

  it("every code written in contracts/, streams/, services/ and tools/ is in the catalogue", () => {
    const missing = uncataloguedCodes(sources, isDocumented);
    assert.deepEqual(
      missing.map((s) => `${s.file}:${s.line} ${s.code} (${s.where})`),
      [],
      "add these codes to contracts/src/error-catalog.ts, then run `threadline errors --markdown > docs/errors.md`",
    );
  });

  it("every catalogued code is still raised somewhere (Odoo's own codes are derived from its exception names)", () => {
    const written = stringLiteralsOf(sources.filter((f) => f.path !== CATALOG_FILE));
    const unused = entries
      .filter(([code, e]) => e.area !== "odoo" && !written.has(code))
      .map(([code]) => code);
    assert.deepEqual(unused, [], "nothing raises these codes: delete their entries (codes are never reused)");
  });
});

describe("error catalogue - docs/errors.md", () => {
  const page = readFileSync(join(PACKAGE_ROOT, "docs/errors.md"), "utf8");

  it("docs/errors.md is the catalogue as rendered (regenerate: threadline errors --markdown > docs/errors.md)", () => {
    assert.equal(page, renderErrorCatalog());
  });

  it("the page has one row per catalogued code, the Odoo pattern first, and a table per area", () => {
    const codes = documentedCodes(page);
    assert.equal(codes[0], ODOO_PATTERN.code);
    assert.equal(codes.length, new Set(codes).size, "a code has two rows");
    assert.deepEqual(new Set(codes), new Set([ODOO_PATTERN.code, ...Object.keys(ERROR_CATALOG)]));
    for (const area of new Set(entries.map(([, e]) => e.area)))
      assert.ok(
        page.includes(`
## ${ERROR_AREAS[area]}
`),
        `no table for ${area}`,
      );
    assert.match(page, /ODOO_<NAME>.*Odoo said so/s);
  });
});

describe("error catalogue - the entries", () => {
  it("ODOO_ codes are Odoo's own and CONNECTOR_ codes the connector's: the prefix names the area", () => {
    for (const [code, e] of entries) {
      assert.equal(code.startsWith("ODOO_"), e.area === "odoo", `${code} is in area ${e.area}`);
      assert.equal(
        code.startsWith("CONNECTOR_"),
        e.area === "odoo-connector",
        `${code} is in area ${e.area}`,
      );
      assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${code} is not UPPER_SNAKE_CASE`);
    }
  });

  it("every entry says what happened and what to do, one sentence each", () => {
    for (const [code, e] of [...entries, [ODOO_PATTERN.code, ODOO_PATTERN] as const]) {
      for (const [field, text] of [
        ["meaning", e.meaning],
        ["action", e.action],
      ] as const) {
        assert.ok(text.length >= 20, `${code}.${field} is too short to help`);
        assert.match(text, /[.)]$/, `${code}.${field} is not a sentence`);
        assert.doesNotMatch(text, /\.\s+[A-Z]/, `${code}.${field} is more than one sentence`);
      }
    }
  });

  it("Odoo's exceptions are named after their Python class; the connector's own failures are CONNECTOR_", () => {
    assert.equal(odooExceptionCode("odoo.exceptions.ValidationError"), "ODOO_VALIDATION_ERROR");
    assert.equal(odooExceptionCode("odoo.exceptions.AccessDenied"), "ODOO_ACCESS_DENIED");
    assert.equal(odooExceptionCode("psycopg2.errors.SerializationFailure"), "ODOO_SERIALIZATION_FAILURE");
    assert.equal(odooExceptionCode("http.404"), "ODOO_HTTP_404");
    assert.equal(odooExceptionCode("odoo.addons.custom.FancyThing"), "ODOO_FANCY_THING");
    assert.equal(odooErrorCode("odoo.exceptions.UserError"), "ODOO_USER_ERROR");
    assert.equal(odooErrorCode("circuit-open"), "CONNECTOR_CIRCUIT_OPEN");
    assert.equal(odooErrorCode("timeout"), "CONNECTOR_ODOO_TIMEOUT");
    assert.equal(odooErrorCode("connection-refused"), "CONNECTOR_CONNECTION_REFUSED");
  });
});

describe("error catalogue - threadline errors", () => {
  it("a code's meaning and action; lower case is accepted; an unlisted ODOO_ code gets the pattern", () => {
    const text = explainErrorCode("connector_order_not_found");
    assert.ok(text);
    assert.match(text, /^CONNECTOR_ORDER_NOT_FOUND\n/);
    assert.ok(text.includes(ERROR_CATALOG.CONNECTOR_ORDER_NOT_FOUND.meaning));
    assert.ok(text.includes(ERROR_CATALOG.CONNECTOR_ORDER_NOT_FOUND.action));
    assert.equal(describeErrorCode("ODOO_FANCY_THING"), ODOO_PATTERN);
    assert.match(explainErrorCode("ODOO_FANCY_THING") ?? "", /follows ODOO_<NAME>/);
    assert.equal(explainErrorCode("NO_SUCH_CODE"), undefined);
  });

  it("the command prints a code (exit 0), refuses an unknown one (exit 2), and prints the page", async () => {
    const one = await threadline(["errors", "MAX_DELIVERIES"]);
    assert.equal(one.code, 0);
    assert.ok(one.stdout.includes(ERROR_CATALOG.MAX_DELIVERIES.action));
    const unknown = await threadline(["errors", "NO_SUCH_CODE"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown error code NO_SUCH_CODE/);
    const page = await threadline(["errors", "--markdown"]);
    assert.equal(page.code, 0);
    assert.equal(page.stdout, renderErrorCatalog());
  });
});

describe("error catalogue - the checkers find what is wrong", () => {
  const fake: SourceFile[] = [
    {
      path: "services/a/src/errors.ts",
      text: [
        "// A comment naming NOT_A_CODE_HERE is not a code.",
        'export const AErrorCode = { Known: "CONFIG_INVALID", Made: "A_MADE_UP" } as const satisfies Record<string, string>;',
        'const CLIENT_CODES = { x: "A_TABLE_CODE" };',
        'throw new PermanentError("A_PERMANENT", "message with SOME_WORDS");',
        'throw new RetryableError(busy ? "MAX_DELIVERIES" : "A_RETRYABLE", "m");',
        'throw new ThreadlineError("A_BASE", "m");',
        'throw new ConfigError("NATS_PASSWORD", "a key, not a code");',
        'class AError extends ThreadlineError { constructor() { super("A_SUPER", "m"); } }',
        'class Other extends Error { constructor() { super("NOT_A_THREADLINE_ERROR"); } }',
        'class BError extends Error { readonly code = "A_FIELD"; }',
      ].join("\n"),
    },
  ];

  it("reports each uncatalogued code with its file, line and how it was written", () => {
    assert.deepEqual(
      uncataloguedCodes(fake, isDocumented).map((s) => `${s.line} ${s.code} (${s.where})`),
      [
        "2 A_MADE_UP (AErrorCode)",
        "3 A_TABLE_CODE (CLIENT_CODES)",
        "4 A_PERMANENT (new PermanentError)",
        "5 A_RETRYABLE (new RetryableError)",
        "6 A_BASE (new ThreadlineError)",
        "8 A_SUPER (super in AError)",
        "10 A_FIELD (class field code)",
      ],
    );
  });

  it("reports nothing for catalogued codes", () => {
    const clean: SourceFile = {
      path: "streams/src/x.ts",
      text: 'export const XErrorCode = { A: "MAX_DELIVERIES" } as const;\nnew PermanentError("CONNECTOR_LOT_MISMATCH", "m");\n',
    };
    assert.equal(codeSitesOf(clean).length, 2);
    assert.deepEqual(uncataloguedCodes([clean], isDocumented), []);
  });

  it("a page with a code missing or a code the catalogue no longer has differs from the rendered one", () => {
    const page = renderErrorCatalog();
    const lines = page.split("\n");
    const row = lines.findIndex((l) => l.startsWith("| `MAX_DELIVERIES` |"));
    const missing = [...lines.slice(0, row), ...lines.slice(row + 1)].join("\n");
    const stale = [...lines.slice(0, row), "| `RETIRED_CODE` | gone | nothing |", ...lines.slice(row)].join(
      "\n",
    );
    for (const wrong of [missing, stale]) assert.notEqual(wrong, page);
    assert.ok(!documentedCodes(missing).includes("MAX_DELIVERIES"));
    assert.ok(documentedCodes(stale).includes("RETIRED_CODE"));
  });
});
