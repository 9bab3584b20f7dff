/**
 * A strict XML-RPC codec for the subset Python's `xmlrpc.client` speaks (what Odoo uses on both
 * sides): `<methodCall>` parsing with the value types Python's Unmarshaller accepts — int/i1/i2/i4/i8,
 * boolean, double, string (or untyped text), dateTime.iso8601, base64, array, struct and nil — and
 * `<methodResponse>` / `<fault>` encoding as Odoo's `OdooMarshaller(allow_none=False)` writes them:
 * `None` is refused ("cannot marshal None unless allow_none is enabled"), ints beyond 32 bits raise
 * OverflowError, control characters are stripped from strings.
 *
 * The XML reader accepts elements, attributes, text, the five predefined entities, character
 * references, CDATA, comments and the XML declaration; it rejects DOCTYPE, unknown entities and
 * anything malformed with an ExpatError-like message.
 */
import { PythonError } from "../errors.js";

export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

export class XmlSyntaxError extends PythonError {
  constructor(message: string, line: number, column: number) {
    super("xml.parsers.expat.ExpatError", `${message}: line ${line}, column ${column}`);
  }
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Parses an XML document into its root element. */
export function parseXml(xml: string): XmlNode {
  let pos = 0;
  const where = () => {
    const before = xml.slice(0, pos);
    const line = before.split("\n").length;
    return [line, pos - before.lastIndexOf("\n") - 1] as const;
  };
  const fail = (msg: string): never => {
    const [l, c] = where();
    throw new XmlSyntaxError(msg, l, c);
  };
  const skipMisc = () => {
    for (;;) {
      while (pos < xml.length && /\s/.test(xml[pos] as string)) pos++;
      if (xml.startsWith("<?", pos)) {
        const end = xml.indexOf("?>", pos);
        if (end < 0) fail("unclosed token");
        pos = end + 2;
      } else if (xml.startsWith("<!--", pos)) {
        const end = xml.indexOf("-->", pos);
        if (end < 0) fail("unclosed token");
        pos = end + 3;
      } else if (xml.startsWith("<!DOCTYPE", pos)) fail("DOCTYPE is not allowed");
      else return;
    }
  };
  const decode = (raw: string): string =>
    raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (_m, ent: string | undefined) => {
      if (!ent) return fail("not well-formed (invalid token)");
      if (ent.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
      if (ent.startsWith("#")) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
      const v = ENTITIES[ent];
      return v ?? fail(`undefined entity &${ent};`);
    });
  const parseElement = (): XmlNode => {
    if (xml[pos] !== "<") fail("syntax error");
    const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(
      xml.slice(pos),
    );
    if (!m) return fail("not well-formed (invalid token)");
    pos += m[0].length;
    const node: XmlNode = { name: m[1] as string, children: [], text: "" };
    if (m[3] === "/") return node;
    for (;;) {
      if (pos >= xml.length) fail("no element found");
      if (xml.startsWith("</", pos)) {
        const close = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(xml.slice(pos));
        if (!close || close[1] !== node.name) fail("mismatched tag");
        pos += (close as RegExpExecArray)[0].length;
        return node;
      }
      if (xml.startsWith("<![CDATA[", pos)) {
        const end = xml.indexOf("]]>", pos);
        if (end < 0) fail("unclosed CDATA section");
        node.text += xml.slice(pos + 9, end);
        pos = end + 3;
      } else if (xml.startsWith("<!--", pos)) {
        const end = xml.indexOf("-->", pos);
        if (end < 0) fail("unclosed token");
        pos = end + 3;
      } else if (xml[pos] === "<") node.children.push(parseElement());
      else {
        const next = xml.indexOf("<", pos);
        const raw = xml.slice(pos, next < 0 ? xml.length : next);
        node.text += decode(raw);
        pos = next < 0 ? xml.length : next;
      }
    }
  };
  skipMisc();
  if (pos >= xml.length) fail("no element found");
  const root = parseElement();
  skipMisc();
  if (pos < xml.length) fail("junk after document element");
  return root;
}

const only = (node: XmlNode, name: string): XmlNode[] => node.children.filter((c) => c.name === name);

function decodeValue(node: XmlNode): unknown {
  if (node.name !== "value")
    throw new PythonError("builtins.ValueError", `unexpected element <${node.name}>`);
  const typed = node.children[0];
  if (!typed) return node.text;
  const text = typed.text.trim();
  switch (typed.name) {
    case "int":
    case "i1":
    case "i2":
    case "i4":
    case "i8":
    case "biginteger": {
      if (!/^[+-]?\d+$/.test(text))
        throw new PythonError("builtins.ValueError", `invalid literal for int() with base 10: '${text}'`);
      return Number(text);
    }
    case "boolean":
      if (text === "0") return false;
      if (text === "1") return true;
      throw new PythonError("builtins.TypeError", "bad boolean value");
    case "double":
    case "float":
    case "bigdecimal": {
      const n = Number(text);
      if (text === "" || Number.isNaN(n))
        throw new PythonError("builtins.ValueError", `could not convert string to float: '${text}'`);
      return n;
    }
    case "string":
      return typed.text;
    case "nil":
      return null;
    case "dateTime.iso8601": {
      const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(text);
      if (!m)
        throw new PythonError(
          "builtins.ValueError",
          `time data '${text}' does not match format '%Y%m%dT%H:%M:%S'`,
        );
      return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}`;
    }
    case "base64":
      return typed.text.replace(/\s+/g, "");
    case "array": {
      const data = only(typed, "data")[0];
      return data ? only(data, "value").map(decodeValue) : [];
    }
    case "struct": {
      const out: Record<string, unknown> = {};
      for (const member of only(typed, "member")) {
        const name = only(member, "name")[0];
        const value = only(member, "value")[0];
        if (!name || !value) throw new PythonError("builtins.ValueError", "malformed struct member");
        out[name.text] = decodeValue(value);
      }
      return out;
    }
    default:
      throw new PythonError("builtins.TypeError", `unknown tag '${typed.name}'`);
  }
}

/** `xmlrpc.client.loads()` of a request: the method name and its parameters. */
export function parseMethodCall(xml: string): { methodName: string; params: unknown[] } {
  const root = parseXml(xml);
  if (root.name !== "methodCall") throw new PythonError("xmlrpc.client.ResponseError", "ResponseError()");
  const name = only(root, "methodName")[0];
  if (!name) throw new PythonError("xmlrpc.client.ResponseError", "ResponseError()");
  const params = only(root, "params")[0];
  return {
    methodName: name.text.trim(),
    params: params
      ? only(params, "param").map((p) =>
          decodeValue(only(p, "value")[0] ?? { name: "value", children: [], text: "" }),
        )
      : [],
  };
}

export type XmlRpcResponse = { value: unknown } | { fault: { faultCode: unknown; faultString: unknown } };

/** Parses a `<methodResponse>` (what a client does with the simulator's answers). */
export function parseMethodResponse(xml: string): XmlRpcResponse {
  const root = parseXml(xml);
  const fault = only(root, "fault")[0];
  if (fault) {
    const v = decodeValue(only(fault, "value")[0] as XmlNode) as { faultCode: unknown; faultString: unknown };
    return { fault: { faultCode: v.faultCode, faultString: v.faultString } };
  }
  const param = only(only(root, "params")[0] as XmlNode, "param")[0] as XmlNode;
  return { value: decodeValue(only(param, "value")[0] as XmlNode) };
}

/** XML 1.0 forbids control characters but tab, newline and carriage return: Odoo strips them. */
const stripControl = (s: string) =>
  [...s].filter((c) => c.charCodeAt(0) >= 32 || c === "\t" || c === "\n" || c === "\r").join("");

function xmlEscape(s: string): string {
  return stripControl(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const MAXINT = 2 ** 31 - 1;
const MININT = -(2 ** 31);

function encodeValue(v: unknown, out: string[], allowNone: boolean): void {
  if (v === null || v === undefined) {
    if (!allowNone)
      throw new PythonError("builtins.TypeError", "cannot marshal None unless allow_none is enabled");
    out.push("<value><nil/></value>\n");
  } else if (typeof v === "boolean") out.push(`<value><boolean>${v ? 1 : 0}</boolean></value>\n`);
  else if (typeof v === "number") {
    if (Number.isInteger(v)) {
      if (v > MAXINT || v < MININT)
        throw new PythonError("builtins.OverflowError", "int exceeds XML-RPC limits");
      out.push(`<value><int>${v}</int></value>\n`);
    } else out.push(`<value><double>${Number.isFinite(v) ? String(v) : "nan"}</double></value>\n`);
  } else if (typeof v === "string") out.push(`<value><string>${xmlEscape(v)}</string></value>\n`);
  else if (Array.isArray(v)) {
    out.push("<value><array><data>\n");
    for (const item of v) encodeValue(item, out, allowNone);
    out.push("</data></array></value>\n");
  } else if (typeof v === "object") {
    out.push("<value><struct>\n");
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      out.push(`<member>\n<name>${xmlEscape(k)}</name>\n`);
      encodeValue(item, out, allowNone);
      out.push("</member>\n");
    }
    out.push("</struct></value>\n");
  } else throw new PythonError("builtins.TypeError", `cannot marshal ${typeof v} objects`);
}

const wrap = (inner: string) => `<?xml version="1.0"?>\n<methodResponse>\n${inner}\n</methodResponse>\n`;

/** Odoo's `dumps((result,))`; throws the TypeError/OverflowError Python would. */
export function encodeResponse(value: unknown): string {
  const out: string[] = ["<params>\n<param>\n"];
  encodeValue(value, out, false);
  out.push("</param>\n</params>\n");
  return wrap(out.join(""));
}

/** Odoo's `dumps(Fault(code, string))`. */
export function encodeFault(faultCode: number | string, faultString: string): string {
  const out: string[] = ["<fault>\n"];
  encodeValue({ faultCode, faultString }, out, false);
  out.push("</fault>\n");
  return wrap(out.join(""));
}

/** A `<methodCall>` as `xmlrpc.client` writes it (allow_none for clients that send nil). */
export function encodeMethodCall(methodName: string, params: unknown[], allowNone = true): string {
  const out: string[] = [
    `<?xml version='1.0'?>\n<methodCall>\n<methodName>${xmlEscape(methodName)}</methodName>\n<params>\n`,
  ];
  for (const p of params) {
    out.push("<param>\n");
    encodeValue(p, out, allowNone);
    out.push("</param>\n");
  }
  out.push("</params>\n</methodCall>\n");
  return out.join("");
}
