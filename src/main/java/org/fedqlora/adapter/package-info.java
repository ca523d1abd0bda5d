/**
 * Adapters on {@link org.fedqlora.nn.Linear} layers: LoRA (shared in federation) and the quantization-aware (QA) adapter
 * (private to a client), their parameters, targets and PEFT export. Depends on org.fedqlora.nn, org.fedqlora.tensor,
 * org.fedqlora.engine and DJL; not on any model family.
 */
package org.fedqlora.adapter;
