/**
 * Results of a simulation as people read them: the self-contained report.html (tables and Apache ECharts charts)
 * and the console summary table. Depends on Jackson, the ECharts webjar and org.fedqlora.UserException only.
 */
package org.fedqlora.report;
