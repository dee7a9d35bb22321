import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvDataset, DataError, loadCsv, parseCsv, tableFromRecords, tableToDataset, type CategoricalColumn, type NumericColumn } from './index';

function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

const num = (c: unknown) => c as NumericColumn;
const cat = (c: unknown) => c as CategoricalColumn;

describe('parseCsv', () => {
  it('reads a header, numeric and categorical columns, and missing values', () => {
    const t = parseCsv('name,height,team\nAnn,1.70,red\nBo,NA,blue\nCy,1.9e0,\n');
    expect(t.numRows).toBe(3);
    expect(t.columns.map((c) => [c.name, c.kind])).toEqual([
      ['name', 'categorical'],
      ['height', 'numeric'],
      ['team', 'categorical'],
    ]);
    expect(Array.from(num(t.columns[1]).values)).toEqual([1.7, NaN, 1.9]);
    expect(t.columns[1].missing).toEqual([1]);
    expect(cat(t.columns[2]).values).toEqual(['red', 'blue', null]);
    expect(cat(t.columns[2]).categories).toEqual(['blue', 'red']);
    expect(Array.from(t.lines!)).toEqual([2, 3, 4]);
  });

  it('handles quoted fields: delimiters, doubled quotes, line breaks, spaces', () => {
    const t = parseCsv('a,b\r\n"x, y","say ""hi"""\r\n"two\nlines", " padded " \r\n  3 ,"4"\r\n');
    expect(cat(t.columns[0]).values).toEqual(['x, y', 'two\nlines', '3']);
    expect(cat(t.columns[1]).values).toEqual(['say "hi"', ' padded ', '4']);
    // the row after a quoted line break starts on line 5
    expect(Array.from(t.lines!)).toEqual([2, 3, 5]);
  });

  it('skips a byte-order mark and blank lines, reads without a header, with another delimiter', () => {
    const t = parseCsv('\uFEFFa;b\n\n1;2\n   \n3;4', { delimiter: ';' });
    expect(t.columns.map((c) => c.name)).toEqual(['a', 'b']);
    expect(Array.from(num(t.columns[1]).values)).toEqual([2, 4]);
    const h = parseCsv('1,2\n3,4\n', { header: false });
    expect(h.columns.map((c) => c.name)).toEqual(['c0', 'c1']);
    expect(h.numRows).toBe(2);
    expect(parseCsv('1,2\n', { header: false, columns: ['u', 'v'] }).columns[1].name).toBe('v');
    expect(parseCsv('a,b\n,\n').columns[0].missing).toEqual([0]);
  });

  it('lets types override the inferred kind', () => {
    const t = parseCsv('zip,v\n02134,1\n10001,2\n', { types: { zip: 'categorical' } });
    expect(cat(t.columns[0]).values).toEqual(['02134', '10001']);
    expect(() => parseCsv('a\nx\n', { types: { a: 'numeric' } })).toThrow(/row 0 \(line 2\), column "a": value "x" is not a number \(the column is numeric\)/);
    expect(() => parseCsv('a\n1\n', { types: { b: 'numeric' } })).toThrow(/types names a column "b" that is not in the header \(a\)/);
  });

  describe('bad data names the row, the line and the column', () => {
    it('a row with too few fields', () => {
      const e = dataError(() => parseCsv('a,b,c\n1,2,3\n4,5\n'));
      expect(e.message).toMatch(/^parseCsv: row 1 \(line 3\), column "c": ragged row: 2 fields, the header has 3 columns; this column and the ones after it are missing/);
      expect([e.row, e.line, e.column]).toEqual([1, 3, 'c']);
    });

    it('a row with too many fields', () => {
      expect(dataError(() => parseCsv('a,b\n1,2,3\n')).message).toMatch(/row 0 \(line 2\): ragged row: 3 fields, the header has 2 columns; 1 extra after column "b"/);
    });

    it('quoting mistakes', () => {
      expect(dataError(() => parseCsv('a,b\n1,"open\n2,3\n')).message).toMatch(/parseCsv: line 2: unterminated quoted field/);
      expect(dataError(() => parseCsv('a\n"x"y\n')).message).toMatch(/line 2: unexpected "y" after a closing quote/);
    });

    it('a stray word in a numeric column', () => {
      const e = dataError(() => parseCsv('id,hp\n1,130\n2,165\n3,one-fifty\n4,140\n'));
      expect(e.message).toMatch(/row 2 \(line 4\), column "hp": value "one-fifty" is not a number, but 3 of the column's 4 values are; .*types: \{ "hp": 'categorical' \}/);
    });

    it('a duplicate column name and empty text', () => {
      expect(() => parseCsv('a,b,a\n1,2,3\n')).toThrow(/line 1: duplicate column name "a" in the header/);
      expect(() => parseCsv('')).toThrow(/no header line: the text is empty/);
      expect(() => parseCsv('a\n1', { delimiter: '"' })).toThrow(/delimiter must be one character other than a quote or a line break/);
    });
  });
});

describe('csvDataset', () => {
  const text = ['sepal,petal,color,species', '5.1,1.4,red,setosa', '7.0,4.7,blue,versicolor', '6.3,6.0,red,virginica', '5.0,1.5,blue,setosa'].join('\n');

  it('turns numeric columns into features, categorical ones into one-hot columns, the target into labels', () => {
    const ds = csvDataset(text, { target: 'species' });
    expect(ds.featureNames).toEqual(['sepal', 'petal', 'color=blue', 'color=red']);
    expect(ds.x.toArray()[0]).toEqual([Math.fround(5.1), Math.fround(1.4), 0, 1]);
    expect(ds.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 2, 0]);
    expect(ds.labelName).toBe('species');
    const codes = csvDataset(text, { target: 'species', categorical: 'codes', features: ['color', 'petal'] });
    expect(codes.featureNames).toEqual(['color', 'petal']);
    expect(codes.x.toArray().map((r: number[]) => r[0])).toEqual([1, 0, 1, 0]);
  });

  it('reads a numeric target as a regression target, or as classes when asked', () => {
    const reg = csvDataset('x,y\n1,0.5\n2,1.5\n', { target: 'y' });
    expect(reg.targetNames).toEqual(['y']);
    expect(Array.from(reg.y!.data)).toEqual([0.5, 1.5]);
    const cls = csvDataset('x,digit\n1,7\n2,3\n3,7\n', { target: 'digit', task: 'classification' });
    expect(cls.classNames).toEqual(['3', '7']);
    expect(Array.from(cls.labels)).toEqual([1, 0, 1]);
    expect(() => csvDataset('x,y\n1,a\n', { target: 'y', task: 'regression' })).toThrow(/a regression target must be numeric; "y" holds text \(e.g. "a"\)/);
  });

  it("refuses missing values by default, naming the first; 'drop' drops the rows and says which", () => {
    const t = 'a,b,y\n1,2,p\n3,,q\nNA,6,p\n7,8,?\n9,10,q\n';
    const e = dataError(() => csvDataset(t, { target: 'y' }));
    expect(e.message).toMatch(/^csvDataset: row 1 \(line 3\), column "b": missing value \(pass missing: 'drop'/);
    const ds = csvDataset(t, { target: 'y', missing: 'drop' });
    expect(ds.size).toBe(2);
    expect(Array.from(ds.rowIds)).toEqual([0, 4]);
    expect(ds.notes[0]).toBe('dropped 3 of 5 rows with a missing value (a: 1, b: 1, y: 1); rows 1, 2, 3');
    // unused columns with missing values do not drop rows
    expect(csvDataset(t, { target: 'y', features: ['a'], missing: 'drop' }).size).toBe(3);
  });

  it('refuses a label outside the given classes and a non-finite number', () => {
    expect(dataError(() => csvDataset(text, { target: 'species', classNames: ['setosa', 'versicolor'] })).message).toMatch(
      /row 2 \(line 4\), column "species": label "virginica" is not one of the classes setosa, versicolor/,
    );
    expect(dataError(() => csvDataset('a,b\n1,2\n-inf,3\n')).message).toMatch(/row 1 \(line 3\), column "a": value is -Infinity/);
  });

  it('refuses unknown columns', () => {
    expect(() => csvDataset(text, { target: 'kind' })).toThrow(/no target column "kind"; the columns are sepal, petal, color, species/);
    expect(() => csvDataset(text, { features: ['sepal', 'leaf'] })).toThrow(/no feature column "leaf"/);
    expect(() => csvDataset(text, { target: 'species', features: ['species'] })).toThrow(/is both the target and a feature/);
  });

  it('loadCsv reads a file and names the data set after it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-csv-'));
    const file = join(dir, 'flowers.csv');
    writeFileSync(file, text);
    const ds = loadCsv(file, { target: 'species', ignore: ['color'] });
    expect(ds.name).toBe('flowers.csv');
    expect(ds.featureNames).toEqual(['sepal', 'petal']);
    expect(() => loadCsv(join(dir, 'nope.csv'))).toThrow(/loadCsv: cannot read ".*nope.csv"/);
  });
});

