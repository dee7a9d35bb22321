import { produce } from 'immer';
import { describe, expect, it } from 'vitest';
import { buildProgram, compile, definePass, grad, Graph, programProblems, Tensor, verifyGraph, verifyProgram, VerifyError, type Program } from './index';

function sample() {
  const g = new Graph();
  const x = g.input('x', [null, 2], 'float64');
  const w = g.param('w', Tensor.from([[1], [2]], 'float64'));
  const y = x.matmul(w).sigmoid().sum();
  const [dw] = grad(y, [w]);
  return { g, program: buildProgram(g, { outputs: [y], updates: [[w, w.sub(dw)]] }) };
}

describe('IR verifier', () => {
  it('accepts a well-formed graph and program', () => {
    const { g, program } = sample();
    verifyGraph(g);
    expect(programProblems(program)).toEqual([]);
  });

  const corrupt = (recipe: (p: { -readonly [K in keyof Program]: any }) => void) => produce(sample().program as any, recipe as any) as unknown as Program;
  const findOp = (p: Program, op: string) => Object.values(p.nodes).find((n) => n.op === op)!.id;

  it('catches a node whose type disagrees with its shape rule', () => {
    const { program } = sample();
    const id = findOp(program, 'matmul');
    const bad = corrupt((p) => {
      p.nodes[id].type.shape = [null, 3];
    });
    expect(() => verifyProgram(bad)).toThrow(VerifyError);
    expect(() => verifyProgram(bad)).toThrow(/node %\d+ \(matmul\): recorded type float64\[\?,3\], the shape rule gives float64\[\?,1\]/);
  });

  it('catches wrong arity, missing inputs and cycles', () => {
    const { program } = sample();
    const id = findOp(program, 'sigmoid');
    expect(programProblems(corrupt((p) => void p.nodes[id].inputs.push(0)))).toEqual(expect.arrayContaining([expect.stringMatching(/has 2 inputs, the op takes 1/)]));
    expect(programProblems(corrupt((p) => void (p.nodes[id].inputs = [999])))).toEqual(expect.arrayContaining([expect.stringMatching(/input 0 \(%999\) does not exist/)]));
    const mm = findOp(program, 'matmul');
    // make matmul consume the sigmoid that consumes it
    const cyc = corrupt((p) => void (p.nodes[mm].inputs[0] = id));
    expect(programProblems(cyc).join('\n')).toMatch(/cycle through node/);
  });

  it('catches bad outputs and updates', () => {
    const { program } = sample();
    const mm = findOp(program, 'matmul');
    expect(programProblems(corrupt((p) => void (p.outputs = [12345])))).toEqual(['output 0 (%12345) does not exist']);
    expect(programProblems(corrupt((p) => void (p.updates[0][0] = mm))).join('\n')).toMatch(/target %\d+ is a matmul, not a param/);
  });
});

describe('verification during compile (GRADGRAPH_VERIFY=1, as in the test suite)', () => {
  it('names the pass that broke the IR', () => {
    expect(process.env.GRADGRAPH_VERIFY).toBe('1');
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const w = g.param('w', Tensor.from([[1], [2]], 'float64'));
    const loss = x.matmul(w).sigmoid().sum();
    const breaker = definePass('breaker', 'gives the matmul the wrong type', (p) => {
      const mm = Object.values(p.nodes).find((n) => n.op === 'matmul')!;
      return { ...p, nodes: { ...p.nodes, [mm.id]: { ...mm, type: { dtype: mm.type.dtype, shape: [null, 7] } } } };
    });
    let err: unknown;
    try {
      compile(g, { outputs: [loss], passes: [breaker] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifyError);
    expect((err as Error).message).toMatch(/the program after pass "breaker" is invalid[\s\S]*\(matmul\): recorded type float64\[\?,7\]/);
  });
});
