/**
 * A series file for offline evaluation: CSV with a header, `time,value` (individuals) or
 * `time,value,subgroup` (consecutive rows with one subgroup label make one subgroup, timed by its first
 * row). Times are ISO 8601; values plain decimal numbers. Blank lines are skipped. A bad row is refused
 * with its 1-based line number and what is wrong, and nothing of the file is used: tuning rules on half
 * a series would mislead.
 */
import { QualityError, QualityErrorCode } from "../errors.js";
import type { SpcSample } from "./chart.js";

/** A sample read from the file, with the line it (or its subgroup's first row) is on. */
export interface SeriesSample extends SpcSample {
  readonly line: number;
}

export interface Series {
  /** 1 for `time,value`, else the size of the file's subgroups (all the same). */
  readonly subgroupSize: number;
  readonly samples: readonly SeriesSample[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseSeriesCsv(text: string, source = "input"): Series {
  const lines = text.split(/\r?\n/);
  const bad = (line: number, why: string): never => {
    throw new QualityError(QualityErrorCode.CsvInvalid, `${source} line ${line}: ${why}`);
  };
  const headerAt = lines.findIndex((l) => l.trim() !== "");
  if (headerAt < 0) bad(1, "the file is empty; expected a header `time,value` or `time,value,subgroup`");
  const header = (lines[headerAt] as string).split(",").map((c) => c.trim().toLowerCase());
  const grouped = header.length === 3 && header[2] === "subgroup";
  if (header[0] !== "time" || header[1] !== "value" || !(header.length === 2 || grouped))
    bad(headerAt + 1, `header is "${lines[headerAt]}", expected "time,value" or "time,value,subgroup"`);

  const rows: { line: number; time: Date; value: number; subgroup: string }[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const text = (lines[i] as string).trim();
    if (text === "") continue;
    const line = i + 1;
    const cells = text.split(",").map((c) => c.trim());
    if (cells.length !== header.length)
      bad(line, `${cells.length} column(s), the header has ${header.length} (${header.join(",")})`);
    const [timeText, valueText, subgroup] = cells as [string, string, string | undefined];
    const time = new Date(timeText);
    if (!ISO_TIME.test(timeText) || Number.isNaN(time.getTime()))
      bad(line, `time "${timeText}" is not an ISO 8601 date or time`);
    if (!NUMBER.test(valueText)) bad(line, `value "${valueText}" is not a number`);
    if (grouped && subgroup === "") bad(line, "subgroup is empty");
    rows.push({ line, time, value: Number(valueText), subgroup: subgroup ?? "" });
  }
  if (rows.length === 0) bad(headerAt + 2, "no data rows after the header");
  if (!grouped)
    return { subgroupSize: 1, samples: rows.map((r) => ({ line: r.line, time: r.time, value: r.value })) };

  const groups: { label: string; rows: typeof rows }[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const last = groups.at(-1);
    if (last?.label === row.subgroup) last.rows.push(row);
    else {
      if (seen.has(row.subgroup))
        bad(
          row.line,
          `subgroup "${row.subgroup}" appears again after other subgroups; its rows must be consecutive`,
        );
      seen.add(row.subgroup);
      groups.push({ label: row.subgroup, rows: [row] });
    }
  }
  const size = (groups[0] as (typeof groups)[number]).rows.length;
  for (const g of groups)
    if (g.rows.length !== size)
      bad(
        (g.rows[0] as (typeof rows)[number]).line,
        `subgroup "${g.label}" has ${g.rows.length} measurement(s), the first subgroup has ${size}`,
      );
  return {
    subgroupSize: size,
    samples: groups.map((g) => {
      const first = g.rows[0] as (typeof rows)[number];
      return { line: first.line, time: first.time, value: g.rows.map((r) => r.value) };
    }),
  };
}
