import { parseCsv } from './parse-csv.js';
import type { ProblemList } from './problems.js';
import {
  FILE_MODES,
  MANIFEST_FILE,
  MANIFEST_HEADER,
  MANIFEST_VERSION,
  ONEROSTER_FILE_NAMES,
  ONEROSTER_VERSION,
  OPTIONAL_MANIFEST_PROPERTIES,
  type FileMode,
  type OneRosterFileName,
} from './spec.js';

/** manifest.csv (reference §4.2): versions first, then one file.<name> row for every 1.1 file, CRLF line ends. */
export function buildManifest(present: ReadonlySet<OneRosterFileName>, mode: 'bulk' | 'delta', source: { systemName?: string; systemCode?: string } = {}): string {
  const rows: [string, string][] = [
    ['manifest.version', MANIFEST_VERSION],
    ['oneroster.version', ONEROSTER_VERSION],
    ...ONEROSTER_FILE_NAMES.map((n): [string, string] => [`file.${n}`, present.has(n) ? mode : 'absent']),
  ];
  if (source.systemName) rows.push(['source.systemName', source.systemName]);
  if (source.systemCode) rows.push(['source.systemCode', source.systemCode]);
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return [MANIFEST_HEADER.join(','), ...rows.map(([k, v]) => `${quote(k)},${quote(v)}`)].join('\r\n') + '\r\n';
}

/**
 * Checks manifest.csv and returns the mode it declares for each data file.
 * `present` is the set of data files in the bundle, or undefined when a lone manifest is checked.
 */
export function checkManifest(
  text: string,
  present: ReadonlySet<OneRosterFileName> | undefined,
  expectedMode: 'bulk' | 'delta' | undefined,
  problems: ProblemList,
): Map<OneRosterFileName, 'bulk' | 'delta'> {
  const file = MANIFEST_FILE;
  const modes = new Map<OneRosterFileName, 'bulk' | 'delta'>();
  if (text.startsWith('\ufeff')) {
    problems.add('bom', file, 'the file starts with a byte order mark (BOM); OneRoster files must not', { row: 1 });
    text = text.slice(1);
  }
  const parsed = parseCsv(text);
  if (parsed.error) problems.add('csv', file, `${parsed.error.message}; later rows were not read`, { row: parsed.error.row });
  const [header, ...records] = parsed.records;
  if (!header || header.join(',') !== MANIFEST_HEADER.join(',')) {
    problems.add('header', file, `the header must be exactly ${MANIFEST_HEADER.join(',')}`, { row: 1 });
  }

  const props = new Map<string, { value: string; row: number }>();
  const known = new Set<string>(['manifest.version', 'oneroster.version', ...OPTIONAL_MANIFEST_PROPERTIES, ...ONEROSTER_FILE_NAMES.map((n) => `file.${n}`)]);
  records.forEach((rec, i) => {
    const row = i + 2;
    if (rec.length !== 2) return problems.add('csv', file, `has ${rec.length} fields; manifest rows have 2`, { row });
    const [name = '', value = ''] = rec;
    // Property names are spec vocabulary, so known ones may be named; unknown text is not echoed.
    if (!known.has(name)) return problems.add('manifest', file, 'the property is not a OneRoster 1.1 manifest property', { row, column: 'propertyName' });
    if (props.has(name)) return problems.add('manifest', file, `${name} is listed twice`, { row, column: 'propertyName' });
    props.set(name, { value, row });
  });

  for (const [name, want] of [['manifest.version', MANIFEST_VERSION], ['oneroster.version', ONEROSTER_VERSION]] as const) {
    const got = props.get(name);
    if (!got) problems.add('manifest', file, `${name} is missing (it must be ${want})`);
    else if (got.value !== want) problems.add('manifest', file, `${name} must be ${want}`, { row: got.row, column: 'value' });
  }

  for (const n of ONEROSTER_FILE_NAMES) {
    const prop = `file.${n}`;
    const got = props.get(prop);
    let mode: FileMode | undefined;
    if (!got) problems.add('manifest', file, `${prop} is missing (every 1.1 file is listed as bulk, delta or absent)`);
    else if (!(FILE_MODES as readonly string[]).includes(got.value)) {
      problems.add('manifest', file, `${prop} must be one of ${FILE_MODES.join(', ')}`, { row: got.row, column: 'value' });
    } else mode = got.value as FileMode;
    const where = got ? { row: got.row, column: 'value' } : {};
    if (mode === 'bulk' || mode === 'delta') {
      modes.set(n, mode);
      if (present && !present.has(n)) problems.add('manifest', file, `${prop} is ${mode} but ${n}.csv is not in the bundle`, where);
      if (expectedMode && mode !== expectedMode) problems.add('manifest', file, `${prop} is ${mode} but a ${expectedMode} bundle was expected`, where);
    } else if (present?.has(n) && got) {
      problems.add('manifest', file, `${n}.csv is in the bundle but ${prop} does not say bulk or delta`, where);
    }
  }
  return modes;
}
