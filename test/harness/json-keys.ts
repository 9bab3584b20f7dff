/**
 * Duplicate keys in raw JSON text. `JSON.parse` keeps the last of two equal keys without a word, so a
 * log line that writes `"consumer"` twice parses fine and hides the bug: this reads the text itself.
 */

/** The keys that occur more than once in one object of `text`, as `path.key` (`$` is the top). */
export function duplicateKeys(text: string): string[] {
  let i = 0;
  const duplicates: string[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${i} in ${text.slice(0, 200)}`);
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const string = (): string => {
    if (text[i] !== '"') fail("expected a string");
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (text[i] !== '"') fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      const seen = new Set<string>();
      space();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        space();
        const key = string();
        if (seen.has(key)) duplicates.push(`${path}.${key}`);
        seen.add(key);
        space();
        if (text[i++] !== ":") fail("expected ':'");
        value(`${path}.${key}`);
        space();
        const next = text[i++];
        if (next === "}") return;
        if (next !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        space();
        const next = text[i++];
        if (next === "]") return;
        if (next !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!literal) fail("expected a value");
    i += (literal as RegExpExecArray)[0].length;
  };
  value("$");
  space();
  if (i !== text.length) fail("text after the value");
  return duplicates;
}
