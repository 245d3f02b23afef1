import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads the Ferry PowerSchool plugin (plugin.xml and queries_root/*.named_queries.xml) with a small XML reader: enough
 * XML for these files (elements, attributes, text, CDATA, comments, the declaration), and strict about the rest, so a
 * malformed plugin fails the test that reads it rather than being half-read.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Text and CDATA directly inside the element, concatenated. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`unknown XML entity ${m}`);
    return v;
  });

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const top = () => stack[stack.length - 1]!;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at line ${xml.slice(0, i).split('\n').length}`);
  };
  while (i < xml.length) {
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i);
      if (end < 0) fail('unterminated CDATA');
      top().text += xml.slice(i + 9, end);
      i = end + 3;
    } else if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i);
      if (end < 0) fail('unterminated declaration');
      i = end + 2;
    } else if (xml.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w:.-]*)\s*>/.exec(xml.slice(i));
      if (!m) fail('bad end tag');
      const open = stack.pop();
      if (!open || open.name !== m![1]) fail(`</${m![1]}> does not close <${open?.name ?? ''}>`);
      i += m![0].length;
    } else if (xml[i] === '<') {
      const m = /^<([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(xml.slice(i));
      if (!m) fail('bad start tag');
      const attrs: Record<string, string> = {};
      for (const a of m![2]!.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
      const el: XmlElement = { name: m![1]!, attrs, children: [], text: '' };
      top().children.push(el);
      if (m![3] !== '/') stack.push(el);
      i += m![0].length;
    } else {
      const end = xml.indexOf('<', i);
      const text = xml.slice(i, end < 0 ? xml.length : end);
      if (stack.length === 1 && text.trim() !== '') fail('text outside the root element');
      top().text += decode(text);
      i = end < 0 ? xml.length : end;
    }
  }
  if (stack.length !== 1) fail(`<${top().name}> is not closed`);
  const elements = root.children;
  if (elements.length !== 1) fail('expected exactly one root element');
  return elements[0]!;
}

export const childrenNamed = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name);

export interface PluginField {
  table: string;
  field: string;
  access: string;
}

export interface PluginQuery {
  name: string;
  coreTable: string;
  flattened: boolean;
  file: string;
  args: { name: string; required: boolean; type: string }[];
  /** In order: the `column` attribute (table.field) and the alias (the record key). */
  columns: { column: string; alias: string }[];
  sql: string;
}

export interface FerryPlugin {
  attrs: Record<string, string>;
  /** Child element names of <plugin>, in order. */
  sections: string[];
  access: PluginField[];
  queries: PluginQuery[];
}

export const PLUGIN_DIR = path.join(import.meta.dirname, '..', '..', '..', 'extracts', 'powerschool', 'plugin');

export function readPlugin(dir = PLUGIN_DIR): FerryPlugin {
  const plugin = parseXml(fs.readFileSync(path.join(dir, 'plugin.xml'), 'utf8'));
  if (plugin.name !== 'plugin') throw new Error('plugin.xml: the root element is not <plugin>');
  const access = childrenNamed(plugin, 'access_request').flatMap((a) =>
    childrenNamed(a, 'field').map((f) => ({ table: f.attrs['table'] ?? '', field: f.attrs['field'] ?? '', access: f.attrs['access'] ?? '' })),
  );
  const queries: PluginQuery[] = [];
  const qdir = path.join(dir, 'queries_root');
  for (const file of fs.readdirSync(qdir).sort()) {
    if (!file.endsWith('.named_queries.xml')) continue;
    const doc = parseXml(fs.readFileSync(path.join(qdir, file), 'utf8'));
    if (doc.name !== 'queries') throw new Error(`${file}: the root element is not <queries>`);
    for (const q of childrenNamed(doc, 'query')) {
      queries.push({
        name: q.attrs['name'] ?? '',
        coreTable: q.attrs['coreTable'] ?? '',
        flattened: q.attrs['flattened'] === 'true',
        file,
        args: childrenNamed(q, 'args').flatMap((a) =>
          childrenNamed(a, 'arg').map((x) => ({ name: x.attrs['name'] ?? '', required: x.attrs['required'] === 'true', type: x.attrs['type'] ?? '' })),
        ),
        columns: childrenNamed(q, 'columns').flatMap((c) => childrenNamed(c, 'column').map((x) => ({ column: x.attrs['column'] ?? '', alias: x.text.trim() }))),
        sql: childrenNamed(q, 'sql').map((s) => s.text).join('\n'),
      });
    }
  }
  return { attrs: plugin.attrs, sections: plugin.children.map((c) => c.name), access, queries };
}

/** The plugin's access_request as `table.field` in lower case. */
export function grantedFields(plugin: FerryPlugin): Set<string> {
  return new Set(plugin.access.map((f) => `${f.table}.${f.field}`.toLowerCase()));
}
