/**
 * The optimizer on random graphs: for 500 expression graphs from `arbGraph` (every primitive,
 * float64, with the gradients of their loss wrt every input and param), the optimized program
 * run on the interpreter agrees with the program as written, element by element:
 *   |a − b| ≤ 1e-10·(1 + |a| + |b|)
 * which is at least as strict as the 1e-10·(1 + Σ|terms|) the issue asks (|a| ≤ Σ|terms|).
 * The IR verifier runs after every pass.
 *
 * And the compiled backend on the same graphs: the optimized program compiled to JavaScript
 * agrees with the interpreter running that same program to 1e-12 relative in float64, and to
 * float32 rounding (1e-5·(1 + |a| + |b|)) on float32 graphs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BACKENDS, compile } from '../compile';
import { GradError } from '../errors';
import { arbGraph, buildRecipe, type GraphCase } from '../testing/index';
import { lowerProgram } from './lower';
import { verifyProgram } from '../verify';

describe('optimized vs as written, and compiled vs interpreted, on random graphs with gradients', () => {
  it('500 graphs agree within 1e-10·(1 + |a| + |b|) in float64', () => {
    let graphs = 0;
    let elements = 0;
    let worst = 0;
    let before = 0;
    let after = 0;
    const fired = new Map<string, number>();
    fc.assert(
      fc.property(arbGraph(), (c) => {
        const b = c.build({ withGrad: true });
        const outs = [b.loss, ...b.values, ...b.grads];
        const asWritten = compile(b.graph, { outputs: outs, passes: [], backend: 'interpreter' }).run(b.feeds);
        b.graph.rngCounter = 0; // the same random numbers for both runs
        const exe = compile(b.graph, { outputs: outs, afterPass: (r) => verifyProgram(r.after, `after ${r.name}`), backend: 'interpreter' });
        const optimized = exe.run(b.feeds);
        graphs++;
        before += Object.keys(exe.source.nodes).length;
        after += Object.keys(exe.program.nodes).length;
        for (const p of exe.passes) for (const r of p.rewrites) fired.set(r.rule, (fired.get(r.rule) ?? 0) + r.forward + r.backward);
        asWritten.forEach((t, i) => {
          const o = optimized[i];
          expect(o.shape).toEqual(t.shape);
          for (let k = 0; k < t.size; k++) {
            const x = t.data[k];
            const y = o.data[k];
            elements++;
            if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
            const r = Math.abs(x - y) / (1 + Math.abs(x) + Math.abs(y));
            worst = Math.max(worst, r);
            if (!(r <= 1e-10)) throw new Error(`output ${i} element ${k}: ${x} as written, ${y} optimized`);
          }
        });
      }),
      { numRuns: 500, seed: 20240605 },
    );
    expect(graphs).toBe(500);
    const top = [...fired].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([r, n]) => `${r} ${n}`).join(', ');
    console.info(`random graphs: ${graphs} graphs, ${elements} elements compared, worst |a−b|/(1+|a|+|b|) = ${worst.toExponential(2)}; nodes ${before} → ${after}; rewrites: ${top}`);
  });

  /** Runs the optimized program on the compiled backend and on the interpreter; returns both. */
  function onBoth(c: GraphCase) {
    const b = c.build({ withGrad: true });
    const outs = [b.loss, ...b.values, ...b.grads];
    b.graph.rngCounter = 0;
    const js = compile(b.graph, { outputs: outs });
    const got = js.run(b.feeds);
    b.graph.rngCounter = 0;
    const want = compile(b.graph, { outputs: outs, backend: 'interpreter' }).run(b.feeds);
    return { js, got, want };
  }

  it('compiled backend, float64: 500 graphs within 1e-12 relative of the interpreter on the same program', () => {
    let worst = 0;
    let kernels = 0;
    let nodes = 0;
    fc.assert(
      fc.property(arbGraph(), (c) => {
        const { js, got, want } = onBoth(c);
        kernels += lowerProgram(js.program).kernels.length;
        nodes += Object.keys(js.program.nodes).length;
        want.forEach((t, i) => {
          expect(got[i].shape).toEqual(t.shape);
          for (let k = 0; k < t.size; k++) {
            const [x, y] = [t.data[k], got[i].data[k]];
            if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
            const r = Math.abs(x - y) / (Math.abs(x) + Math.abs(y));
            worst = Math.max(worst, r);
            if (!(r <= 1e-12)) throw new Error(`output ${i} element ${k}: ${x} on the interpreter, ${y} compiled\n${js.explain()}`);
          }
        });
      }),
      { numRuns: 500, seed: 20240605 },
    );
    console.info(`random graphs on the compiled backend: worst relative difference ${worst.toExponential(2)}; ${nodes} nodes ran as ${kernels} kernels`);
  });

  it('compiled backend, float32: 300 graphs within 1e-5·(1 + |a| + |b|) of the interpreter (fastMath)', () => {
    let worst = 0;
    fc.assert(
      fc.property(arbGraph({ dtype: 'float32' }), (c) => {
        const { got, want } = onBoth(c);
        want.forEach((t, i) => {
          expect(got[i].dtype).toBe(t.dtype);
          for (let k = 0; k < t.size; k++) {
            const [x, y] = [t.data[k], got[i].data[k]];
            if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
            const r = Math.abs(x - y) / (1 + Math.abs(x) + Math.abs(y));
            worst = Math.max(worst, r);
            if (!(r <= 1e-5)) throw new Error(`output ${i} element ${k}: ${x} on the interpreter, ${y} compiled`);
          }
        });
      }),
      { numRuns: 300, seed: 20240606 },
    );
    console.info(`random float32 graphs on the compiled backend: worst |a−b|/(1+|a|+|b|) = ${worst.toExponential(2)}`);
  });
});

