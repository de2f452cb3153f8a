import { prefault } from '../backend/memory';
import type { Backend } from '../backend/types';
import type { InitSpec } from '../init';
import type { Rng } from '../rng';
import { show } from '../describe';
import { BlasnetError, ErrorCode } from '../errors';
import { layerName } from './check';

/** A trainable tensor a layer declares; the model allocates it in its parameter arena. */
export interface ParamSpec {
  /** 'weight', 'bias', 'gamma', 'beta', 'slope'. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: InitSpec;
  /** Whether the layer's L1/L2 penalty applies to it (weights yes, biases and norms no). */
  readonly penalized: boolean;
}

/** What a layer's forward and backward passes run with. */
export interface PassContext {
  readonly backend: Backend;
  /** The model's generator for dropout masks. */
  readonly rng: Rng;
  readonly training: boolean;
  /**
   * Dropout, DropConnect and Gaussian noise draw as in training while everything else (BatchNorm)
   * stays in inference mode: Monte Carlo dropout.
   */
  readonly stochastic?: boolean;
  /**
   * No backward pass follows (an inference function's own passes): a layer may leave out what
   * only its backward pass reads (a dense layer's pre-activations under ReLU and the like).
   */
  readonly inference?: boolean;
}

/** A non-trainable state tensor (BatchNorm's running statistics). */
export interface BufferView {
  readonly name: string;
  readonly data: Float32Array;
}

/** The JSON description of a layer, enough to rebuild it. */
export interface LayerConfig {
  readonly kind: string;
  readonly [option: string]: unknown;
}

/**
 * A layer of a Sequential model. The model builds it once with its input size, gives it views of
 * its parameters and gradients in the model's arenas, and asks it to reserve workspaces for the
 * largest batch seen; after that, forward and backward allocate nothing.
 *
 * A layer belongs to the first model built from it: it holds that model's weights and workspaces,
 * so building another model from it is ERR_BLASNET_STATE (create new layers for each model, or
 * copy a model with decodeModel(encodeModel(model)).model). A model whose construction throws
 * takes none of its layers.
 *
 * forward returns the layer's output ([batch, outSize], possibly longer); backward takes the
 * gradient with respect to that output and returns the gradient with respect to the input (or
 * null when not asked for), writing (not accumulating) the parameter gradients.
 */
export abstract class Layer {
  abstract readonly kind: string;

  /**
   * Name used in parameter names, buffers, summaries, saved files and exports; the layer's index
   * if not set. Set it before the layer is part of a model: once a model is built from it, its
   * parameters are named by it, and assigning another name throws ERR_BLASNET_STATE.
   */
  get name(): string | undefined {
    return this.ownName;
  }

  /** Names the layer; ERR_BLASNET_STATE once a model is built from it, unless the name is the one it has (see the getter). */
  set name(name: string | undefined) {
    const where = `${this.kind ?? 'layer'}.name`;
    if (this.joined && name !== this.ownName) {
      // parameters() and getWeights() name the tensors as the model was built; files, exports and
      // buffers() read the name again: a new one would part them (an export missing the tensors).
      throw new BlasnetError(ErrorCode.STATE, `${where}: the layer is part of a built model, whose parameters are named by ` +
        `${this.ownName === undefined ? 'its index' : show(this.ownName)}; it cannot be renamed ${show(name)}. ` +
        'Give the name when creating the layer (dense(4, { name }))');
    }
    this.ownName = layerName(where, name);
  }

  private ownName: string | undefined = undefined;
  private joined = false;

  /** Whether a model has been built from this layer (see the class). @internal */
  get inBuiltModel(): boolean {
    return this.joined;
  }

  /**
   * Marks the layer as part of the model just built from it: that model names its tensors by the
   * layer's name, which is fixed from now on, and no other model may be built from it. @internal
   */
  joinModel(): void {
    this.joined = true;
  }

  inSize = 0;
  outSize = 0;
  /** Rows the workspaces can hold. */
  protected capacity = 0;
  /** The capacity whose workspaces prefaultWorkspaces last mapped (they stay mapped). */
  private mappedCapacity = 0;
  protected params: Float32Array[] = [];
  protected grads: Float32Array[] = [];

  /** Sets the sizes from the input size and declares the parameters. */
  abstract build(inSize: number): ParamSpec[];

  /** Receives the views of its parameters and gradients, in the order build declared them. */
  bind(params: Float32Array[], grads: Float32Array[]): void {
    this.params = params;
    this.grads = grads;
  }

  /** Non-trainable state, saved with the model. */
  buffers(): BufferView[] {
    return [];
  }

  /** Uses these arrays (same order and sizes as buffers()) as its state: shared memory. */
  adoptBuffers(arrays: Float32Array[]): void {
    void arrays;
  }

  /** Makes sure the workspaces hold `batch` rows. */
  reserve(batch: number): void {
    if (batch > this.capacity) {
      this.capacity = batch;
      this.allocate(batch);
    }
  }

  /** Allocates the workspaces for `rows` rows (reserve() calls it when the batch grows). */
  protected abstract allocate(rows: number): void;

  /**
   * Maps the pages of the workspaces (every Float32Array field) now, in one call each (see
   * prefault), for a training loop about to write them; the input gradient `dIn` only when
   * `needDx` (the first layer is not asked for one). @internal
   */
  prefaultWorkspaces(needDx: boolean): void {
    // Once per allocation: a later fit of the same model finds the arrays mapped already.
    if (this.mappedCapacity === this.capacity) return;
    this.mappedCapacity = this.capacity;
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Float32Array && (needDx || k !== 'dIn')) prefault(v);
    }
  }

  /** The forward pass over `batch` rows of x; returns the output, a workspace view valid until the next pass. */
  abstract forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array;

  /**
   * The backward pass given the forward input x and dy = d(loss)/d(output): writes the parameter
   * gradients (overwriting) and returns d(loss)/dx, or null when needDx is false.
   */
  abstract backward(ctx: PassContext, batch: number, x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null;

  /**
   * For an output layer ending in softmax or sigmoid: the logits its activation was applied to,
   * so that a cross-entropy loss can be computed on them; null otherwise.
   */
  logits(): Float32Array | null {
    return null;
  }

  /** The activation a fused loss absorbs ('softmax' or 'sigmoid'), if this layer ends in one. */
  outputActivation(): string | null {
    return null;
  }

  /** Backward pass given the gradient with respect to logits() (the fused loss's delta). */
  backwardFromLogits(ctx: PassContext, batch: number, x: Float32Array, dz: Float32Array, needDx: boolean): Float32Array | null {
    void ctx; void batch; void x; void needDx;
    return dz;
  }

  /** Whether the layer has weight constraints (dense maxNorm) for constrain() to apply. */
  hasConstraints(): boolean {
    return false;
  }

  /** Applies the layer's weight constraints, after an optimiser step. */
  constrain(backend: Backend): void {
    void backend;
  }

  /** L1 and L2 strengths of the layer's penalty on its penalized parameters. */
  penalty(): { l1: number; l2: number } {
    return { l1: 0, l2: 0 };
  }

  /** The activation after this layer, for diagnostics ('relu', 'tanh', ...), if any. */
  activationName(): string | null {
    return null;
  }

  /** The layer's JSON description (kind and options), from which it can be rebuilt. */
  abstract config(): LayerConfig;
}
