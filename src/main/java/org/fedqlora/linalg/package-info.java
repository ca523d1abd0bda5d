/**
 * Dense linear algebra on row-major {@code float[]} matrices: truncated SVD (for quantization-aware adapters) and tiny helpers.
 * Pure Java; depends on nothing else in fedqlora and not on DJL.
 */
package org.fedqlora.linalg;
