import fs from 'node:fs';
import path from 'node:path';
import { checkRequest } from '../../connectors/request-schemas.js';
import { findPlaceholders } from '../core/named-sql.js';
import { dataElement, suggestElements } from '../governance/elements.js';
import type { Extract } from './model.js';
import { bindNamesOf } from './params.js';
import { API_SOURCE_KINDS, extractFileSchema } from './schema.js';
import { displayPath, parseWith, readYaml, type AddProblem } from './yaml-file.js';

/** Extract definitions: extracts/<source-kind>/<name>/extract.yaml plus query.sql (or a request block for APIs). */
export function loadExtracts(extractsDir: string, add: AddProblem): Map<string, Extract> {
  const extracts = new Map<string, Extract>();
  if (!fs.existsSync(extractsDir)) {
    add(extractsDir, '', 'extracts folder not found');
    return extracts;
  }
  for (const kind of fs.readdirSync(extractsDir).sort()) {
    const kindDir = path.join(extractsDir, kind);
    if (!fs.statSync(kindDir).isDirectory()) continue;
    for (const name of fs.readdirSync(kindDir).sort()) {
      const dir = path.join(kindDir, name);
      const metaFile = path.join(dir, 'extract.yaml');
      if (!fs.statSync(dir).isDirectory() || !fs.existsSync(metaFile)) continue;
      const raw = readYaml(metaFile, add);
      if (raw === undefined) continue;
      const meta = parseWith(extractFileSchema, raw ?? {}, metaFile, '', add);
      if (!meta) continue;
      const rel = displayPath(metaFile);
      if (meta.source !== kind) add(metaFile, 'source', `is ${meta.source} but the extract sits under ${kind}/`);
      if (extracts.has(meta.name)) add(metaFile, 'name', `extract ${meta.name} is already defined in ${extracts.get(meta.name)!.file}`);
      let sql = '';
      if (API_SOURCE_KINDS.includes(meta.source)) {
        // API extracts describe a request instead of SQL; the connector's own schema checks it.
        if (!meta.request) add(metaFile, 'request', `is required for ${meta.source} extracts (what to fetch and how records map to columns)`);
        else for (const p of checkRequest(meta.source, meta.request)) add(metaFile, p.field ? `request.${p.field}` : 'request', p.message);
      } else {
        if (meta.request) add(metaFile, 'request', `only API extracts (${API_SOURCE_KINDS.join(', ')}) take a request block`);
        const sqlFile = path.join(dir, 'query.sql');
        try {
          sql = fs.readFileSync(sqlFile, 'utf8');
        } catch {
          add(sqlFile, '', 'query.sql not found next to extract.yaml');
          continue;
        }
        const marker = meta.source === 'schooltool' ? '@' : ':';
        const bindable = bindNamesOf(meta);
        for (const ph of findPlaceholders(sql, marker)) {
          if (!bindable.has(ph)) add(sqlFile, `${marker}${ph}`, `placeholder ${marker}${ph} is neither a declared parameter nor a bind of a declared filter (${[...bindable].join(', ') || 'none'})`);
        }
      }
      const seen = new Set<string>();
      meta.columns.forEach((c, i) => {
        if (seen.has(c.name)) add(metaFile, `columns[${i}].name`, `column ${c.name} is declared twice`);
        seen.add(c.name);
        const problem = elementProblem(c.name, c.element);
        if (problem) add(metaFile, `columns[${i}].element`, problem);
      });
      if (meta.personKey !== undefined && !seen.has(meta.personKey)) {
        add(metaFile, 'personKey', `names ${meta.personKey}, which is not one of the extract's columns (${[...seen].join(', ')})`);
      }
      extracts.set(
        meta.name,
        Object.freeze({
          name: meta.name,
          description: meta.description,
          sourceKind: meta.source,
          filters: Object.freeze([...meta.filters]),
          params: Object.freeze({ ...meta.params }),
          columns: Object.freeze(meta.columns.map((c) => Object.freeze({ ...c }))),
          personKey: meta.personKey,
          sql,
          request: meta.request ? Object.freeze({ ...meta.request }) : undefined,
          file: rel,
        }),
      );
    }
  }
  return extracts;
}

/** Every column says which data element it carries, so agreements and reports can be checked against what is sent. */
function elementProblem(column: string, tag: string | undefined): string | undefined {
  if (tag === undefined) {
    return `column ${column} names no data element: add element: "<tag>" from the NDPA Schedule of Data (README, "Data elements"), e.g. "Student Identifiers/local ID" or "Not personal data/other"`;
  }
  if (dataElement(tag) !== undefined) return undefined;
  const close = suggestElements(tag);
  const hint = close.length > 0 ? `did you mean ${close.map((t) => `"${t}"`).join(', ')}?` : 'see the README\'s "Data elements" for the vocabulary';
  return `column ${column} names "${tag}", which is not a data element of the NDPA Schedule of Data: ${hint}`;
}
