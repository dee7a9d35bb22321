/**
 * The transformations on random graphs from `arbGraph` (every primitive with an applicator), on
 * every back end:
 *  - jvp agrees with float64 central differences (rtol 1e-7, gradcheck's kink rule);
 *  - jvp is the transpose of grad: ⟨jvp(v), u⟩ = ⟨v, vjp(u)⟩ to 1e-10 of Σ|terms|;
 *  - vmap(f)(xs) equals stacking f(x) over the examples, in value and gradient;
 *  - perExampleGrads equals looping grad over single examples;
 *  - jacfwd equals jacobian.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as api from './api';
import { grad, jacobian } from './autodiff';
import { BACKENDS, compile, type Backend } from './compile';
import { gradcheck, formatReport } from './gradcheck';
import { Graph, type Sym } from './graph';
import { Tensor } from './tensor';
import { applyRecipe, arbGraph, graphApplicators, recipeValue, type GraphRecipe } from './testing/index';
import { jacfwd, jvp, perExampleGrads, vmap } from './transforms';

const ALL = Object.keys(graphApplicators);
/** Not random: a batched random node draws other numbers than the examples run one by one. */
const DETERMINISTIC = ALL.filter((op) => !op.startsWith('random'));
/**
 * Not `cast`: the random graphs cast float64 → float32 → float64, which rounds the tangent (jvp)
 * and the cotangent (grad) to float32 at different points, so jvp and vjp agree to float32
 * precision only, and central differences see float32's staircase.
 */
const FULL_PRECISION = ALL.filter((op) => op !== 'cast');
/** Nor `stopGradient`, whose derivative is zero by definition, not the function's. */
const TRUE_DERIVATIVES = FULL_PRECISION.filter((op) => op !== 'stopGradient');

/** |a − b| ≤ tol·scale element by element, or a readable failure. */
function expectClose(got: Tensor, want: Tensor, tol: number, what: string): void {
  expect(got.shape).toEqual(want.shape);
  for (let i = 0; i < got.size; i++) {
    const a = got.data[i];
    const b = want.data[i];
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    if (!(Math.abs(a - b) <= tol * (1 + Math.abs(a) + Math.abs(b)))) throw new Error(`${what}, element ${i}: ${a} vs ${b}`);
  }
}

const slice = (x: Sym, axis: number, b: number): Sym =>
  api.squeeze(api.slice(x, x.shape.map((_d, k) => (k === axis ? b : 0)), x.shape.map((d, k) => (k === axis ? 1 : d!))), [axis]);

