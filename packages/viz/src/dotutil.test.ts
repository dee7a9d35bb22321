import { describe, expect, it } from 'vitest';
import { attrs, leafName, q, visible, visibleStrings } from './dotutil';

describe('dotutil: text that reaches pictures and terminals', () => {
  it('visible spells control characters, line separators and bidi overrides as \\u text, and keeps newlines', () => {
    expect(visible('a\u001b[31mred\u001b[0m')).toBe('a\\u001b[31mred\\u001b[0m');
    expect(visible('bell\u0007 tab\t cr\r del\u007f c1\u0085')).toBe('bell\\u0007 tab\\u0009 cr\\u000d del\\u007f c1\\u0085');
    expect(visible('l\u2028s p\u2029s rtl\u202eoverride iso\u2066x\u2069')).toBe('l\\u2028s p\\u2029s rtl\\u202eoverride iso\\u2066x\\u2069');
    expect(visible('two\nlines, "quotes", ünïcødé ∇ ×3')).toBe('two\nlines, "quotes", ünïcødé ∇ ×3');
  });

  it('visibleStrings applies it to every string (and key) of a spec, leaving numbers and nesting alone', () => {
    const spec = { data: { values: [{ layer: 'l\u2028s', v: 1 }] }, sort: ['l\u2028s', 'b\u0007'], 'k\u001b': true, n: null };
    expect(visibleStrings(spec)).toEqual({ data: { values: [{ layer: 'l\\u2028s', v: 1 }] }, sort: ['l\\u2028s', 'b\\u0007'], 'k\\u001b': true, n: null });
  });

  it('leafName: the last segment; a name ending in "/" keeps it, so no label starts empty', () => {
    expect(leafName('enc/dense/kernel')).toBe('kernel');
    expect(leafName('kernel')).toBe('kernel');
    expect(leafName('w/')).toBe('w/');
    expect(leafName('enc/w//')).toBe('w//');
    expect(leafName('/')).toBe('/');
    expect(leafName('')).toBe('""');
  });

  it('q quotes for DOT: backslashes, quotes, newlines, & (Graphviz passes entities through), hidden characters', () => {
    expect(q('plain')).toBe('"plain"');
    expect(q('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(q('two\nlines\r\n')).toBe('"two\\nlines\\n"');
    expect(q('x&amp;y < z')).toBe('"x&amp;amp;y < z"');
    expect(q('\u001b[2J')).toBe('"\\\\u001b[2J"'); // Graphviz shows \u001b[2J
  });

  it('attrs drops the empty lines of labels (Graphviz-wasm crashes on labels that start with them)', () => {
    expect(attrs({ label: '\n\nname\n\nfloat32[3]\n', tooltip: '\nkept as is' })).toBe(' [label="name\\nfloat32[3]", tooltip="\\nkept as is"]');
    expect(attrs({ label: '\n', xlabel: '' })).toBe(' [label="\\"\\"", xlabel="\\"\\""]');
    expect(attrs({ label: 'a', width: 2, skipped: undefined })).toBe(' [label="a", width=2]');
  });
});
