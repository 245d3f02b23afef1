import { stringify } from 'csv-stringify/sync';

/**
 * One model per report kind, rendered four ways. A report is a few labelled facts, one table (the CSV is that table)
 * and notes. Every value comes from config or the run store; none is a row value from a delivered file.
 */
export const REPORT_KINDS = ['inventory', 'data-flows', 'exposure', 'supplemental'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export const REPORT_FORMATS = ['md', 'csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export type Cell = string | number | null;

export interface ReportModel {
  readonly kind: ReportKind;
  readonly title: string;
  /** ISO timestamp. */
  readonly generatedAt: string;
  readonly facts: readonly { readonly label: string; readonly value: Cell }[];
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Shown when there are no rows. */
  readonly empty: string;
  readonly notes: readonly string[];
}

/** Text marking what the district must fill in itself (supplemental). */
export const toComplete = (what: string) => `[district to complete: ${what}]`;

const text = (c: Cell) => (c === null ? '' : String(c));

export function renderReport(model: ReportModel, format: ReportFormat): string {
  switch (format) {
    case 'csv':
      return renderCsv(model);
    case 'json':
      return renderJson(model);
    case 'md':
      return renderMarkdown(model);
    case 'html':
      return renderHtml(model);
  }
}

function renderCsv(m: ReportModel): string {
  return stringify([m.columns as string[], ...m.rows.map((r) => r.map(text))], { record_delimiter: 'windows' });
}

function renderJson(m: ReportModel): string {
  const out = {
    kind: m.kind,
    title: m.title,
    generatedAt: m.generatedAt,
    facts: Object.fromEntries(m.facts.map((f) => [f.label, f.value])),
    rows: m.rows.map((r) => Object.fromEntries(m.columns.map((c, i) => [c, r[i] ?? null]))),
    notes: m.notes,
  };
  return JSON.stringify(out, null, 2) + '\n';
}

const mdCell = (c: Cell) => text(c).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');

function renderMarkdown(m: ReportModel): string {
  const lines = [`# ${m.title}`, '', `Generated ${m.generatedAt} by Ferry.`, ''];
  for (const f of m.facts) lines.push(`- **${f.label}:** ${mdCell(f.value)}`);
  if (m.facts.length) lines.push('');
  if (m.rows.length === 0) lines.push(m.empty, '');
  else {
    lines.push(`| ${m.columns.map(mdCell).join(' | ')} |`, `|${m.columns.map(() => ' --- |').join('')}`);
    for (const r of m.rows) lines.push(`| ${r.map(mdCell).join(' | ')} |`);
    lines.push('');
  }
  for (const n of m.notes) lines.push(n, '');
  return lines.join('\n');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// Inline and self-contained: no scripts, fonts or images, so the file opens offline and prints as it shows.
const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 2rem; color: #1a1a1a; font-size: 14px; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
.generated { color: #555; margin: 0 0 1rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .25rem 1rem; margin: 0 0 1.25rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
tbody tr:nth-child(even) { background: #f8f9fb; }
.complete { background: #fff3cd; }
.notes p { margin: .75rem 0; }
@media print {
  body { margin: 0; font-size: 10pt; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { page-break-inside: avoid; }
  thead { display: table-header-group; }
}
`;

/** A value with "[district to complete: …]" parts highlighted; everything escaped first. */
function htmlCell(c: Cell): string {
  return escapeHtml(text(c))
    .replace(/\[district to complete: [^\]]*\]/g, (s) => `<span class="complete">${s}</span>`)
    .replace(/\r?\n/g, '<br>');
}

function renderHtml(m: ReportModel): string {
  const facts = m.facts.map((f) => `<dt>${escapeHtml(f.label)}</dt><dd>${htmlCell(f.value)}</dd>`).join('\n');
  const table =
    m.rows.length === 0
      ? `<p>${escapeHtml(m.empty)}</p>`
      : `<table>\n<thead><tr>${m.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>\n<tbody>\n${m.rows
          .map((r) => `<tr>${r.map((c) => `<td>${htmlCell(c)}</td>`).join('')}</tr>`)
          .join('\n')}\n</tbody>\n</table>`;
  const notes = m.notes.length ? `<div class="notes">\n${m.notes.map((n) => `<p>${htmlCell(n)}</p>`).join('\n')}\n</div>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(m.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(m.title)}</h1>
<p class="generated">Generated ${escapeHtml(m.generatedAt)} by Ferry.</p>
${facts ? `<dl class="facts">\n${facts}\n</dl>` : ''}
${table}
${notes}
</body>
</html>
`;
}
