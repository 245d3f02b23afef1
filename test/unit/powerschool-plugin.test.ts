import { describe, expect, it } from 'vitest';
import { FERRY_QUERIES } from '../servers/powerschool/ps-ferry-queries.js';
import { grantedFields, readPlugin, type PluginQuery } from '../servers/powerschool/plugin-xml.js';

/**
 * The Ferry PowerSchool plugin (extracts/powerschool/plugin) against the fake PowerSchool's implementation of it. The
 * Oracle SQL cannot run here, so it is checked for shape: the fake and the XML must agree on query names, argument
 * names and column aliases (in order), every field the SQL reads must be one the fake's query lists and vice versa,
 * and every such field, and every <column column="…">, must be granted in plugin.xml's access_request.
 */
const plugin = readPlugin();
const granted = grantedFields(plugin);

/** PowerSchool tables the queries read; `alias.field` of a CTE or inline view is not a table field. */
const PS_TABLES = new Set([
  'students', 'schools', 'terms', 'courses', 'sections', 'cc', 'users', 'schoolstaff', 'prefs', 'sync_studentmap', 'psm_studentcontact',
  'psm_studentcontacttype', 'person', 'studentcontactassoc', 'studentcontactdetail', 'personemailaddressassoc', 'emailaddress',
  'personphonenumberassoc', 'phonenumber', 'codeset', 'attendance', 'attendance_code',
]);

/** `table.field` references in the SQL (every query writes fields qualified by their full table name). */
function sqlFields(q: PluginQuery): Set<string> {
  const out = new Set<string>();
  for (const m of q.sql.toLowerCase().matchAll(/\b([a-z_]+)\.([a-z_]+)\b/g)) if (PS_TABLES.has(m[1]!)) out.add(`${m[1]}.${m[2]}`);
  return out;
}

/** The aliases of the outermost SELECT list, in order (text between the last top-level SELECT and its FROM). */
function selectAliases(sql: string): string[] {
  let depth = 0;
  let lastSelect = -1;
  const s = sql.replace(/'[^']*'/g, "''");
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /^select\b/i.test(s.slice(i, i + 7)) && !/\w/.test(s[i - 1] ?? ' ')) lastSelect = i;
  }
  const rest = s.slice(lastSelect + 6);
  // The FROM that ends the list is the first one at depth 0.
  depth = 0;
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '(') depth++;
    else if (rest[i] === ')') depth--;
    else if (depth === 0 && /^\sfrom\s/i.test(rest.slice(i, i + 6))) {
      end = i;
      break;
    }
  }
  const items: string[] = [];
  let cur = '';
  depth = 0;
  for (const c of rest.slice(0, end)) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  items.push(cur);
  return items.map((item) => {
    const t = item.trim();
    const as = /\bas\s+([a-z_][a-z0-9_]*)$/i.exec(t);
    return (as ? as[1]! : /([a-z_][a-z0-9_]*)$/i.exec(t)![1]!).toLowerCase();
  });
}

describe('the Ferry PowerSchool plugin', () => {
  it('plugin.xml enables OAuth, requests field access and keeps the XSD element order (oauth, access_request, publisher)', () => {
    expect(plugin.attrs['xmlns']).toBe('http://plugin.powerschool.pearson.com');
    expect(plugin.attrs['version']).toMatch(/^[0-9.]+$/);
    expect(plugin.sections).toEqual(['oauth', 'access_request', 'publisher']);
    expect(plugin.access.length).toBeGreaterThan(50);
    for (const f of plugin.access) expect(f.access, `${f.table}.${f.field}`).toBe('ViewOnly');
  });

  it('defines exactly the queries the fake PowerSchool answers, each flattened, with a unique org.ferry name', () => {
    const names = plugin.queries.map((q) => q.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...FERRY_QUERIES.keys()].sort());
    for (const q of plugin.queries) {
      expect(q.name).toMatch(/^org\.ferry\.[a-z]+\.[a-z_]+$/);
      expect(q.file).toMatch(/^org\.ferry\.[a-z]+\.named_queries\.xml$/);
      expect(q.flattened, q.name).toBe(true);
      expect(q.coreTable, q.name).not.toBe('');
    }
  });

  describe.each(plugin.queries.map((q) => [q.name, q] as const))('%s', (name, q) => {
    const fake = FERRY_QUERIES.get(name)!;

    it('the fake and the XML agree on argument names, and the SQL binds exactly those', () => {
      expect(q.args.map((a) => a.name)).toEqual([...fake.args]);
      for (const a of q.args) expect(a, a.name).toMatchObject({ required: true, type: 'primitive' });
      const binds = new Set([...q.sql.replace(/'[^']*'/g, "''").matchAll(/:([a-z_]+)/g)].map((m) => m[1]));
      expect([...binds].sort()).toEqual([...fake.args].sort());
    });

    it('the fake and the XML agree on the column aliases, in the order the outer SELECT lists them', () => {
      expect(q.columns.map((c) => c.alias)).toEqual([...fake.columns]);
      expect(selectAliases(q.sql)).toEqual([...fake.columns]);
    });

    it('every field the SQL reads is one the fake lists and vice versa, and all of them are in the access_request', () => {
      const read = sqlFields(q);
      expect([...read].sort()).toEqual([...new Set(fake.fields)].sort());
      const ungranted = [...read, ...q.columns.map((c) => c.column.toLowerCase())].filter((f) => !granted.has(f));
      expect(ungranted).toEqual([]);
    });
  });

  it('the access_request grants nothing the queries do not read', () => {
    const used = new Set(plugin.queries.flatMap((q) => [...sqlFields(q), ...q.columns.map((c) => c.column.toLowerCase())]));
    expect([...granted].filter((f) => !used.has(f))).toEqual([]);
  });
});
