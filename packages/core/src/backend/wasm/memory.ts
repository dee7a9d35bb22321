/// <reference path="./webassembly.d.ts" />
/**
 * The wasm back end's memory: one process-wide `WebAssembly.Memory`, shared between threads when
 * the platform allows it, and an allocator of 16-byte-aligned blocks inside it.
 *
 * API (for the executor and the kernels):
 * - `heap()` → the process-wide `Heap` (created on first use). `heap().shared` says whether it is
 *   a shared memory (then the thread pool may run; otherwise everything runs on one thread).
 * - `h.alloc(bytes)` → byte offset of a new 16-byte-aligned block (grows the memory as needed);
 *   `h.free(ptr)`; `h.sizeOf(ptr)`. Arenas of compiled programs and the graphs' param storage live
 *   in blocks between runs.
 * - Views: `h.f32`, `h.f64`, `h.i32`, `h.u32`, `h.u8` are typed arrays over the whole memory,
 *   re-made after growth (read them after any `alloc`, don't keep them across one); `h.view(ptr,
 *   dtype, length)` a typed array over one block.
 * - Bytes [0, CONTROL_BYTES) are the runtime's: the thread pool's and the kernels' sync words.
 *   Offset 0 is never a block, so 0 can mean "none".
 *
 * The memory's maximum is 2 GiB (32768 pages), so every byte offset is a non-negative i32 in
 * both JavaScript and wasm arithmetic.
 */
import { GraphError } from '../../errors';

export const PAGE_BYTES = 65536;
/** The runtime's reserved bytes at the bottom of memory (sync words of the pool and barriers). */
export const CONTROL_BYTES = 4096;
/** 2 GiB: byte offsets stay non-negative i32s. */
export const MAX_PAGES = 32768;
export const ALIGN = 16;
/** What `reserve` has faulted in beyond 1.25 times the bytes asked for. */
const RESERVE_SLACK = 1 << 20;

export type HeapDType = 'float32' | 'float64' | 'int32' | 'uint32' | 'uint8';

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  uint8: Uint8Array,
} as const;
type ArrayOf<D extends HeapDType> = InstanceType<(typeof ARRAYS)[D]>;

/** Whether this platform can share a wasm memory between threads (Node, or a cross-origin isolated page). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * A wasm memory with a first-fit allocator of 16-byte-aligned blocks. Free blocks are kept sorted
 * by address and merged with their neighbours, so a program's arena freed and allocated again
 * (a new specialization) reuses the same bytes.
 */
