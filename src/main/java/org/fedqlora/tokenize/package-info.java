/**
 * Text to token ids with DJL's HuggingFace tokenizers, from a model's tokenizer.json; batches padded to the longest
 * sequence. Depends on DJL tokenizers and org.fedqlora.model (errors) only.
 */
package org.fedqlora.tokenize;
