package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Layer normalisation over the last axis with learned gain and bias (frozen here). */
public record LayerNorm(NDArray gamma, NDArray beta, float eps) {

    /** x: (..., C) → (..., C); the fused torch op (DJL-NOTES §2). */
    public NDArray apply(NDArray x) {
        return x.getNDArrayInternal()
                .layerNorm(x, new Shape(gamma.getShape().get(0)), gamma, beta, eps)
                .singletonOrThrow();
    }
}
