package org.fedqlora.adapter;

import ai.djl.ndarray.NDArray;

/**
 * A named array that may be trained. The name is the PEFT-style key relative to the base model
 * ({@code encoder.layer.0.attention.self.query.lora_A.weight}); {@code transposed} says the array is stored as
 * the transpose of that key's layout (adapters keep factors transposed so the forward never transposes).
 */
public record Parameter(String name, NDArray array, boolean transposed) {
}
