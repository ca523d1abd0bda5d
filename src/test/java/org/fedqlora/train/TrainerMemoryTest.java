package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Native memory stays flat: after every training step (padded batches, clipping, FedProx, periodic evaluation) the
 * model's manager tree holds the same number of arrays (DJL-NOTES trap 1: a result lands in its first operand's
 * manager, so one misplaced op leaks an array a step).
 */
class TrainerMemoryTest {
    private static final int STEPS = 30;

    @ParameterizedTest
    @EnumSource(Optimizer.Kind.class)
    void arrayCountsStayConstantOverSteps(Optimizer.Kind kind) {
        try (TextEncoder enc = TextEncoder.load(ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny"));
             AdapterSet lora = AdapterSet.create(enc.manager(), enc.encoder().linears(),
                     new LoraConfig(4, 8f, 0.1f, List.of("query", "value")), 1);
             ClassificationHead head = ClassificationHead.init(enc.manager(), enc.encoder().config().hidden(), 3, 1);
             NDManager anchors = enc.manager().newSubManager()) {
            lora.attach();
            TextClassifier clf = new TextClassifier(enc, lora, head, Pooling.MEAN);
            List<NDArray> params = new ArrayList<>();
            List<NDArray> anchor = new ArrayList<>();
            for (Parameter p : lora.loraParameters()) {
                params.add(p.array());
                anchor.add(anchors.create(p.array().toFloatArray(), p.array().getShape()));
            }
            head.parameters().forEach(p -> params.add(p.array()));
            head.parameters().forEach(p -> anchor.add(anchors.create(p.array().toFloatArray(), p.array().getShape())));
            TrainOptions o = new TrainOptions(1, STEPS, 4, kind, 1e-2f, 0.01f, 0.9f, 1f, 2, true, 3, 10, 0.01f);
            List<Integer> rootArrays = new ArrayList<>();
            List<Integer> paramArrays = new ArrayList<>();

            Trainer.train(clf, params, examples(24, 3), examples(6, 5), o, anchor, new Trainer.Listener() {
                @Override
                public void step(int step, int total, float loss, long tokens, double seconds) {
                    rootArrays.add(enc.manager().getManagedArrays().size());
                    paramArrays.add(lora.manager().getManagedArrays().size());
                }
            });

            System.out.println(kind + " arrays under the model's manager by step: " + rootArrays);
            // step 1 creates the optimizer's moments; from then on nothing may accumulate
            assertThat(rootArrays.subList(1, STEPS)).containsOnly(rootArrays.get(1));
            assertThat(paramArrays).containsOnly(paramArrays.get(0));
        }
    }

    /** Random ids of 4 to 19 tokens (so batches are padded), [CLS] first, labels in 0..2. */
    private static EncodedExamples examples(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[][] ids = new long[n][];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = new long[4 + r.nextInt(16)];
            ids[i][0] = 101;
            for (int t = 1; t < ids[i].length; t++) {
                ids[i][t] = 1000 + r.nextInt(3000);
            }
            labels[i] = r.nextInt(3);
        }
        return new EncodedExamples(ids, labels, 0);
    }
}