describe.each(BACKENDS)('transformations on random graphs (%s backend)', (backend: Backend) => {
  it('jvp agrees with float64 central differences (rtol 1e-7, kinks by gradcheck’s rule)', () => {
    let checked = 0;
    fc.assert(
      fc.property(arbGraph({ ops: TRUE_DERIVATIVES }), (c) => {
        const recipe = c.recipe;
        const inputs = recipe.inputs.map((_s, i) => recipeValue(recipe, `x${i}`));
        const fn = (...xs: Sym[]) => {
          const g = xs[0].graph;
          const ps = recipe.params.map((_s, i) => g.param(`p${i}`, recipeValue(recipe, `p${i}`)));
          return applyRecipe(recipe, xs, ps).loss;
        };
        const r = gradcheck(fn, inputs, { modes: ['fwd'], mode: 'projection', projections: 2, eps: 1e-5, rtol: 1e-7, atol: 1e-9, compile: { backend } });
        if (!r.ok) throw new Error(formatReport(r));
        checked++;
      }),
      { numRuns: 80, seed: 16001 },
    );
    expect(checked).toBe(80);
  });

  it('jvp is the transpose of grad: ⟨jvp(v), u⟩ = ⟨v, vjp(u)⟩ to 1e-10 of Σ|terms|', () => {
    let worst = 0;
    fc.assert(
      fc.property(arbGraph({ ops: FULL_PRECISION }), (c) => {
        const b = c.build();
        const g = b.graph;
        const y = b.values.length ? b.values[b.values.length - 1] : b.loss;
        const xs = [...b.inputs, ...b.params];
        const vs = xs.map((x, i) => g.constant(Tensor.randn(x.shape as number[], 'float64', 100 + i)));
        const u = g.constant(Tensor.randn(y.shape as number[], 'float64', 99));
        const [ty] = jvp([y], xs, vs);
        const cots = grad(y, xs, u);
        const fwd = api.mul(ty, u);
        const rev = cots.map((gx, i) => api.mul(gx, vs[i]));
        // Σ|u|·Σ|v|: the size of the products both sides are made of, for a floor when they cancel
        // to next to nothing (logSoftmax over an axis of 1: dy − 1·dy)
        const sizes = api.mul(api.sum(api.abs(u)), api.addN(vs.map((v) => api.sum(api.abs(v)))));
        const outs = [api.sum(fwd), api.sum(api.abs(fwd)), sizes, ...rev.flatMap((t) => [api.sum(t), api.sum(api.abs(t))])];
        const vals = compile(g, { outputs: outs, backend }).run(b.feeds).map((t) => t.data[0]);
        const lhs = vals[0];
        let rhs = 0;
        let scale = vals[1];
        let revScale = 0;
        for (let i = 3; i < vals.length; i += 2) {
          rhs += vals[i];
          revScale += vals[i + 1];
        }
        scale = Math.max(scale, revScale, 1e-6 * vals[2]);
        const err = Math.abs(lhs - rhs) / (scale || 1);
        worst = Math.max(worst, err);
        if (!(err <= 1e-10)) throw new Error(`⟨jvp(v), u⟩ = ${lhs}, ⟨v, vjp(u)⟩ = ${rhs}, Σ|terms| = ${scale}`);
      }),
      { numRuns: 150, seed: 16002 },
    );
    console.info(`jvp/vjp transposition on ${backend}: worst |⟨jvp(v),u⟩ − ⟨v,vjp(u)⟩| / Σ|terms| = ${worst.toExponential(2)}`);
  });

  it('vmap(f)(xs) equals stacking f(x) over the examples, in value and gradient', () => {
    fc.assert(
      fc.property(arbGraph({ ops: DETERMINISTIC }), fc.integer({ min: 1, max: 3 }), fc.array(fc.nat({ max: 99 }), { minLength: 3, maxLength: 3 }), (c, B, picks) => {
        const recipe = c.recipe;
        const g = new Graph({ seed: recipe.seed });
        // each input batched along a random axis, or (not the first) shared by every example
        const inAxes = recipe.inputs.map((s, i) => (i > 0 && picks[i] % 3 === 0 ? null : picks[i] % (s.length + 1)));
        const feeds: Record<string, Tensor> = {};
        const xs = recipe.inputs.map((s, i) => {
          const ax = inAxes[i];
          const examples = Array.from({ length: B }, (_u, b) => recipeValue(recipe, `x${i}`, b));
          feeds[`x${i}`] = ax === null ? examples[0] : stack(examples, ax);
          return g.input(`x${i}`, feeds[`x${i}`].shape, 'float64');
        });
        const ps = recipe.params.map((_s, i) => g.param(`p${i}`, recipeValue(recipe, `p${i}`)));
        const f = (...ex: Sym[]): Sym[] => {
          const r = applyRecipe(recipe, ex, ps);
          return [r.loss, ...r.values.slice(-2)];
        };
        const perExample = Array.from({ length: B }, (_u, b) => f(...xs.map((x, i) => (inAxes[i] === null ? x : slice(x, inAxes[i]!, b)))));
        // the batch axis first or second in each result (a scalar's can only be first)
        const outAxes = perExample[0].map((y) => Math.min(picks[2] % 2, y.rank));
        const batched = vmap(f, { inAxes, outAxes })(...xs);
        const stacked = outAxes.map((a, k) => api.concat(perExample.map((ys) => api.expandDims(ys[k], a)), a));
        const wrt = [...xs.filter((_x, i) => inAxes[i] !== null), ...ps];
        const proj = (ys: Sym[]) => api.addN(ys.map((y, k) => api.sum(api.mul(y, g.constant(Tensor.randn(y.shape as number[], 'float64', 50 + k))))));
        const got = compile(g, { outputs: [...batched, ...grad(proj(batched), wrt)], backend }).run(feeds);
        const want = compile(g, { outputs: [...stacked, ...grad(proj(stacked), wrt)], backend }).run(feeds);
        got.forEach((t, k) => expectClose(t, want[k], 1e-9, `output ${k} (inAxes ${JSON.stringify(inAxes)}, outAxes ${JSON.stringify(outAxes)}, B ${B})`));
      }),
      { numRuns: 100, seed: 16003 },
    );
  });

  it('perExampleGrads equals looping grad over single examples', () => {
    fc.assert(
      fc.property(arbGraph({ ops: DETERMINISTIC, maxParams: 2 }), fc.integer({ min: 1, max: 3 }), (c, B) => {
        const recipe: GraphRecipe = c.recipe.params.length ? c.recipe : { ...c.recipe, params: [[2]] };
        const g = new Graph({ seed: recipe.seed });
        const feeds: Record<string, Tensor> = {};
        const xs = recipe.inputs.map((_s, i) => {
          feeds[`x${i}`] = stack(Array.from({ length: B }, (_u, b) => recipeValue(recipe, `x${i}`, b)), 0);
          return g.input(`x${i}`, feeds[`x${i}`].shape, 'float64');
        });
        const ps = recipe.params.map((_s, i) => g.param(`p${i}`, recipeValue(recipe, `p${i}`)));
        const lossFn = (params: Sym[], ...ex: Sym[]) => applyRecipe(recipe, ex, params).loss;
        const per = perExampleGrads(lossFn, ps, xs);
        const loop = ps.map((_p, j) => api.concat(Array.from({ length: B }, (_u, b) => api.expandDims(grad(lossFn(ps, ...xs.map((x) => slice(x, 0, b))), ps)[j], 0)), 0));
        per.forEach((p, j) => expect(p.shape).toEqual([B, ...ps[j].shape]));
        const got = compile(g, { outputs: per, backend }).run(feeds);
        const want = compile(g, { outputs: loop, backend }).run(feeds);
        got.forEach((t, k) => expectClose(t, want[k], 1e-9, `param ${k}`));
      }),
      { numRuns: 80, seed: 16004 },
    );
  });

  it('jacfwd equals jacobian', () => {
    fc.assert(
      fc.property(arbGraph({ ops: FULL_PRECISION }), (c) => {
        const b = c.build();
        const y = b.values.length ? b.values[b.values.length - 1] : b.loss;
        const x = b.inputs[0];
        const outs = [jacfwd(y, x), jacobian(y, x)];
        expect(outs[0].shape).toEqual(outs[1].shape);
        const [f, r] = compile(b.graph, { outputs: outs, backend }).run(b.feeds);
        expectClose(f, r, 1e-10, 'jacfwd vs jacobian');
      }),
      { numRuns: 80, seed: 16005 },
    );
  });
});

/** Equal-shaped tensors stacked along a new `axis`. */
function stack(ts: readonly Tensor[], axis: number): Tensor {
  const shape = [...ts[0].shape.slice(0, axis), ts.length, ...ts[0].shape.slice(axis)];
  const out = new Tensor(ts[0].dtype, shape);
  const outer = ts[0].shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = ts[0].size / outer;
  ts.forEach((t, b) => {
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out.data[(o * ts.length + b) * inner + i] = t.data[o * inner + i];
  });
  return out;
}
