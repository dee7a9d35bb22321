/**
 * Shapes. A static shape is `number[]`; a symbolic shape may hold `null` for a dim known only at
 * run time (a batch dim). Broadcasting follows NumPy: align from the right, a dim of 1 stretches.
 */
export type Shape = readonly number[];
export type SymShape = readonly (number | null)[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isStatic(shape: SymShape): shape is Shape {
  return shape.every((d) => d !== null);
}

export function shapeEq(a: SymShape, b: SymShape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function fmtShape(shape: SymShape): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/**
 * Broadcasts symbolic shapes. Returns null when they are incompatible. An unknown dim against a
 * known one k > 1 gives k (the run-time check decides); unknown against unknown stays unknown.
 */
export function broadcastShapes(...shapes: SymShape[]): (number | null)[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number | null>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i];
      const o = out[off + i];
      if (d === 1) continue;
      if (o === 1) out[off + i] = d;
      else if (d === null) continue;
      else if (o === null) out[off + i] = d;
      else if (o !== d) return null;
    }
  }
  return out;
}

/** Normalizes a possibly negative axis; returns -1 when out of range. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return Number.isInteger(a) && a >= 0 && a < rank ? a : -1;
}
