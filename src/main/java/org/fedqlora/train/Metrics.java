package org.fedqlora.train;

/**
 * Classification metrics from a confusion matrix (rows = true label, columns = predicted).
 * Macro-F1 averages per-class F1 over classes that occur in the labels or the predictions (sklearn's
 * {@code f1_score(average="macro")} over present labels); a class with no support and no predictions is skipped.
 */
public record Metrics(long[][] confusion, double loss) {

    public static Metrics of(int[] labels, int[] predicted, int classes, double loss) {
        long[][] c = new long[classes][classes];
        for (int i = 0; i < labels.length; i++) {
            c[labels[i]][predicted[i]]++;
        }
        return new Metrics(c, loss);
    }

    public long total() {
        long n = 0;
        for (long[] row : confusion) {
            for (long v : row) {
                n += v;
            }
        }
        return n;
    }

    public double accuracy() {
        long correct = 0;
        for (int k = 0; k < confusion.length; k++) {
            correct += confusion[k][k];
        }
        long n = total();
        return n == 0 ? 0 : (double) correct / n;
    }

    public double macroF1() {
        double sum = 0;
        int present = 0;
        for (int k = 0; k < confusion.length; k++) {
            long tp = confusion[k][k];
            long support = 0;
            long predicted = 0;
            for (int j = 0; j < confusion.length; j++) {
                support += confusion[k][j];
                predicted += confusion[j][k];
            }
            if (support == 0 && predicted == 0) {
                continue;
            }
            present++;
            sum += 2.0 * tp / (support + predicted);
        }
        return present == 0 ? 0 : sum / present;
    }
}
