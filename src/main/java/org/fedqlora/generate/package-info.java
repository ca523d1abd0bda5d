/**
 * Text generation with a decoder: KV-cache decoding, greedy or temperature/top-k/top-p sampling with a seeded RNG,
 * stop tokens and stop strings, streaming. Depends on org.fedqlora.model.llama and DJL; knows no CLI.
 */
package org.fedqlora.generate;
