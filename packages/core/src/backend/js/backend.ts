/**
 * Registers the JavaScript back end: generated JavaScript kernels over one arena, fused and
 * specialized to shapes at the first run (see executor.ts), with its lowerings (lowerings.ts).
 */
import { registerBackend } from '../../backends';
import { JsExecutor } from './executor';
import './lowerings';

registerBackend({
  name: 'js',
  doc: 'generated JavaScript over one arena (fused, specialized to shapes)',
  available: () => true,
  create: (graph, program, validate, opts) => new JsExecutor(graph, program, validate, opts),
});