/**
 * The GradErrors that refuse a gradient because a dim is known only at run time (documented in
 * docs/core.md, "Gradients and dims known only at run time"). Any other error fails the test.
 */
export const OPEN_DIM_REFUSALS: readonly RegExp[] = [
  /cannot differentiate a slice ending at \d+ along axis \d+, whose size is unknown until run time/,
  /cannot differentiate concat along axis \d+: input \d+ has an unknown size there/,
];

/**
 * Every dim declared `null`: the same random graphs with every input dim known only at run time
 * (params keep their shapes) must compute what the static-shape version computes — values,
 * gradients and second-order gradients — on every back end. The loop, not each rule, sums
 * broadcast gradients down, and it can't tell two open dims apart: it must decide at run time
 * (sumLike) wherever the static shapes can't.
 */
describe.each(BACKENDS)('every dim null vs static shapes, to order 2 (%s backend)', (backend) => {
  it('150 graphs: values and gradients to order 2 agree within 1e-9·(1 + |a| + |b|)', () => {
    let graphs = 0;
    let refused = 0;
    let worst = 0;
    let sumLikes = 0;
    fc.assert(
      fc.property(arbGraph({ openDims: true }), (c) => {
        const open = (() => {
          try {
            return c.build({ order: 2 });
          } catch (e) {
            if (e instanceof GradError && OPEN_DIM_REFUSALS.some((re) => re.test(e.message))) return null;
            throw e;
          }
        })();
        if (!open) {
          refused++;
          return;
        }
        const fixed = buildRecipe({ ...c.recipe, openDims: false }, { order: 2 });
        const outs = (b: typeof open) => [b.loss, ...b.values, ...b.grads, ...b.grads2];
        open.graph.rngCounter = 0;
        const exe = compile(open.graph, { outputs: outs(open), backend });
        const got = exe.run(open.feeds);
        const want = compile(fixed.graph, { outputs: outs(fixed), backend }).run(fixed.feeds);
        sumLikes += Object.values(exe.program.nodes).filter((n) => n.op === 'sumLike').length;
        graphs++;
        want.forEach((t, i) => {
          expect(got[i].shape, `output ${i}`).toEqual(t.shape);
          for (let k = 0; k < t.size; k++) {
            const [a, b] = [t.data[k], got[i].data[k]];
            if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
            const r = Math.abs(a - b) / (1 + Math.abs(a) + Math.abs(b));
            worst = Math.max(worst, r);
            if (!(r <= 1e-9)) throw new Error(`output ${i} element ${k}: ${a} with static shapes, ${b} with every dim null`);
          }
        });
      }),
      { numRuns: 150, seed: 20240612 },
    );
    expect(graphs).toBeGreaterThan(120);
    console.info(`every dim null (${backend}): ${graphs} graphs agree with static shapes to order 2 (worst ${worst.toExponential(2)}), ${refused} refused by a documented GradError; ${sumLikes} run-time sums in the optimized programs`);
  }, 240_000);
});
