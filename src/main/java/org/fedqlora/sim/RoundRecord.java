package org.fedqlora.sim;

import java.util.Map;

/**
 * One evaluated round of one method: means over clients of each client's own model on the global test set.
 * For causal-LM ({@code task}) the scores are perplexities: {@code accuracy} is the mean perplexity,
 * {@code macroF1} the mean loss (nats per response token), {@code worstAccuracy} the highest client perplexity,
 * {@code localAccuracy} the mean local perplexity, and {@code perFormat} holds {perplexity, loss}; summary.json
 * and the report name them so.
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
 * @param task          what the scores measure
 */
public record RoundRecord(int round, double accuracy, double macroF1, double worstAccuracy, double localAccuracy,
                          double trainLoss, Map<String, Map<String, Double>> perFormat, long bytesUp, long bytesDown,
                          double seconds, SimTask task) {
    /** The JSON names of accuracy, macroF1, worstAccuracy and localAccuracy for {@code task}. */
    static java.util.List<String> keys(SimTask task) {
        return task.causalLm() ? java.util.List.of("perplexity", "loss", "worst_perplexity", "local_perplexity")
                : java.util.List.of("accuracy", "macro_f1", "worst_accuracy", "local_accuracy");
    }
}
