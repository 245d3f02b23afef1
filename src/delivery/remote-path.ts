import path from 'node:path';
import { FerryError } from '../core/errors.js';
import { dateInZone } from '../config/params.js';

/**
 * Remote path templates: `{district}`, `{integration}`, `{extract}`, `{runId}`, `{date:FORMAT}` and `{time:FORMAT}`
 * (FORMAT from YYYY, MM, DD, HH, mm, ss), with dates taken in the integration's time zone.
 * The rendered path must stay inside the destination's base folder.
 */
export interface PathVars {
  district: string;
  integration: string;
  extract: string;
  runId: string;
  at: Date;
  timezone: string;
}

const TOKEN = /\{([a-zA-Z]+)(?::([^}]*))?\}/g;
const KNOWN = new Set(['district', 'integration', 'extract', 'runId', 'date', 'time']);

/** Problems with a template that can be seen without rendering it; empty when fine. */
export function checkTemplate(template: string): string[] {
  const problems: string[] = [];
  for (const m of template.matchAll(TOKEN)) {
    if (!KNOWN.has(m[1]!)) problems.push(`unknown placeholder {${m[1]}} (use district, integration, extract, runId, date:YYYYMMDD, time:HHmm)`);
    if ((m[1] === 'date' || m[1] === 'time') && m[2] !== undefined && !/^[YMDHms_\-.]+$/.test(m[2])) problems.push(`{${m[1]}:${m[2]}} has an unknown format`);
  }
  // Render with sample values: a format like {date:..} must not be able to produce a ".." segment either.
  const sample: Parts = { YYYY: '2026', MM: '01', DD: '02', HH: '03', mm: '04', ss: '05' };
  const stripped = template.replace(TOKEN, (_all, name: string, fmt: string | undefined) =>
    name === 'date' ? formatParts(fmt ?? 'YYYYMMDD', sample) : name === 'time' ? formatParts(fmt ?? 'HHmm', sample) : 'x',
  );
  if (/[{}]/.test(stripped)) problems.push('has an unmatched { or }');
  if (stripped.includes('\0')) problems.push('contains a NUL character');
  if (stripped.split('/').includes('..')) problems.push('contains ".." and could leave the destination folder');
  if (stripped.endsWith('/')) problems.push('must end in a file name, not a folder');
  return problems;
}

export function renderRemotePath(template: string, basePath: string, vars: PathVars, integrationId: string): string {
  const parts = zonedParts(vars.at, vars.timezone);
  const rendered = template.replace(TOKEN, (_all, name: string, fmt: string | undefined) => {
    switch (name) {
      case 'district':
        return vars.district;
      case 'integration':
        return vars.integration;
      case 'extract':
        return vars.extract;
      case 'runId':
        return vars.runId;
      case 'date':
        return formatParts(fmt ?? 'YYYYMMDD', parts);
      case 'time':
        return formatParts(fmt ?? 'HHmm', parts);
      default:
        return `{${name}}`;
    }
  });
  return resolveInside(basePath, rendered, integrationId);
}

/** Join a relative path onto the base folder, refusing anything that would end up outside it. */
export function resolveInside(basePath: string, relative: string, integrationId: string): string {
  const base = path.posix.normalize(basePath.endsWith('/') ? basePath : `${basePath}/`);
  const escape = () =>
    new FerryError('path', `integration ${integrationId}: remotePath "${relative}" escapes the destination folder ${base}`, {
      integration: integrationId,
      field: 'remotePath',
    });
  if (relative.includes('\0') || relative.includes('\\') || relative.split('/').includes('..')) throw escape();
  const joined = path.posix.normalize(path.posix.join(base, relative.replace(/^\/+/, '')));
  if (!joined.startsWith(base) || joined === base || joined.endsWith('/')) throw escape();
  return joined;
}

type Parts = Record<'YYYY' | 'MM' | 'DD' | 'HH' | 'mm' | 'ss', string>;

const timeFormats = new Map<string, Intl.DateTimeFormat>();

function zonedParts(at: Date, timezone: string): Parts {
  let f = timeFormats.get(timezone);
  if (!f) timeFormats.set(timezone, (f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' })));
  const fmt = f.formatToParts(at);
  const get = (t: string) => fmt.find((p) => p.type === t)?.value ?? '00';
  const [YYYY, MM, DD] = dateInZone(at, timezone).split('-') as [string, string, string];
  return { YYYY, MM, DD, HH: get('hour') === '24' ? '00' : get('hour'), mm: get('minute'), ss: get('second') };
}

function formatParts(fmt: string, p: Parts): string {
  return fmt.replace(/YYYY|MM|DD|HH|mm|ss/g, (t) => p[t as keyof Parts]);
}
