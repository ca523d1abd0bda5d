/**
 * Reads ONNX files (weights and graph wiring, no execution) and turns the embedded all-MiniLM-L6-v2 export into a
 * HuggingFace BERT folder. Depends on org.fedqlora.tensor, protobuf-java (wire format only) and Jackson.
 */
package org.fedqlora.model.onnx;
