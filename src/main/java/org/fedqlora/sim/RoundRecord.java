package org.fedqlora.sim;

import java.util.Map;

/**
 * One evaluated round of one method: means over clients of each client's own model on the global test set.
 *
 * @param round         round number, from 1
 * @param accuracy      mean global-test accuracy over clients
 * @param macroF1       mean global-test macro-F1 over clients
 * @param worstAccuracy lowest client accuracy
 * @param localAccuracy mean accuracy on the clients' own local test splits (personalised score), NaN if none
 * @param trainLoss     mean training loss of the round's clients
 * @param perFormat     format → {accuracy, macro_f1}, means over that format's clients
 * @param bytesUp       tensor bytes sent by clients in this round
 * @param bytesDown     tensor bytes sent to clients in this round
 * @param seconds       wall-clock seconds of the round
 */
public record RoundRecord(int round, double accuracy, double macroF1, double worstAccuracy, double localAccuracy,
                          double trainLoss, Map<String, Map<String, Double>> perFormat, long bytesUp, long bytesDown,
                          double seconds) {
}
