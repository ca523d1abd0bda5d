/**
 * Text to token ids with DJL's HuggingFace tokenizers, from a model's tokenizer.json; batches padded to the longest
 * sequence; chat templates (tokenizer_config.json, rendered by Jinjava) and conversations to ids with completion-only
 * labels. Depends on DJL tokenizers, Jinjava, org.fedqlora.data (conversations) and org.fedqlora.model (errors) only.
 */
package org.fedqlora.tokenize;
