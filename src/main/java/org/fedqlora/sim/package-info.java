/**
 * The in-process federated simulation: clients that are real quantized models with adapters, every method of the
 * FedQLoRA paper on top of the federated core, checkpoints and resume, and the experiment runner's outputs.
 * Depends on org.fedqlora.fed, org.fedqlora.train, org.fedqlora.data, org.fedqlora.quant, org.fedqlora.report.
 */
package org.fedqlora.sim;
