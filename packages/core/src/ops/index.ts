/** Registers the built-in primitives, in a fixed order. */
import { registerOp, type OpDef } from '../registry';
import { binaryOps, unaryOps, whereOp } from './elementwise';
import { matmulOp } from './linalg';
import { fusedOps } from './fused';
import { castOp, randomOps, sourceOps, stopGradientOp } from './misc';
import { reduceOps, softmaxOps } from './reduce';
import { shapeOps } from './shape';
import { convOps } from './conv';
import { atan2Op, mathUnaryOps } from './math';
import { scanOps } from './scan';
import { flipOp } from './flip';

/** Every built-in primitive. */
export const builtinOps: readonly OpDef<any>[] = [
  ...sourceOps,
  ...unaryOps,
  ...binaryOps,
  whereOp,
  castOp,
  stopGradientOp,
  ...reduceOps,
  ...softmaxOps,
  matmulOp,
  ...shapeOps,
  ...randomOps,
  ...fusedOps,
  ...convOps,
  ...mathUnaryOps,
  atan2Op,
  ...scanOps,
  flipOp,
];

for (const def of builtinOps) registerOp(def);

export const builtinOpNames: readonly string[] = builtinOps.map((d) => d.name);
