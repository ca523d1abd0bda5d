/**
 * Llama-family decoders (Llama, Mistral, Qwen2): config, forward with KV cache, causal-LM loss, synthetic models of
 * real shapes for benchmarks. Depends on org.fedqlora.nn, org.fedqlora.tensor, org.fedqlora.engine and DJL.
 */
package org.fedqlora.model.llama;
