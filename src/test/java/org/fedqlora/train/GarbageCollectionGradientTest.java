package org.fedqlora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.testing.Fixtures;
import org.fedqlora.tokenize.TokenBatch;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gradients do not depend on when the JVM collects garbage. DJL's {@code x.mul(2f)} wraps the number in an array
 * backed by a Java direct buffer and closes it after the op, while autograd keeps that array for the backward
 * pass; a GC between forward and backward then frees memory the backward still reads (wrong gradients, NaN or a
 * crash). Here a GC runs, and the freed memory is reused, between forward and backward.
 */
class GarbageCollectionGradientTest {
    /** The same computation twice: identical up to float32 rounding. */
    static final double TOLERANCE = 1e-6;
    private static final int REUSE_BUFFERS = 20_000;

    @Test
    void gradientsAreTheSameWhenGarbageIsCollectedBeforeBackward() throws InterruptedException {
        try (TextEncoder enc = TextEncoder.load(ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny"));
             AdapterSet lora = AdapterSet.create(enc.manager(), enc.encoder().linears(),
                     new LoraConfig(4, 8f, 0f, List.of("query", "value")), 1);
             ClassificationHead head = ClassificationHead.init(enc.manager(), enc.encoder().config().hidden(), 3, 1)) {
            lora.attach();
            TextClassifier clf = new TextClassifier(enc, lora, head, Pooling.MEAN);
            List<Parameter> named = new ArrayList<>(lora.loraParameters());
            named.addAll(head.parameters());
            List<NDArray> params = named.stream().map(Parameter::array).toList();
            params.forEach(p -> p.setRequiresGradient(true));
            TokenBatch batch = enc.tokenizer().encode(Fixtures.sentences());

            float[][] quiet = gradients(clf, batch, params, false);
            float[][] collected = gradients(clf, batch, params, true);

            for (int i = 0; i < params.size(); i++) {
                double scale = Math.max(Fixtures.maxAbs(quiet[i]), 1e-12);
                assertThat(Fixtures.maxAbsDiff(named.get(i).name() + ".grad after GC", collected[i], quiet[i]) / scale)
                        .isLessThan(TOLERANCE);
            }
            params.forEach(p -> p.setRequiresGradient(false));
        }
    }

    private static float[][] gradients(TextClassifier clf, TokenBatch batch, List<NDArray> params, boolean gc)
            throws InterruptedException {
        try (NDManager step = clf.encoder().manager().newSubManager()) {
            long[] y = new long[batch.batch()];
            for (int i = 0; i < y.length; i++) {
                y[i] = i % 3;
            }
            NDArray labels = step.create(y);
            List<ByteBuffer> reuse = new ArrayList<>();
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray loss = TextClassifier.crossEntropy(clf.logits(step, batch, true), labels);
                if (gc) {
                    collectGarbageAndReuseFreedMemory(reuse);
                }
                collector.backward(loss);
            }
            float[][] out = new float[params.size()][];
            for (int i = 0; i < out.length; i++) {
                try (NDArray g = params.get(i).getGradient()) {
                    out[i] = g.toFloatArray();
                    g.muli(0f);
                }
            }
            return out;
        }
    }

    /** Frees unreachable direct buffers, then fills small blocks of native memory with a marker value. */
    private static void collectGarbageAndReuseFreedMemory(List<ByteBuffer> keep) throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(20);
        }
        for (int i = 0; i < REUSE_BUFFERS; i++) {
            keep.add(ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putFloat(0, 1234.5f).putFloat(4, 1234.5f));
        }
    }
}
