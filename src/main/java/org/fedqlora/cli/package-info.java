/**
 * The command-line interface (picocli): one class per command, argument checks, progress and output files.
 * May depend on every other package; nothing depends on it.
 */
package org.fedqlora.cli;
