/**
 * fedqlora: federated, quantization-aware LoRA fine-tuning on DJL. The root package holds only what every layer
 * shares ({@link org.fedqlora.UserException}); the architecture is in the sub-packages.
 */
package org.fedqlora;
