/**
 * The data shapes viz draws. Other packages feed these: `gradientFlow` fills `GradientFlow`,
 * `train.fit` fills `History`, the optimizing compiler fills `CompiledOverlay` and `PassRecord`.
 */
import type { Node, Program } from '@gradgraph/core';

/** A gradient that shrank (vanishing) or grew (exploding) past a threshold fixed in advance. */
export type Flag = 'vanishing' | 'exploding';

/**
 * The flag thresholds, as ratios to a per-layer norm seen nearer the loss (see `gradientFlow`):
 * a layer (or edge) is vanishing when its norm is below `vanish` × the largest per-layer norm
 * from it to the loss, exploding when above `explode` × the smallest one. Non-finite norms are
 * always exploding.
 */
export interface Thresholds {
  readonly vanish: number;
  readonly explode: number;
}

/** The gradient flowing back along one edge `from → to` (input `input` of node `to`). */
export interface EdgeGrad {
  readonly from: number;
  readonly to: number;
  readonly input: number;
  /** ‖∂L/∂from‖₂ through this edge only (the VJP of `to` for that input). */
  readonly norm: number;
  readonly flag?: Flag;
}

export interface ParamGrad {
  readonly id: number;
  readonly name: string;
  readonly layer: string;
  readonly size: number;
  /** ‖∂L/∂p‖₂, averaged over the recorded window. */
  readonly norm: number;
  readonly meanAbs: number;
  readonly maxAbs: number;
}

export interface LayerGrad {
  readonly layer: string;
  /** √Σ‖∂L/∂p‖² over the layer's params. */
  readonly norm: number;
  /** Mean |∂L/∂p| over every element of the layer's params. */
  readonly meanAbs: number;
  /** Max |∂L/∂p| over them. */
  readonly maxAbs: number;
  readonly params: readonly string[];
  /** Creation order of the layer's last node: larger is nearer the loss. */
  readonly position: number;
  readonly flag?: Flag;
}

/** Gradient norms per edge, per param and per layer, for one step or averaged over a window. */
export interface GradientFlow {
  /** The steps the numbers come from (averaged when more than one). */
  readonly steps: readonly number[];
  readonly edges: readonly EdgeGrad[];
  readonly params: readonly ParamGrad[];
  /** Layers in order from the input side to the loss. */
  readonly layers: readonly LayerGrad[];
  readonly thresholds: Thresholds;
  /** The largest per-layer norm. */
  readonly reference: number;
}

/** Per-layer gradient norms of one recorded step. */
export interface GradientRecord {
  readonly step: number;
  readonly layers: readonly { readonly layer: string; readonly norm: number }[];
}

/** One epoch of training as `train.fit` reports it. */
export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss?: number;
  /** Named metrics; a `val_` prefix marks validation values (`acc`, `val_acc`). */
  readonly metrics?: Readonly<Record<string, number>>;
}

/** Training history: what `train.fit` returns, or any loop can build. */
export interface History {
  readonly epochs: readonly EpochRecord[];
  /** The epoch at which early stopping ended training. */
  readonly stoppedAt?: number;
  /** The epoch whose weights were kept (the best validation loss). */
  readonly bestEpoch?: number;
}

/** What the optimizing compiler knows about a compiled program, for the compiled view. */
export interface CompiledOverlay {
  /** Fused kernels: each becomes a cluster of its nodes. */
  readonly kernels?: readonly { readonly name: string; readonly nodes: readonly number[]; readonly kind?: string }[];
  /** Memory plan: node id → arena slot (a Map or a plain record). */
  readonly slots?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** Slot sizes in bytes, by slot, when known (shown in the legend). */
  readonly slotBytes?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** Dead nodes each pass removed: drawn as ghosts labelled with the pass. */
  readonly removed?: readonly { readonly pass: string; readonly nodes: readonly Node[] }[];
}

/** A JSON patch as immer records it. */
export interface PatchLike {
  readonly op: 'replace' | 'remove' | 'add';
  readonly path: readonly (string | number)[];
  readonly value?: unknown;
}

/** One compiler pass: the program before it, and after it or the patches that lead there. */
export interface PassRecord {
  readonly name: string;
  readonly before: Program;
  readonly after?: Program;
  readonly patches?: readonly PatchLike[];
}

/** The run manifest shown in the report. */
export interface Manifest {
  readonly seed?: number;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly versions?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}
