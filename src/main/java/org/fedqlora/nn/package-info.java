/**
 * Building blocks shared by every model family: the one {@link org.fedqlora.nn.Linear} layer (frozen base weight plus
 * adapters), layer norm, attention helpers. Depends on org.fedqlora.engine, org.fedqlora.tensor and DJL.
 */
package org.fedqlora.nn;
