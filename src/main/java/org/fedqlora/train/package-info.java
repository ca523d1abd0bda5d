/**
 * Single-client training for text classification: the classifier (encoder + adapters + head), loss, optimizers,
 * schedules, the training loop and metrics. Depends on org.fedqlora.model, org.fedqlora.adapter, org.fedqlora.nn,
 * org.fedqlora.data, org.fedqlora.engine and DJL; not on federation.
 */
package org.fedqlora.train;
