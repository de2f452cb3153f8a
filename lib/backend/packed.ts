/**
 * The packed layout of a dense layer's weights for inference (Backend.packDense): for each panel
 * of 16 units, inDim rows of 16 weights (W^T's rows, units past outDim zero), then the bias padded
 * with zeros to whole panels. native/packed.h holds the same layout.
 */

/** Units per panel of the packed layout. */
export const PACK_PANEL = 16;

/** Floats a packed dense layer of outDim units over inDim inputs occupies: ceil(outDim/16)*16*(inDim+1). */
export function packedDenseLength(outDim: number, inDim: number): number {
  return Math.ceil(outDim / PACK_PANEL) * PACK_PANEL * (inDim + 1);
}