export class Heap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly maxPages: number;
  /** Free ranges [start, end), sorted, disjoint, never adjacent. */
  private readonly freeList: [number, number][] = [];
  private readonly used = new Map<number, number>();
  private buffer!: ArrayBuffer | SharedArrayBuffer;
  private readonly growthListeners: (() => void)[] = [];
  private readonly freshListeners: ((from: number, to: number) => void)[] = [];
  /** Bytes from here up were never in a block: still the zeros the memory grew with. */
  private neverUsed = CONTROL_BYTES;
  /** The end of the bytes `reserve` had faulted in so far. */
  private faultedEnd = 0;
  private views!: { [D in HeapDType]: ArrayOf<D> };

  constructor(opts: { shared?: boolean; initialPages?: number; maxPages?: number } = {}) {
    this.shared = opts.shared ?? canShareMemory();
    this.maxPages = opts.maxPages ?? MAX_PAGES;
    const initial = Math.max(1, opts.initialPages ?? 16);
    this.memory = new WebAssembly.Memory({ initial, maximum: this.maxPages, shared: this.shared } as WebAssembly.MemoryDescriptor);
    this.refresh();
    this.freeList.push([CONTROL_BYTES, this.byteLength]);
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Re-makes the views when the buffer changed (growth here or elsewhere). */
  private refresh(): void {
    const b = this.memory.buffer;
    if (b === this.buffer) return;
    this.buffer = b;
    this.views = {
      float32: new Float32Array(b),
      float64: new Float64Array(b),
      int32: new Int32Array(b),
      uint32: new Uint32Array(b),
      uint8: new Uint8Array(b),
    };
  }

  get f32(): Float32Array {
    this.refresh();
    return this.views.float32;
  }
  get f64(): Float64Array {
    this.refresh();
    return this.views.float64;
  }
  get i32(): Int32Array {
    this.refresh();
    return this.views.int32;
  }
  get u32(): Uint32Array {
    this.refresh();
    return this.views.uint32;
  }
  get u8(): Uint8Array {
    this.refresh();
    return this.views.uint8;
  }

  /** A typed array of `length` elements of `dtype` starting at byte `ptr` (valid until the memory grows). */
  view<D extends HeapDType>(ptr: number, dtype: D, length: number): ArrayOf<D> {
    const Arr = ARRAYS[dtype];
    if (ptr % Arr.BYTES_PER_ELEMENT !== 0) throw new GraphError(`byte offset ${ptr} is not aligned for ${dtype}`, { op: 'backend.wasm' });
    this.refresh();
    return new Arr(this.buffer as ArrayBuffer, ptr, length) as ArrayOf<D>;
  }

  /** Byte offset of a new block of at least `bytes` bytes, 16-byte aligned, contents unspecified. */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new GraphError(`cannot allocate ${bytes} bytes`, { op: 'backend.wasm' });
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (;;) {
      for (let i = 0; i < this.freeList.length; i++) {
        const [s, e] = this.freeList[i];
        if (e - s < size) continue;
        if (e - s === size) this.freeList.splice(i, 1);
        else this.freeList[i][0] = s + size;
        this.used.set(s, size);
        this.neverUsed = Math.max(this.neverUsed, s + size);
        return s;
      }
      this.grow(size);
    }
  }

  /**
   * `alloc`, and whether the block is known to hold zeros (no block ever covered its bytes since
   * the memory grew): a caller that would write zeros there can skip it, and leave the pages
   * unfaulted until something real is written.
   */
  allocZeroed(bytes: number): { ptr: number; zero: boolean } {
    const before = this.neverUsed;
    const ptr = this.alloc(bytes);
    return { ptr, zero: ptr >= before };
  }

  /** Returns a block to the free list (merging with its neighbours). */
  free(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new GraphError(`free of ${ptr}: not an allocated block`, { op: 'backend.wasm' });
    this.used.delete(ptr);
    this.release(ptr, ptr + size);
  }

  /** The size of the block at `ptr` (as rounded up by `alloc`). */
  sizeOf(ptr: number): number {
    const size = this.used.get(ptr);
    if (size === undefined) throw new GraphError(`${ptr} is not an allocated block`, { op: 'backend.wasm' });
    return size;
  }

  /** Bytes in blocks now allocated. */
  get allocatedBytes(): number {
    let n = 0;
    for (const s of this.used.values()) n += s;
    return n;
  }

  private release(s: number, e: number): void {
    const fl = this.freeList;
    let i = 0;
    while (i < fl.length && fl[i][0] < s) i++;
    const prev = i > 0 ? fl[i - 1] : undefined;
    const next = i < fl.length ? fl[i] : undefined;
    if (prev && prev[1] === s) {
      prev[1] = e;
      if (next && next[0] === e) {
        prev[1] = next[1];
        fl.splice(i, 1);
      }
    } else if (next && next[0] === e) next[0] = s;
    else fl.splice(i, 0, [s, e]);
  }

  /** Grows by enough pages for a block of `size` bytes at the end (at least half again the memory). */
  private grow(size: number): void {
    const oldBytes = this.byteLength;
    const last = this.freeList[this.freeList.length - 1];
    const tailFree = last && last[1] === oldBytes ? oldBytes - last[0] : 0;
    const needPages = Math.ceil((size - tailFree) / PAGE_BYTES);
    const pages = oldBytes / PAGE_BYTES;
    const want = Math.min(this.maxPages - pages, Math.max(needPages, Math.ceil(pages / 2)));
    if (want < needPages || want <= 0) {
      throw new GraphError(`the wasm memory is full: ${size} more bytes needed, ${oldBytes} in use of at most ${this.maxPages * PAGE_BYTES}`, { op: 'backend.wasm' });
    }
    this.memory.grow(want);
    this.refresh();
    this.release(oldBytes, this.byteLength);
    // a plain memory detached its old buffer: views kept elsewhere must be made again
    if (!this.shared) for (const f of this.growthListeners) f();
  }

  /**
   * Makes sure `bytes` can be allocated without growing the memory (grows it now if not), and has
   * the pages they will most likely land on — from the first free block that fits, with a
   * quarter as much again and 1 MiB after them for what comes next (a step's arena and feed
   * copies) — faulted in ahead of use, in the background (`onFreshPages`; the thread pool does
   * it), unless that was asked for before.
   */
  reserve(bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    // room for what comes after them too, so the step's arena lands on pages faulted in already
    // (growing by `size` alone left the arena past the end, on pages nobody had touched)
    const ahead = Math.ceil((Math.floor(size * 1.25) + RESERVE_SLACK) / ALIGN) * ALIGN;
    let block = this.freeList.find(([s, e]) => e - s >= ahead);
    if (!block) {
      this.grow(ahead);
      block = this.freeList.find(([s, e]) => e - s >= ahead)!;
    }
    const [start, end] = block;
    const want = Math.min(end, start + ahead);
    if (want <= this.faultedEnd) return;
    const from = Math.max(start, this.faultedEnd);
    this.faultedEnd = want;
    for (const f of this.freshListeners) f(from, want);
  }

  /**
   * Calls `f(from, to)` when `reserve` asks for the bytes [from, to) to be faulted in: pages that
   * are likely to be written soon and may never have been. The first write to such a page costs a
   * page fault — 15–30 µs a page on the 2-core virtual machine the benchmarks run on — and the
   * thread pool takes those off the calling thread.
   */
  onFreshPages(f: (from: number, to: number) => void): void {
    this.freshListeners.push(f);
  }

  /**
   * Calls `f` after the memory grew, when it is not shared (growth then detaches every view of
   * the old buffer; a shared memory's views stay valid). The wasm back end re-points the param
   * storages it moved into the heap here.
   */
  onGrowth(f: () => void): void {
    this.growthListeners.push(f);
  }
}

let processHeap: Heap | undefined;

/** The process-wide heap every compiled wasm program and the thread pool share (made on first use). */
export function heap(): Heap {
  processHeap ??= new Heap();
  return processHeap;
}
