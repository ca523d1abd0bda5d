/**
 * Weight quantization: NF-k and INT-k formats, dense bit packing, a scalar reference codec, a DJL dequantizer and
 * the saved form of quantized tensors. Depends on org.fedqlora.tensor and the DJL API only.
 */
package org.fedqlora.quant;
