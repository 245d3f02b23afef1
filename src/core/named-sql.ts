/**
 * Finds `:name` placeholders in SQL and rewrites them for a driver (`$1` for PostgreSQL, `?` for SQLite),
 * skipping string literals, quoted identifiers, comments, dollar-quoted bodies and `::` casts.
 * Values are bound by the driver; the text never contains them.
 */
/** `$1`-style (PostgreSQL), `?` (SQLite), or a function that writes the text for the nth distinct name (1-based). */
export type PlaceholderStyle = 'dollar' | 'question' | ((name: string, index: number) => string);

export interface CompiledSql {
  readonly text: string;
  /** Placeholder names in the order the driver expects values. */
  readonly order: readonly string[];
  /** Semicolons outside literals and comments (statement separators). */
  readonly separators: number;
}

/** `:name` (Ferry's SQL for PostgreSQL and SQLite) or `@name` (T-SQL, bound by name by the SQL Server driver). */
export type PlaceholderMarker = ':' | '@';

export function findPlaceholders(sql: string, marker: PlaceholderMarker = ':'): string[] {
  const names = new Set(compileNamedSql(sql, 'question', marker).order);
  if (marker === '@') {
    // T-SQL local variables are declared in the script itself; they are not parameters.
    for (const m of sql.matchAll(/\bDECLARE\s+@([A-Za-z_][A-Za-z0-9_]*)/gi)) names.delete(m[1]!);
  }
  return [...names];
}

export function compileNamedSql(sql: string, style: PlaceholderStyle, marker: PlaceholderMarker = ':'): CompiledSql {
  let out = '';
  const order: string[] = [];
  const indexOf = new Map<string, number>();
  let separators = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      const end = skipQuoted(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '$' && /[A-Za-z_$]/.test(next ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? n : end + tag[0].length;
        out += sql.slice(i, stop);
        i = stop;
      } else {
        out += c;
        i++;
      }
    } else if (c === ';') {
      separators++;
      out += c;
      i++;
    } else if (c === marker && next === marker) {
      // `::` casts in PostgreSQL, `@@VERSION`-style globals in T-SQL
      let j = i;
      while (sql[j] === marker) j++;
      out += sql.slice(i, j);
      i = j;
      if (marker === '@') {
        const m = /^[A-Za-z0-9_]*/.exec(sql.slice(i))!;
        out += m[0];
        i += m[0].length;
      }
    } else if (c === marker && /[A-Za-z_]/.test(next ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      const name = m[0];
      if (style !== 'question') {
        let idx = indexOf.get(name);
        if (idx === undefined) {
          order.push(name);
          idx = order.length;
          indexOf.set(name, idx);
        }
        out += style === 'dollar' ? `$${idx}` : style(name, idx);
      } else {
        order.push(name);
        out += '?';
      }
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, order, separators };
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
