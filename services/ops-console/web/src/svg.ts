/**
 * SVG building, as dom.ts builds HTML: elements made with createElementNS, attributes set one by one,
 * every text through textContent — nothing is parsed as markup.
 */
const NS = "http://www.w3.org/2000/svg";

type SvgAttrs = Record<string, string | number | undefined>;

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: SvgAttrs = {},
  ...children: (SVGElement | string | null | undefined | false)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined) el.setAttribute(name, String(value));
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

/** A tooltip: the <title> child browsers show on hover. */
export function tip(text: string): SVGTitleElement {
  return s("title", {}, text);
}