describe('tableFromRecords', () => {
  it('reads JSON records, null/NaN as missing', () => {
    const t = tableFromRecords([
      { a: 1, b: 'x' },
      { a: null, b: 'y' },
      { a: NaN, b: null },
    ]);
    expect(t.columns.map((c) => c.kind)).toEqual(['numeric', 'categorical']);
    expect(t.columns[0].missing).toEqual([1, 2]);
    const ds = tableToDataset(t, { target: 'b', missing: 'drop' });
    expect(ds.size).toBe(1);
    expect(dataError(() => tableToDataset(t, { target: 'b' })).message).toMatch(/^tableToDataset: row 1, column "a": missing value/);
  });
});

describe('bad input keeps its meaning or says what is wrong', () => {
  it('a number float32 cannot hold is refused by row, line and column; float64 keeps it', () => {
    const e = dataError(() => csvDataset('a,b\n1,2\n-1e39,3\n', { target: 'b' }));
    expect(e.message).toMatch(/^csvDataset: row 1 \(line 3\), column "a": value -1e\+39 is outside float32's range .* it would become -Infinity\): pass dtype: 'float64' to keep it/);
    expect(e.row).toBe(1);
    expect(csvDataset('a,b\n1,2\n-1e39,3\n', { target: 'b', dtype: 'float64' }).x.data[1]).toBe(-1e39);
    // a regression target too, and data.dataset itself
    expect(dataError(() => csvDataset('a,b\n1,2e39\n', { target: 'b' })).message).toMatch(/column "b": value 2e\+39 is outside float32's range/);
    expect(dataError(() => csvDataset('a,b\n1,2\n', { target: 'b', dtype: 'float16' as never })).message).toMatch(/dtype must be 'float32' or 'float64', got "float16"/);
  });

  it('an unknown option is refused, naming it (a typo would be ignored)', () => {
    expect(dataError(() => csvDataset('a,b\n1,2\n', { traget: 'b' } as never)).message).toMatch(/^csvDataset: unknown option "traget"; expected one of delimiter, header, .*target/);
    expect(dataError(() => parseCsv('a\n1\n', { target: 'a' } as never)).message).toMatch(/^parseCsv: unknown option "target"/);
    expect(dataError(() => tableToDataset(parseCsv('a\n1\n'), { header: true } as never)).message).toMatch(/^tableToDataset: unknown option "header"/);
  });

  it('loadCsv refuses a file that is not UTF-8, naming the line; encoding: latin1 reads it', () => {
    const d = mkdtempSync(join(tmpdir(), 'gradgraph-latin1-'));
    const path = join(d, 'towns.csv');
    // "é" in Latin-1 is the single byte 0xE9: not UTF-8
    writeFileSync(path, Buffer.concat([Buffer.from('town,pop\nLyon,5\n'), Buffer.from([0x4e, 0xee, 0x6d, 0x65, 0x73]), Buffer.from(',1\n')]));
    const e = dataError(() => loadCsv(path, { target: 'pop' }));
    expect(e.message).toMatch(/^loadCsv: line 3: ".*towns\.csv" is not UTF-8: byte 0xee at offset 17 is not part of a UTF-8 character \(a Latin-1 file\? pass encoding: 'latin1'\)/);
    expect(e.line).toBe(3);
    const ds = loadCsv(path, { target: 'pop', encoding: 'latin1' });
    expect(ds.featureNames).toEqual(['town=Lyon', 'town=Nîmes']);
    // UTF-8 (with a byte-order mark) reads as it is
    writeFileSync(path, '\ufefftown,pop\nNîmes,1\n');
    expect(loadCsv(path, { target: 'pop' }).featureNames).toEqual(['town=Nîmes']);
    expect(dataError(() => loadCsv(path, { encoding: 'ascii' as never })).message).toMatch(/encoding must be 'utf8' or 'latin1', got "ascii"/);
    expect(dataError(() => loadCsv(d)).message).toMatch(/cannot read ".*": it is a folder/);
  });
});
