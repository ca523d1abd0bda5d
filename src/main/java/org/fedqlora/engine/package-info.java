/**
 * The compute engine: DJL/PyTorch start-up (offline, thread counts), conversions between host tensors and
 * NDArrays, and memory-scope helpers. Depends on org.fedqlora.tensor and DJL only.
 */
package org.fedqlora.engine;
