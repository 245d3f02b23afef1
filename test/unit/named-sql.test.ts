import { describe, expect, it } from 'vitest';
import { compileNamedSql, findPlaceholders } from '../../src/core/named-sql.js';

describe('compileNamedSql', () => {
  const sql = 'SELECT * FROM s WHERE district_id = :districtId AND grade BETWEEN :gradeMin AND :gradeMax AND owner = :districtId';

  it('numbers placeholders for PostgreSQL, reusing the index of a repeated name', () => {
    expect(compileNamedSql(sql, 'dollar')).toMatchObject({
      text: 'SELECT * FROM s WHERE district_id = $1 AND grade BETWEEN $2 AND $3 AND owner = $1',
      order: ['districtId', 'gradeMin', 'gradeMax'],
    });
  });

  it('writes ? for SQLite, listing a repeated name once per use', () => {
    expect(compileNamedSql(sql, 'question')).toMatchObject({
      text: 'SELECT * FROM s WHERE district_id = ? AND grade BETWEEN ? AND ? AND owner = ?',
      order: ['districtId', 'gradeMin', 'gradeMax', 'districtId'],
    });
  });

  it.each([
    ['a string literal with a doubled quote', "SELECT 'it''s :not' AS x"],
    ['a quoted identifier', 'SELECT "col:x" FROM t'],
    ['a line comment', 'SELECT 1 -- :comment\n'],
    ['a block comment', 'SELECT /* :c */ 1'],
    ['a dollar-quoted body', 'DO $$ BEGIN PERFORM :body; END $$'],
    ['a tagged dollar-quoted body', 'SELECT $fn$ :body $fn$'],
    ['a :: cast', "SELECT '{a}'::text[], 1::int"],
    ['an array slice with a number', 'SELECT arr[1:2] FROM t'],
  ])('leaves %s alone', (_what, text) => {
    expect(compileNamedSql(text, 'dollar')).toMatchObject({ text, order: [] });
    expect(compileNamedSql(text, 'question')).toMatchObject({ text, order: [] });
  });

  it('binds a placeholder right next to a cast, and after a comment ends', () => {
    const text = "SELECT :ids::text[], 'x:y' -- :no\n, :asOf /* :no */ + :days";
    expect(compileNamedSql(text, 'dollar')).toMatchObject({
      text: "SELECT $1::text[], 'x:y' -- :no\n, $2 /* :no */ + $3",
      order: ['ids', 'asOf', 'days'],
    });
  });
});

describe('findPlaceholders', () => {
  it('lists each name once, in order of first use, ignoring quoted and commented text', () => {
    const sql = "SELECT :b, :a, :b, ':c', \"d:e\" -- :f\nFROM t /* :g */ WHERE x = :a_1";
    expect(findPlaceholders(sql)).toEqual(['b', 'a', 'a_1']);
  });

  it('finds none in SQL without placeholders', () => {
    expect(findPlaceholders("SELECT now()::date, '00:00'")).toEqual([]);
  });
});

describe('statement separators and custom placeholder text', () => {
  it('counts semicolons only outside literals and comments', () => {
    expect(compileNamedSql("SELECT ';' -- a; b\n/* c; */ FROM t;", 'dollar').separators).toBe(1);
    expect(compileNamedSql('SELECT 1; SELECT 2', 'dollar').separators).toBe(1);
    expect(compileNamedSql("SELECT $$;$$, 'x;y'", 'dollar').separators).toBe(0);
  });
  it('writes each distinct name through a function, with its 1-based index', () => {
    const c = compileNamedSql("SELECT :a, :b, :a, ':a'", (name, i) => `<${name}#${i}>`);
    expect(c.text).toBe("SELECT <a#1>, <b#2>, <a#1>, ':a'");
    expect(c.order).toEqual(['a', 'b']);
  });
});

describe('T-SQL placeholders (@name)', () => {
  it('finds @name parameters, not @@globals, declared locals, literals or comments', () => {
    const sql = "DECLARE @today date = GETDATE(); SELECT @@VERSION, @schoolYear, '@nope' -- @nor\nFROM v WHERE x IN (SELECT value FROM STRING_SPLIT(@buildings, ',')) AND d <= @today AND y = @schoolYear";
    expect(findPlaceholders(sql, '@').sort()).toEqual(['buildings', 'schoolYear']);
  });
  it('leaves :: casts alone in colon mode', () => {
    expect(compileNamedSql('SELECT :a::int, x::text', 'dollar').text).toBe('SELECT $1::int, x::text');
  });
});
