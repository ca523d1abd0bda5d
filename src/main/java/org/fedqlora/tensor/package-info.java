/**
 * Host-side tensors and the safetensors format: every tensor the project persists or sends goes through here.
 * Depends on nothing else in fedqlora (and not on DJL).
 */
package org.fedqlora.tensor;
