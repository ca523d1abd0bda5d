/**
 * Weight quantization: NF-k and INT-k formats, dense bit packing, a scalar reference codec, the engine decoder (TorchScript, {@code PackedKernels}) and
 * the saved form of quantized tensors, the QA adapter initialisation (svd, LoftQ) and quantized base weights for
 * {@link org.fedqlora.nn.Linear}. Depends on org.fedqlora.tensor, org.fedqlora.linalg, org.fedqlora.nn and DJL.
 */
package org.fedqlora.quant;
