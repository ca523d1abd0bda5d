package org.fedqlora.data;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PartitionerTest {
    private static final int CLASSES = 10;

    /** 2,000 examples, 200 per class, label = index mod 10. */
    private static int[] balancedLabels() {
        int[] labels = new int[2000];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % CLASSES;
        }
        return labels;
    }

    /** Mean over clients of the share of the client's largest class: 1/10 = no skew, 1 = one class per client. */
    private static double meanTopClassShare(Partition p) {
        return p.clients().stream().mapToDouble(c -> c.labelHistogram().stream().mapToInt(Integer::intValue).max()
                .orElse(0) / (double) c.size()).average().orElseThrow();
    }

    @Test
    void everyMethodIsDeterministicBySeed() {
        for (Partitioner p : List.of(Partitioner.iid(), Partitioner.dirichlet(0.5), Partitioner.shards(2),
                Partitioner.quantity(0.5))) {
            Partition a = p.partition(balancedLabels(), CLASSES, 10, 1);
            Partition b = p.partition(balancedLabels(), CLASSES, 10, 1);
            Partition c = p.partition(balancedLabels(), CLASSES, 10, 2);

            assertThat(a).as(p.toString()).isEqualTo(b);
            assertThat(a).as(p.toString()).isNotEqualTo(c);
        }
    }

    @Test
    void iidGivesEqualSizesAndMixedLabels() {
        Partition p = Partitioner.iid().partition(balancedLabels(), CLASSES, 7, 1);

        assertThat(Arrays.stream(p.sizes()).max().getAsInt() - Arrays.stream(p.sizes()).min().getAsInt())
                .isLessThanOrEqualTo(1);
        assertThat(meanTopClassShare(p)).isLessThan(0.2);
    }

    @Test
    void smallerDirichletAlphaGivesStrongerLabelSkew() {
        double skewed = meanTopClassShare(Partitioner.dirichlet(0.1).partition(balancedLabels(), CLASSES, 10, 1));
        double mild = meanTopClassShare(Partitioner.dirichlet(100).partition(balancedLabels(), CLASSES, 10, 1));

        System.out.printf("mean top-class share: dirichlet 0.1 -> %.3f, dirichlet 100 -> %.3f%n", skewed, mild);
        assertThat(skewed).isGreaterThan(0.4);
        assertThat(mild).isLessThan(0.2);
    }

    @Test
    void dirichletGivesEveryClientItsMinimum() {
        Partition p = Partitioner.dirichlet(0.05, 25).partition(balancedLabels(), CLASSES, 20, 3);

        assertThat(Arrays.stream(p.sizes()).min().getAsInt()).isGreaterThanOrEqualTo(25);
    }

    @Test
    void dirichletThatCannotMeetTheMinimumFailsClearly() {
        int[] labels = new int[40]; // one class, 4 clients, min 10 each: only exact quarters pass
        assertThatThrownBy(() -> Partitioner.dirichlet(0.01, 10).partition(labels, 1, 4, 1))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("no draw in " + Partitioner.MAX_TRIES + " tries")
                .hasMessageContaining("raise alpha");
    }

    @Test
    void shardsGiveEachClientAtMostTwoLabelsPerShard() {
        Partition p = Partitioner.shards(2).partition(balancedLabels(), CLASSES, 10, 1);

        for (Partition.Client c : p.clients()) {
            long labels = c.labelHistogram().stream().filter(n -> n > 0).count();
            assertThat(labels).isLessThanOrEqualTo(4);
            assertThat(c.size()).isEqualTo(200);
        }
        assertThat(meanTopClassShare(p)).isGreaterThanOrEqualTo(0.5);
    }

    @Test
    void quantitySkewsSizesButNotBelowTheMinimum() {
        Partition p = Partitioner.quantity(0.3, 10).partition(balancedLabels(), CLASSES, 10, 1);

        int[] sizes = p.sizes();
        System.out.println("quantity(0.3) client sizes: " + Arrays.toString(sizes));
        assertThat(Arrays.stream(sizes).min().getAsInt()).isGreaterThanOrEqualTo(10);
        assertThat(Arrays.stream(sizes).max().getAsInt()).isGreaterThan(400);
    }

    @Test
    void moreClientsThanExamplesIsAnError() {
        assertThatThrownBy(() -> Partitioner.iid().partition(new int[5], 1, 6, 1))
                .isInstanceOf(DataException.class).hasMessageContaining("more clients (6) than examples (5)");
    }

    @Test
    void nonPositiveAlphaIsAnError() {
        assertThatThrownBy(() -> Partitioner.dirichlet(0)).hasMessageContaining("alpha must be a positive number");
        assertThatThrownBy(() -> Partitioner.quantity(-1)).hasMessageContaining("alpha must be a positive number");
        assertThatThrownBy(() -> Partitioner.parse("dirichlet:NaN")).hasMessageContaining("alpha");
    }

    @Test
    void moreShardsThanExamplesIsAnError() {
        assertThatThrownBy(() -> Partitioner.shards(3).partition(new int[20], 1, 7, 1))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("7 clients x 3 shards = 21 shards, more than the 20 examples");
    }

    @Test
    void parsesSpecsAndListsValidNamesForUnknownOnes() {
        assertThat(Partitioner.parse("iid")).isEqualTo(Partitioner.iid());
        assertThat(Partitioner.parse("Dirichlet:0.3")).isEqualTo(Partitioner.dirichlet(0.3));
        assertThat(Partitioner.parse("shards")).isEqualTo(Partitioner.shards(Partitioner.DEFAULT_SHARDS_PER_CLIENT));
        assertThat(Partitioner.parse("quantity:2")).isEqualTo(Partitioner.quantity(2));
        assertThatThrownBy(() -> Partitioner.parse("label-skew"))
                .hasMessageContaining("unknown partitioner 'label-skew'")
                .hasMessageContaining("iid, dirichlet[:alpha], shards[:k], quantity[:alpha]");
        assertThatThrownBy(() -> Partitioner.parse("shards:two")).hasMessageContaining("'two' is not a number");
    }

    @Test
    void partitionJsonHasTheDocumentedShapeAndReadsBack() {
        Partition p = Partitioner.dirichlet(0.5, 2).partition(new int[]{0, 1, 0, 1, 1, 0, 2, 2}, 3, 2, 1);

        String json = p.toJson();

        assertThat(json).startsWith("{\"version\":1,\"method\":\"dirichlet\",\"alpha\":0.5,\"min_per_client\":2,"
                + "\"seed\":1,\"num_classes\":3,\"clients\":[{\"client\":0,\"size\":");
        assertThat(json).contains("\"label_histogram\":[").contains("\"indices\":[").doesNotContain("shards");
        assertThat(Partition.fromJson(json)).isEqualTo(p);
    }

    @Test
    void partitionJsonOfAnotherVersionIsRejected() {
        String json = Partitioner.iid().partition(new int[4], 1, 2, 1).toJson().replace("\"version\":1", "\"version\":9");

        assertThatThrownBy(() -> Partition.fromJson(json)).isInstanceOf(DataException.class)
                .hasMessageContaining("version 9");
    }
}
