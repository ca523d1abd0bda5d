/**
 * Model folders: resolving {@code --model minilm|PATH}, reading config.json, weights and tokenizer. Model families
 * live in sub-packages (bert, ...). Depends on org.fedqlora.tensor, org.fedqlora.nn and DJL.
 */
package org.fedqlora.model;
