/**
 * Client-level differential privacy for federated rounds (DP-FedAvg): clipping of client updates, Gaussian noise
 * from a cryptographically secure or a seeded CSPRNG, adaptive clipping, local DP, and the Rényi-DP accountant.
 * Depends on org.fedqlora.fed, org.fedqlora.tensor and the root package only; knows no model.
 */
package org.fedqlora.fed.privacy;
