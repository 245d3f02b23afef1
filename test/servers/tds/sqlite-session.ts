/**
 * Runs the T-SQL a test sends on SQLite (better-sqlite3), one database handle per TDS connection.
 *
 * What of T-SQL works: whatever SQLite accepts (it takes `[bracketed]` names and `@name` parameters natively), plus
 * - `STRING_SPLIT(@list, ',')`: a table-valued function returning `value`;
 * - `SERVERPROPERTY('ProductVersion' | 'ProductLevel' | 'Edition' | 'MachineName' | 'ServerName')` and `DB_NAME()`
 *   (the database named at login);
 * - `@@VERSION`, rewritten to the function `ferry_version()`;
 * - `N'…'` literals (the `N` is dropped) and `SET NOCOUNT ON|OFF;` (removed); batches of only `SET` statements succeed;
 * - `COLLATE Latin1_General_BIN2` (code-point order), rewritten to SQLite's `COLLATE BINARY` (the same order);
 * - `STRING_AGG(expr, sep) WITHIN GROUP (ORDER BY …)` (SQL Server 2017+), rewritten to SQLite's
 *   `string_agg(expr, sep ORDER BY …)`; the arguments and the ORDER BY may not contain parentheses.
 * `CONCAT`, `SUBSTRING`, `ABS`, `COALESCE`, `CASE`, `CAST(… AS nvarchar(n))` and `ROW_NUMBER() OVER (…)` need nothing:
 * SQLite has them with the same meaning.
 * Result column types come from the declared column types (INT, BIGINT, BIT, NVARCHAR(n), VARCHAR(n), DATE, DATETIME2,
 * DECIMAL(p,s), FLOAT…), from the server's `columnTypes` option by result column name, or else from the first value.
 */
import Database from 'better-sqlite3';
import type { BindValue } from './requests.js';
import { SERVER_NAME } from './tokens.js';
import { parseDeclaredType, SqlError, typeOfValue, type ResultColumn } from './types.js';

export interface SessionOptions {
  readonly path: string;
  readonly database: string;
  readonly serverVersion: string;
  /** SQL Server type names by result column name (case-insensitive), for columns SQLite types loosely (TEXT dates, 0/1 flags). */
  readonly columnTypes?: Readonly<Record<string, string>> | undefined;
}

export type Execution =
  | { readonly kind: 'rows'; readonly columns: readonly ResultColumn[]; readonly rows: Generator<unknown[], void, undefined> }
  | { readonly kind: 'count'; readonly count: number };

export class SqlSession {
  private readonly db: Database.Database;
  private readonly overrides = new Map<string, string>();

  constructor(private readonly opts: SessionOptions) {
    this.db = new Database(opts.path, { fileMustExist: true });
    for (const [name, type] of Object.entries(opts.columnTypes ?? {})) this.overrides.set(name.toLowerCase(), type);
    const properties: Record<string, string> = {
      productversion: opts.serverVersion,
      productlevel: 'RTM',
      edition: 'Developer Edition (64-bit)',
      machinename: SERVER_NAME,
      servername: SERVER_NAME,
    };
    this.db.function('SERVERPROPERTY', { deterministic: true }, (name: unknown) => properties[String(name).toLowerCase()] ?? null);
    this.db.function('DB_NAME', { deterministic: true }, () => opts.database);
    this.db.function('ferry_version', { deterministic: true }, () => versionBanner(opts.serverVersion));
    this.db.table('STRING_SPLIT', {
      columns: ['value'],
      parameters: ['string', 'separator'],
      *rows(string: unknown, separator: unknown) {
        if (string === null || string === undefined) return;
        const sep = String(separator ?? '');
        if (sep.length !== 1) throw new Error('Procedure expects parameter \'separator\' of type \'nchar(1)/nvarchar(1)\'.');
        for (const value of String(string).split(sep)) yield { value };
      },
    });
  }

  /** Runs one statement. Rows are read lazily: the generator holds SQLite's cursor until it finishes or is returned. */
  execute(sql: string, params: Readonly<Record<string, BindValue>>): Execution {
    let stmt: Database.Statement;
    try {
      stmt = this.db.prepare(translate(sql));
    } catch (err) {
      throw toSqlError(err);
    }
    try {
      if (!stmt.reader) return { kind: 'count', count: stmt.run(params).changes };
      stmt.safeIntegers(true);
      stmt.raw(true);
      const meta = stmt.columns();
      const iterator = stmt.iterate(params) as IterableIterator<unknown[]>;
      const first = iterator.next();
      const columns = meta.map((c, i): ResultColumn => {
        const declared = this.overrides.get(c.name.toLowerCase()) ?? c.type;
        const type = (declared ? parseDeclaredType(declared) : undefined) ?? typeOfValue(first.done ? null : first.value[i]);
        return { name: c.name, type };
      });
      return { kind: 'rows', columns, rows: rowsFrom(first, iterator) };
    } catch (err) {
      throw toSqlError(err);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function* rowsFrom(first: IteratorResult<unknown[]>, iterator: IterableIterator<unknown[]>): Generator<unknown[], void, undefined> {
  try {
    if (first.done) return;
    yield first.value;
    for (;;) {
      let next: IteratorResult<unknown[]>;
      try {
        next = iterator.next();
      } catch (err) {
        throw toSqlError(err);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    iterator.return?.(); // releases the statement when the client stops early
  }
}

/** True for an empty batch or one of only SET statements (tedious sends one right after login). */
export function isSetOnly(sql: string): boolean {
  const statements = stripComments(sql)
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return statements.every((s) => /^set\s/i.test(s));
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

function translate(sql: string): string {
  return sql
    .replace(/@@VERSION\b/gi, 'ferry_version()')
    .replace(/(^|[^\w'])N'/g, "$1'")
    .replace(/\bSET\s+NOCOUNT\s+(ON|OFF)\s*;?/gi, '')
    .replace(/\bCOLLATE\s+Latin1_General_BIN2\b/gi, 'COLLATE BINARY')
    .replace(/\bSTRING_AGG\s*\(([^()]*)\)\s*WITHIN\s+GROUP\s*\(\s*(ORDER\s+BY\s+[^()]*?)\s*\)/gi, 'string_agg($1 $2)');
}

function versionBanner(version: string): string {
  return `Microsoft SQL Server 2022 (RTM) - ${version} (X64)\n\tFerry TDS test server (SQLite backend)`;
}

/** SQLite's message as the SQL Server error a client would see for the same mistake. */
export function toSqlError(err: unknown): SqlError {
  if (err instanceof SqlError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const rules: [RegExp, (m: RegExpExecArray) => SqlError][] = [
    [/no such table: (?:main\.)?(.+)/, (m) => new SqlError(208, `Invalid object name '${m[1]}'.`)],
    [/no such column: (.+)/, (m) => new SqlError(207, `Invalid column name '${m[1]}'.`)],
    [/Missing named parameter "(.+)"/, (m) => new SqlError(137, `Must declare the scalar variable "@${m[1]}".`)],
    [/near "(.+)": syntax error/, (m) => new SqlError(102, `Incorrect syntax near '${m[1]}'.`)],
    [/no such function: (.+)/, (m) => new SqlError(195, `'${m[1]}' is not a recognized built-in function name.`)],
  ];
  for (const [re, make] of rules) {
    const m = re.exec(message);
    if (m) return make(m);
  }
  return new SqlError(50000, message);
}
