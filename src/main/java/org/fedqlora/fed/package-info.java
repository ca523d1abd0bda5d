/**
 * Federated core: messages, the client and transport interfaces, the strategy contract, aggregation maths and the
 * round loop ({@link org.fedqlora.fed.Server}), all on named host tensors; no model, adapter or engine knowledge.
 * Depends on org.fedqlora.tensor and the root package only (not on DJL).
 */
package org.fedqlora.fed;
