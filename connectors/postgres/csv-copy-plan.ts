import type pg from 'pg';
import type { ColumnDef } from '../../src/config/model.js';
import type { FormatOptions } from '../../src/config/schema.js';
import { compileNamedSql } from '../../src/core/named-sql.js';
import type { BoundQuery } from '../../src/core/source.js';

/**
 * The fast path for PostgreSQL → CSV: PostgreSQL writes the CSV body itself with COPY (… ) TO STDOUT, so no row
 * passes through JavaScript. It is used only when every output column can be written exactly as Ferry's own CSV
 * writer would write it (same dates, timestamps, booleans, NULLs and quoting); otherwise the caller streams rows.
 *
 * COPY takes no bind parameters, so values still travel as parameters: `SELECT set_config($1, $2, false)` stores each
 * in a session setting, and the query reads it back as `(SELECT current_setting('ferry.pN')::type)`, with the type
 * PostgreSQL itself inferred for `$N` (from PREPARE). Nothing from the data or the parameters is pasted into SQL.
 */
export interface CsvCopyPlan {
  /** Session settings to set, as bind parameters, before the COPY. */
  settings: [name: string, value: string][];
  copySql: string;
}

const OID = { bool: 16, int8: 20, int2: 21, int4: 23, text: 25, oid: 26, name: 19, varchar: 1043, date: 1082, timestamp: 1114, timestamptz: 1184, numeric: 1700, uuid: 2950 } as const;
const INTEGERS: readonly number[] = [OID.int2, OID.int4, OID.int8];
const TEXTLIKE: readonly number[] = [OID.text, OID.varchar, OID.name, OID.uuid, OID.oid, ...INTEGERS, OID.numeric];

