package org.fedqlora.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.engine.Engines;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.Compute;

/** A decoder folder run end to end in a test: dense base weights, no adapters, its own manager. */
public final class Decoders {
    private Decoders() {
    }

    /**
     * The language-model logits (B, T, V) of {@code ids} read as B = ids.length / T rows of T tokens, with no
     * padding: every block, then lm_head, at {@code compute}.
     */
    public static float[] logits(ModelFolder folder, long[] ids, long T, Compute compute) {
        try (NDManager m = Engines.newManager();
             LlamaModel model = LlamaModel.load(LlamaConfig.fromJson(folder.config()), folder.weights(),
                     BaseWeightFactory.DENSE, m)) {
            model.setCompute(compute);
            NDArray x = m.create(ids, new Shape(ids.length / T, T));
            return model.logits(m, model.hidden(m, x, x.onesLike(), false)).toFloatArray();
        }
    }
}
