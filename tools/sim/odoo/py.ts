/**
 * Python renderings the simulator needs to look like Odoo on the wire: `repr()` of values (error
 * messages quote domain leaves and field names the way Python does) and `json.dumps(sort_keys=True)`
 * with Python's default separators (the body of Odoo's webhook notifications).
 */

/** Python's `repr()` of a JSON-ish value; arrays render as lists unless `tuple` is set. */
export function pyRepr(value: unknown, tuple = false): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === "string") return pyStr(value);
  if (Array.isArray(value)) {
    const inner = value.map((v) => pyRepr(v)).join(", ");
    if (!tuple) return `[${inner}]`;
    return value.length === 1 ? `(${inner},)` : `(${inner})`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${pyStr(k)}: ${pyRepr(v)}`,
    );
    return `{${entries.join(", ")}}`;
  }
  return String(value);
}

function pyFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  return String(n);
}

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch < " ") out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/**
 * `json.dumps(value, sort_keys=True)` as CPython writes it: `", "` and `": "` separators,
 * `ensure_ascii=True` (non-ASCII as `\uXXXX`), floats with a decimal point.
 */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "NaN";
  if (typeof value === "string") return asciiJsonString(value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(", ")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value as Record<string, unknown>).sort();
    return `{${keys.map((k) => `${asciiJsonString(k)}: ${pyJsonDumps((value as Record<string, unknown>)[k])}`).join(", ")}}`;
  }
  return asciiJsonString(String(value));
}

function asciiJsonString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A plausible Python traceback ending with the exception line, as Odoo puts in `debug`. */
export function pyTraceback(pyName: string, message: string, where = "call_kw"): string {
  const shown = pyName.startsWith("builtins.") ? pyName.slice("builtins.".length) : pyName;
  return (
    "Traceback (most recent call last):\n" +
    '  File "/opt/odoo/odoo/service/model.py", line 133, in retrying\n' +
    "    result = func()\n" +
    `  File "/opt/odoo/odoo/api.py", line 468, in ${where}\n` +
    "    result = _call_kw_multi(method, model, args, kwargs)\n" +
    `${shown}${message === "" ? "" : `: ${message}`}\n`
  );
}
