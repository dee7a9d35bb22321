/**
 * Seeded randomness for data handling (splits, shuffles). Every use draws from its own
 * xoroshiro128+ generator whose 128-bit state is a hash of (seed, purpose, counter) — e.g.
 * (7, "batches", 2) for the third epoch — so its order never depends on how many numbers the
 * first two drew, and a split never depends on a shuffle. Same seed, same numbers, on every run.
 */
import { streamKey } from '@gradgraph/core';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { DataError, fmtValue } from './errors';

/** A seed is any safe integer (negative ones too). */
export function checkSeed(op: string, seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new DataError(`seed must be a safe integer, got ${fmtValue(seed)}`, { op });
  }
  return seed;
}

/** The generator for (seed, purpose, counter): independent streams for independent purposes. */
export function rngFor(seed: number, purpose: string, counter = 0): RandomGenerator {
  const lo = streamKey(seed, `gradgraph/data/${purpose}`, counter);
  const hi = streamKey(seed, `gradgraph/data/${purpose}/hi`, counter);
  const state = [lo.k0 | 0, lo.k1 | 0, hi.k0 | 0, hi.k1 | 0];
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1; // the all-zero state is a fixed point of xoroshiro
  return xoroshiro128plusFromState(state);
}

/** Fisher–Yates in place: every permutation equally likely (uniformInt rejects the modulo bias). */
export function shuffleInPlace(a: Int32Array | number[], rng: RandomGenerator): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/**
 * A seeded random permutation of 0..n-1. The same (n, seed) gives the same permutation on every
 * run and platform.
 *
 * @example
 * data.permutation(5, 42); // Int32Array [3, 2, 4, 0, 1], on every run
 */
export function permutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new DataError(`n must be a non-negative integer, got ${fmtValue(n)}`, { op: 'permutation' });
  checkSeed('permutation', seed);
  return permutationFrom(n, rngFor(seed, 'permutation'));
}

/** 0..n-1 shuffled by `rng`. */
export function permutationFrom(n: number, rng: RandomGenerator): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffleInPlace(p, rng);
  return p;
}
