/**
 * Adds a service's manifest to tools/manifests.ts: one import, one entry of `SERVICE_MANIFESTS`.
 *
 * Why edit the file rather than discover manifests at run time: the list is the platform's permissions
 * and durables, so a service joins it by a visible line in a reviewed diff, never because a folder
 * appeared; the imports stay static (typed, synchronous, seen by tsc and the architecture test), and
 * every caller of `platformDeclarations()` stays synchronous.
 *
 * The result is what Biome would write (imports in its order, the array on one line while it fits the
 * 110 columns of biome.json, else one entry per line), so a generated service is lint-clean as is.
 */
import { ScaffoldError, ScaffoldErrorCode, type ServiceNames } from "./names.js";

const LINE_WIDTH = 110;
const ARRAY = /export const SERVICE_MANIFESTS: readonly ServiceManifest\[\] = \[([^\]]*)\];\n/;
const SERVICE_IMPORT = /^import \{ (\w+) \} from "\.\.\/services\/([^/]+)\/src\/manifest\.js";$/;

/** The import line tools/manifests.ts gets for a service. */
export const manifestImport = (n: ServiceNames) =>
  `import { ${n.manifestExport} } from "../services/${n.service}/src/manifest.js";`;

/**
 * tools/manifests.ts with the service added.
 * @throws {ScaffoldError} SCAFFOLD_SERVICE_EXISTS when it is listed already;
 *   SCAFFOLD_MANIFESTS_UNRECOGNISED when the file has no `SERVICE_MANIFESTS` array or service import
 *   to extend (the message says what to add by hand).
 */
export function registerManifest(text: string, n: ServiceNames): string {
  const byHand = `add \`${manifestImport(n)}\` and \`${n.manifestExport}\` to SERVICE_MANIFESTS by hand`;
  const array = ARRAY.exec(text);
  if (!array)
    throw new ScaffoldError(
      ScaffoldErrorCode.ManifestsUnrecognised,
      `tools/manifests.ts has no \`export const SERVICE_MANIFESTS: readonly ServiceManifest[] = [ … ];\`: ${byHand}`,
    );
  const lines = text.split("\n");
  const imports = lines.flatMap((line, index) => {
    const m = SERVICE_IMPORT.exec(line);
    return m ? [{ index, service: m[2]! }] : [];
  });
  if (imports.length === 0)
    throw new ScaffoldError(
      ScaffoldErrorCode.ManifestsUnrecognised,
      `tools/manifests.ts imports no manifest from ../services/: ${byHand}`,
    );
  if (imports.some((i) => i.service === n.service))
    throw new ScaffoldError(
      ScaffoldErrorCode.Exists,
      `tools/manifests.ts already imports the manifest of ${n.service}`,
    );
  // Biome orders imports by source; services' paths differ only in the folder name.
  const after = imports.filter((i) => i.service < n.service).at(-1);
  const at = after ? after.index + 1 : imports[0]!.index;
  lines.splice(at, 0, manifestImport(n));
  const withImport = lines.join("\n");

  const entries = (array[1] ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  const head = "export const SERVICE_MANIFESTS: readonly ServiceManifest[] = [";
  const all = [...entries, n.manifestExport];
  const oneLine = `${head}${all.join(", ")}];`;
  const rendered =
    oneLine.length <= LINE_WIDTH ? oneLine : `${head}\n${all.map((e) => `  ${e},`).join("\n")}\n];`;
  return withImport.replace(ARRAY, `${rendered}\n`);
}
