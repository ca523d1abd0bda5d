/**
 * Configuration of federated simulations: the immutable {@link org.fedqlora.sim.config.SimConfig} record tree,
 * YAML / preset / --set loading with validation, run expansion (experiments × sweep × seeds) and serialisation.
 * Pure Java: depends on SnakeYAML, Jackson, org.fedqlora.UserException and org.fedqlora.quant.QuantFormat only.
 */
package org.fedqlora.sim.config;
