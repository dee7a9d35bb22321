/**
 * Counter-based random numbers. Element i of a random node is a pure function of
 * (graph seed, node key, run counter, i), so the numbers don't depend on evaluation order, on
 * other nodes, or on the backend that computes them. Streams are split by hashing, not by state.
 */
import type { DType, TypedArray } from './dtype';

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then mixed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Folds any finite number (a seed may exceed 32 bits) into 32 bits. */
export function hashNumber(x: number): number {
  const lo = x >>> 0;
  const hi = Math.floor(x / 4294967296) >>> 0;
  return fmix32(lo ^ fmix32(hi + 0x9e3779b9));
}

/** A stream key: two 32-bit words. */
export interface StreamKey {
  readonly k0: number;
  readonly k1: number;
}

/** The stream of node `key` in a graph with `seed` at run `counter`. */
export function streamKey(seed: number, key: string, counter: number): StreamKey {
  const k0 = fmix32(hashNumber(seed) ^ hashString(key));
  const k1 = fmix32((k0 + Math.imul(hashNumber(counter), 0x9e3779b1)) >>> 0);
  return { k0, k1: fmix32(k1 ^ 0x5bd1e995) };
}

/** 32 random bits for counter i of a stream. */
export function bits32(k: StreamKey, i: number): number {
  let h = fmix32((Math.imul(i, 0x9e3779b1) ^ k.k0) >>> 0);
  h = fmix32((h + k.k1) >>> 0);
  return fmix32((h ^ Math.imul(i + 1, 0x27d4eb2f)) >>> 0);
}

const TWO_M24 = 1 / 16777216;
const TWO_M53 = 1 / 9007199254740992;

/** Uniform in [0, 1): 24 bits for float32, 53 bits (two draws) for float64. */
function uniformAt(k: StreamKey, i: number, f64: boolean): number {
  if (!f64) return (bits32(k, i) >>> 8) * TWO_M24;
  const hi = bits32(k, 2 * i) >>> 5; // 27 bits
  const lo = bits32(k, 2 * i + 1) >>> 6; // 26 bits
  return (hi * 67108864 + lo) * TWO_M53;
}

/** Fills `out` with U[low, high). */
export function fillUniform(out: TypedArray, dtype: DType, k: StreamKey, low = 0, high = 1): void {
  const f64 = dtype === 'float64';
  const span = high - low;
  for (let i = 0; i < out.length; i++) out[i] = low + span * uniformAt(k, i, f64);
}

/**
 * Fills `out` with N(mean, std²) by Box–Muller; element i uses uniforms 2i and 2i+1 of the
 * stream (shifted by half a step so the logarithm never sees 0).
 */
export function fillNormal(out: TypedArray, dtype: DType, k: StreamKey, mean = 0, std = 1): void {
  const f64 = dtype === 'float64';
  const half = f64 ? TWO_M53 / 2 : TWO_M24 / 2;
  for (let i = 0; i < out.length; i++) {
    const u1 = uniformAt(k, 2 * i, f64) + half;
    const u2 = uniformAt(k, 2 * i + 1, f64);
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
