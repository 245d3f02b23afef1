import { describe, expect, it } from 'vitest';
import { renderReport, type ReportModel } from '../../src/governance/reports/renderers.js';

const hostile: ReportModel = {
  kind: 'inventory',
  title: 'Inventory <b>&</b>',
  generatedAt: '2026-12-07T00:00:00.000Z',
  facts: [{ label: 'Notes "quoted"', value: '<script>alert(1)</script>' }],
  columns: ['Name', 'Notes'],
  rows: [
    ['a|b', 'line one\nline two, with "quotes"'],
    ['<img src=x onerror=alert(1)>', null],
  ],
  empty: 'none',
  notes: ["it's [district to complete: <who>]"],
};

describe('report renderers', () => {
  it('html escapes every value from config: no markup, script or attribute gets through', () => {
    const h = renderReport(hostile, 'html');
    expect(h).not.toContain('<script');
    expect(h).not.toContain('<img');
    expect(h).not.toContain('<b>');
    expect(h).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(h).toContain('<title>Inventory &lt;b&gt;&amp;&lt;/b&gt;</title>');
    expect(h).toContain('<dt>Notes &quot;quoted&quot;</dt>');
    expect(h).toContain('<span class="complete">[district to complete: &lt;who&gt;]</span>');
    expect(h).toContain('line one<br>line two, with &quot;quotes&quot;');
  });

  it('csv quotes per RFC 4180, markdown keeps one table row per row, json keys rows by column', () => {
    expect(renderReport(hostile, 'csv')).toBe('Name,Notes\r\na|b,"line one\nline two, with ""quotes"""\r\n<img src=x onerror=alert(1)>,\r\n');
    const md = renderReport(hostile, 'md');
    expect(md).toContain('| a\\|b | line one<br>line two, with "quotes" |');
    const j = JSON.parse(renderReport(hostile, 'json')) as { rows: unknown[]; facts: unknown };
    expect(j.rows).toEqual([
      { Name: 'a|b', Notes: 'line one\nline two, with "quotes"' },
      { Name: '<img src=x onerror=alert(1)>', Notes: null },
    ]);
    expect(j.facts).toEqual({ 'Notes "quoted"': '<script>alert(1)</script>' });
  });
});
