/**
 * Strategies that fill in the server's round loop: FedAvg with a pluggable server optimizer (averaging, FedAvgM,
 * FedAdam), a pluggable {@link org.fedqlora.fed.Aggregator} (e.g. differentially private aggregation) and the FedProx
 * proximal term. Depends on org.fedqlora.fed and org.fedqlora.tensor only.
 */
package org.fedqlora.fed.strategy;
