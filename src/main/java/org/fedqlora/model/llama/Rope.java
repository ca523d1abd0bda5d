package org.fedqlora.model.llama;

/**
 * Rotary position embedding frequencies, HF's convention: inv_freq[i] = θ^(−2i/D) for i in [0, D/2), and with
 * Llama 3's rope_scaling (HF {@code _compute_llama3_parameters}), for wavelength λ = 2π / inv_freq:
 * <pre>
 * λ &lt; L / high              keep inv_freq                     (high frequencies)
 * λ &gt; L / low               inv_freq / factor                 (low frequencies)
 * otherwise                 (1 − s)·inv_freq / factor + s·inv_freq,  s = (L / λ − low) / (high − low)
 * </pre>
 * with L = original_max_position_embeddings. Computed in double, then rounded to float.
 */
final class Rope {
    private Rope() {
    }

    static float[] inverseFrequencies(LlamaConfig c) {
        int D = c.headDim();
        float[] out = new float[D / 2];
        LlamaConfig.RopeScaling s = c.ropeScaling();
        for (int i = 0; i < D / 2; i++) {
            double f = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / D);
            if (s != null) {
                double lambda = 2 * Math.PI / f;
                double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
                double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
                if (lambda > lowWavelen) {
                    f = f / s.factor();
                } else if (lambda >= highWavelen) {
                    double sm = (s.originalMaxPositions() / lambda - s.lowFreqFactor())
                            / (s.highFreqFactor() - s.lowFreqFactor());
                    f = (1 - sm) * f / s.factor() + sm * f;
                }
            }
            out[i] = (float) f;
        }
        return out;
    }
}