export async function planCsvCopy(
  conn: pg.Client,
  query: BoundQuery,
  columns: readonly ColumnDef[],
  format: FormatOptions,
  withheld: readonly string[] = [],
): Promise<CsvCopyPlan | undefined> {
  const compiled0 = compileNamedSql(query.text, 'dollar');
  // The query becomes a subquery: drop one trailing semicolon (and any comment after it); more statements, no fast path.
  const body = compiled0.separators === 0 ? query.text : compiled0.separators === 1 ? stripFinalSemicolon(query.text) : undefined;
  if (body === undefined) return undefined;
  const compiled = compileNamedSql(body, 'dollar');
  if (compiled.separators > 0) return undefined;
  const values = compiled.order.map((n) => query.values[n] ?? null);

  let paramTypes: string[] = [];
  if (compiled.order.length > 0) {
    try {
      await conn.query(`PREPARE ferry_probe AS ${compiled.text}`);
      const res = await conn.query<{ types: string[] }>("SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = 'ferry_probe'");
      paramTypes = res.rows[0]?.types ?? [];
    } catch {
      return undefined; // the row path reports the real error
    } finally {
      await conn.query('DEALLOCATE ferry_probe').catch(() => undefined);
    }
  }
  let fields: { name: string; dataTypeID: number }[];
  try {
    fields = (await conn.query(`SELECT * FROM (${compiled.text}\n) AS ferry_q LIMIT 0`, values as unknown[])).fields;
  } catch {
    return undefined;
  }
  const byName = new Map(fields.map((f) => [f.name, f.dataTypeID]));
  // The same rule as the row path: every wanted column present, and nothing else but the withheld declared columns
  // (the outer SELECT names only the wanted ones, so withheld values never reach the file).
  const wanted = new Set(columns.map((c) => c.name));
  if (byName.size !== fields.length || columns.some((c) => !byName.has(c.name)) || fields.some((f) => !wanted.has(f.name) && !withheld.includes(f.name))) return undefined;

  const settings: [string, string][] = [];
  const args = compiled.order.map((_, i) => {
    const v = values[i];
    const type = paramTypes[i];
    if (!type || !/^[a-z0-9_ ."[\]]+$/i.test(type)) return undefined;
    if (v === null || v === undefined) return `NULL::${type}`;
    settings.push([`ferry.p${i + 1}`, toSettingText(v)]);
    return `(SELECT current_setting('ferry.p${i + 1}')::${type})`;
  });
  if (args.some((a) => a === undefined)) return undefined;
  settings.push(['ferry.true', format.booleans[0]], ['ferry.false', format.booleans[1]]);

  const exprs: string[] = [];
  for (const c of columns) {
    const e = cellExpression(`ferry_q.${quoteIdent(c.name)}`, c.type, byName.get(c.name)!, format.dateFormat);
    if (e === undefined) return undefined;
    exprs.push(`COALESCE(${e}, '')`);
  }
  // Each :name becomes a read of the setting that holds its value (string literals and comments are left alone).
  const text = compileNamedSql(body, (_name, index) => args[index - 1]!).text;
  const delimiter = format.delimiter === '\t' ? "E'\\t'" : `'${format.delimiter}'`;
  // Every column is COALESCEd, so the NULL marker (\x01) never appears; it only stops COPY from quoting empty strings.
  const copySql = `COPY (SELECT ${exprs.join(', ')} FROM (${text}\n) AS ferry_q) TO STDOUT WITH (FORMAT csv, DELIMITER ${delimiter}, NULL E'\\x01')`;
  return { settings, copySql };
}

/** How a column of this PostgreSQL type is written for this declared type, or undefined when only the row path can. */
function cellExpression(col: string, declared: ColumnDef['type'], oid: number, dateFormat: FormatOptions['dateFormat']): string | undefined {
  switch (declared) {
    case 'string':
      return TEXTLIKE.includes(oid) ? `${col}::text` : undefined;
    case 'integer':
      return INTEGERS.includes(oid) ? `${col}::text` : undefined;
    case 'decimal':
      return INTEGERS.includes(oid) || oid === OID.numeric ? `${col}::text` : undefined;
    case 'boolean':
      return oid === OID.bool ? `CASE WHEN ${col} THEN current_setting('ferry.true') WHEN NOT ${col} THEN current_setting('ferry.false') END` : undefined;
    case 'date':
      // DateStyle=ISO: date text is YYYY-MM-DD; a timestamp's date part in the session zone (UTC), as the row path does.
      if (dateFormat === 'MM/DD/YYYY') {
        // to_char reads a timestamptz in the session zone (UTC), as the row path takes its date part.
        return oid === OID.date || oid === OID.timestamp || oid === OID.timestamptz ? `CASE WHEN isfinite(${col}) THEN to_char(${col}, 'MM/DD/YYYY') END` : undefined;
      }
      if (oid === OID.date) return `CASE WHEN isfinite(${col}) THEN ${col}::text END`;
      if (oid === OID.timestamp || oid === OID.timestamptz) return `CASE WHEN isfinite(${col}) THEN left(${col}::text, 10) END`;
      return undefined;
    case 'timestamp':
      // TimeZone=UTC: timestamptz text always ends in +00, which the row path writes as Z.
      if (oid === OID.timestamptz) return `CASE WHEN isfinite(${col}) THEN replace(left(${col}::text, -3), ' ', 'T') || 'Z' END`;
      if (oid === OID.timestamp) return `CASE WHEN isfinite(${col}) THEN replace(${col}::text, ' ', 'T') END`;
      return undefined;
  }
}

/** Text up to the last semicolon, when only whitespace and line comments follow it. */
function stripFinalSemicolon(sql: string): string | undefined {
  const at = sql.lastIndexOf(';');
  return /^(\s|--[^\n]*)*$/.test(sql.slice(at + 1)) ? sql.slice(0, at) : undefined;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The text form PostgreSQL would parse a bound value from. */
function toSettingText(v: Exclude<BoundQuery['values'][string], null>): string {
  if (Array.isArray(v)) return `{${v.map((x) => `"${String(x).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
  return String(v);
}
