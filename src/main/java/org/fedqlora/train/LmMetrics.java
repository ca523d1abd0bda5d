package org.fedqlora.train;

/**
 * Causal-LM evaluation over response tokens: {@code loss} = total negative log-likelihood / target tokens (nats
 * per token, averaged over tokens, not over examples), {@code perplexity} = exp(loss).
 *
 * @param loss       mean NLL per response token
 * @param perplexity exp(loss)
 * @param tokens     response tokens scored
 * @param examples   examples scored
 */
public record LmMetrics(double loss, double perplexity, long tokens, int examples) {
    public static LmMetrics of(double nllSum, long tokens, int examples) {
        double loss = tokens == 0 ? Double.NaN : nllSum / tokens;
        return new LmMetrics(loss, Math.exp(loss), tokens, examples);
    }
}
