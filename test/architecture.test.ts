/**
 * Architecture - the layers and their entry points, as a specification the build enforces.
 *
 * contracts <- streams <- services <- tools (an arrow reads "may be imported by"):
 * - contracts/ and streams/ are used through one public entry point each, `contracts/src/index.ts` and
 *   `streams/src/index.ts`; only their own `src/` files import each other directly.
 * - No layer imports a higher one; no service imports another service (tools/ gathering the services'
 *   manifests is tools importing services, which is allowed).
 *
 * The first part holds the repository to these rules; the second shows, on fake files, that the checker
 * (test/harness/architecture.ts) finds each kind of violation, so a pass means something.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PACKAGE_ROOT } from "../contracts/src/index.js";
import {
  checkArchitecture,
  ENTRY_POINTS,
  importsOf,
  LAYERS,
  layerOf,
  readLayerSources,
  type SourceFile,
  wildcardExportLines,
} from "./harness/architecture.js";

describe("architecture - the repository follows the layer rules", () => {
  const sources = readLayerSources(PACKAGE_ROOT);

  it("the scan sees the TypeScript sources of every layer, and none of test/, dist/ or node_modules/", () => {
    for (const layer of LAYERS) {
      assert.ok(
        sources.some((file) => layerOf(file.path) === layer),
        `no TypeScript file found in ${layer}/`,
      );
    }
    const stray = sources.filter((file) => /(^|\/)(test|dist|node_modules)\//.test(file.path));
    assert.deepEqual(
      stray.map((file) => file.path),
      [],
    );
  });

  it("services and tools reach contracts/ and streams/ through their entry points", () => {
    const targets = new Set(sources.flatMap((file) => importsOf(file).map((site) => site.target)));
    for (const entry of Object.values(ENTRY_POINTS))
      assert.ok(targets.has(entry), `nothing imports ${entry}`);
  });

  it("no import reaches around an entry point, imports a higher layer or another service", () => {
    const violations = checkArchitecture(sources);
    assert.deepEqual(
      violations.map((violation) => violation.message),
      [],
      `${violations.length} import(s) break the layer rules (README.md, "Layout"):\n${violations
        .map((violation) => `  ${violation.message}`)
        .join("\n")}`,
    );
  });

  it("the entry points list their exports by name: no `export *` that could leak or collide", () => {
    for (const entry of Object.values(ENTRY_POINTS)) {
      const file = sources.find((source) => source.path === entry);
      assert.ok(file, `${entry} is missing`);
      assert.deepEqual(wildcardExportLines(file), [], `${entry} has \`export *\` on these lines`);
    }
  });
});

describe("architecture - the checker finds each kind of violation", () => {
  /** A small repository: each file imports one thing, allowed or not (comments say which). */
  const fake: SourceFile[] = [
    // Allowed: a layer's own files, a lower layer's entry point, packages, tools gathering services.
    { path: "contracts/src/codec.ts", text: 'import { ThreadlineError } from "./errors.js";\n' },
    { path: "streams/src/service.ts", text: 'import { EventCodec } from "../../contracts/src/index.js";\n' },
    { path: "streams/src/consumer/options.ts", text: 'import { sleep } from "../backoff.js";\n' },
    { path: "services/a/src/main.ts", text: 'import { runService } from "../../../streams/src/index.js";\n' },
    { path: "services/a/src/inner/map.ts", text: 'import { b } from "../other.js";\nimport z from "zod";\n' },
    { path: "tools/manifests.ts", text: 'import { manifest } from "../services/a/src/manifest.js";\n' },
    {
      path: "services/a/src/quoted.ts",
      text: '/** Not an import: `import { x } from "../../b/src/x.js"`. */\nconst s = "../../../tools/cli/main.js";\n',
    },
    // (a) a contracts/src file other than the entry point, from outside contracts/src.
    { path: "streams/src/read.ts", text: 'import type { AvroType } from "../../contracts/src/avro.js";\n' },
    // (b) a streams/src file other than the entry point, from a service and from an example.
    {
      path: "services/a/src/handler.ts",
      text: '// a handler\n\nimport {\n  PermanentError,\n} from "../../../streams/src/consumer.js";\n',
    },
    { path: "streams/examples/demo.ts", text: 'export { EventPublisher } from "../src/publisher.js";\n' },
    // (c) a higher layer: contracts -> streams, streams -> services (dynamic), services -> tools (type).
    {
      path: "contracts/src/registry.ts",
      text: 'import { connectNats } from "../../streams/src/index.js";\n',
    },
    {
      path: "streams/src/plan.ts",
      text: 'export async function f() {\n  return await import("../../services/a/src/main.js");\n}\n',
    },
    { path: "services/a/src/cli.ts", text: 'type Cli = import("../../../tools/cli/main.js").Cli;\n' },
    // (d) another service.
    { path: "services/a/src/shared.ts", text: 'export { parse } from "../../b/src/values.js";\n' },
  ];

  const found = checkArchitecture(fake).map(({ rule, file, line, specifier }) => ({
    rule,
    file,
    line,
    specifier,
  }));

  it("names the rule, file, line and specifier of every violation, and nothing allowed", () => {
    assert.deepEqual(found, [
      {
        rule: "upward-import",
        file: "contracts/src/registry.ts",
        line: 1,
        specifier: "../../streams/src/index.js",
      },
      {
        rule: "upward-import",
        file: "services/a/src/cli.ts",
        line: 1,
        specifier: "../../../tools/cli/main.js",
      },
      {
        rule: "streams-entry-point",
        file: "services/a/src/handler.ts",
        line: 5,
        specifier: "../../../streams/src/consumer.js",
      },
      {
        rule: "service-to-service",
        file: "services/a/src/shared.ts",
        line: 1,
        specifier: "../../b/src/values.js",
      },
      {
        rule: "streams-entry-point",
        file: "streams/examples/demo.ts",
        line: 1,
        specifier: "../src/publisher.js",
      },
      {
        rule: "upward-import",
        file: "streams/src/plan.ts",
        line: 2,
        specifier: "../../services/a/src/main.js",
      },
      {
        rule: "contracts-entry-point",
        file: "streams/src/read.ts",
        line: 1,
        specifier: "../../contracts/src/avro.js",
      },
    ]);
  });

  it("says what to do instead", () => {
    const [handler] = checkArchitecture(fake.filter((file) => file.path === "services/a/src/handler.ts"));
    assert.equal(
      handler?.message,
      'services/a/src/handler.ts:5 imports "../../../streams/src/consumer.js" (streams/src/consumer.ts): ' +
        "outside streams/src/, import streams/src/index.ts (export the name there if it is missing)",
    );
    const [shared] = checkArchitecture(fake.filter((file) => file.path === "services/a/src/shared.ts"));
    assert.match(shared?.message ?? "", /a service may not import another service/);
  });

  it("finds `export *` in an entry point", () => {
    const entry = {
      path: "streams/src/index.ts",
      text: 'export { sleep } from "./backoff.js";\nexport * from "./consumer.js";\nexport * as names from "./names.js";\n',
    };
    assert.deepEqual(wildcardExportLines(entry), [2, 3]);
  });
});
