package org.fedqlora.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Deterministic train/eval splits. */
public final class Splits {
    private Splits() {
    }

    /** A training part and an evaluation part of one data set; together they hold every example once. */
    public record TrainEval(Dataset train, Dataset eval) {
    }

    /**
     * Splits stratified by label: for each label, its examples are shuffled with {@code seed} and
     * {@code round(evalFraction * count)} of them go to eval, so both parts keep the label proportions. Each part keeps
     * the original order of its examples. The same data, fraction and seed always give the same split.
     *
     * @param evalFraction in (0, 1)
     */
    public static TrainEval trainEval(Dataset data, double evalFraction, long seed) {
        if (!(evalFraction > 0 && evalFraction < 1)) {
            throw new DataException("eval fraction must be between 0 and 1 (exclusive), got " + evalFraction);
        }
        List<List<Integer>> byLabel = indicesByLabel(data);
        List<Integer> train = new ArrayList<>();
        List<Integer> eval = new ArrayList<>();
        Random random = new Random(seed);
        for (List<Integer> indices : byLabel) {
            Collections.shuffle(indices, random);
            int nEval = (int) Math.round(evalFraction * indices.size());
            eval.addAll(indices.subList(0, nEval));
            train.addAll(indices.subList(nEval, indices.size()));
        }
        if (train.isEmpty() || eval.isEmpty()) {
            throw new DataException(data.source() + ": " + data.size() + " examples with eval fraction " + evalFraction
                    + " leave the " + (train.isEmpty() ? "training" : "evaluation") + " part empty; use more data "
                    + "or a fraction nearer 0.5");
        }
        Collections.sort(train);
        Collections.sort(eval);
        String how = " [" + "eval fraction " + evalFraction + ", seed " + seed + "]";
        return new TrainEval(data.subset(train, data.source() + " train part" + how),
                data.subset(eval, data.source() + " eval part" + how));
    }

    private static List<List<Integer>> indicesByLabel(Dataset data) {
        List<List<Integer>> byLabel = new ArrayList<>();
        for (int k = 0; k < data.labels().size(); k++) {
            byLabel.add(new ArrayList<>());
        }
        for (int i = 0; i < data.size(); i++) {
            byLabel.get(data.get(i).label()).add(i);
        }
        return byLabel;
    }
}
