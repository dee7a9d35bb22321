/**
 * @gradgraph/ops `adversarial`: L∞ adversarial examples (FGSM, PGD) built from gradients with
 * respect to the inputs, compiled once and run over batches, and accuracy under attack. See
 * docs/adversarial.md.
 */
import { registerLibraryPath } from '@gradgraph/core';

// the package index registers all of ops; this keeps origins right when adversarial is imported alone
registerLibraryPath(new URL('.', import.meta.url).href);

export { AttackError } from './errors';
export { attacker, Attacker, type AttackerOptions, type FgsmOptions, type PgdOptions, type AttackSpec, type AttackResult } from './attack';
