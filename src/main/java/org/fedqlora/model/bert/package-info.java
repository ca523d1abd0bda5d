/**
 * The BERT family (BertModel, DistilBertModel): config, checkpoint names and the post-LayerNorm encoder forward.
 * Depends on org.fedqlora.nn, org.fedqlora.model, org.fedqlora.tensor and DJL.
 */
package org.fedqlora.model.bert;
