/**
 * Text-classification data: loading JSONL/CSV/Parquet files, label maps, train/eval splits, the synthetic demo
 * data set and the federated partitioners. Depends only on Jackson and parquet-java (no DJL, no other fedqlora package).
 */
package org.fedqlora.data;
