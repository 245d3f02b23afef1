import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../connectors/http/records.js';

describe('API records as rows', () => {
  it('reads dotted paths, keeps "" in text columns, and takes "" in a date or number column as no value', () => {
    const records = [{ name: { first: 'Ada' }, dob: '', grade: '', nick: '' }, { name: { first: '' }, dob: '2016-02-03', grade: '3', nick: 'A' }];
    expect(rowsOf(records, ['name.first', 'dob', 'grade', 'nick', 'missing'], ['string', 'date', 'integer', 'string', 'string'])).toEqual([
      ['Ada', null, null, '', null],
      ['', '2016-02-03', '3', 'A', null],
    ]);
  });
});
