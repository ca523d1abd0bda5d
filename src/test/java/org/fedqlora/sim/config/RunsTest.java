package org.fedqlora.sim.config;

import org.fedqlora.quant.QuantFormat;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class RunsTest {

    @Test
    void paperPresetExpandsToTheBaseSweepPlusTheMotivationVariants() {
        List<Run> runs = ConfigLoader.loadPreset("paper", List.of()).runs();

        List<Run> base = runs.stream().filter(r -> r.experiment().equals(Runs.BASE)).toList();
        List<Run> motivation = runs.stream().filter(r -> r.experiment().startsWith("motivation-")).toList();
        assertThat(base).hasSize(3 * 2 * 4);
        assertThat(motivation).hasSize(3 * 4);
        assertThat(runs).hasSize(36);
        assertThat(runs.stream().map(Run::id).distinct()).hasSize(36);
    }

    @Test
    void paperBaseRunsAreOrderedAxisByAxisThenSeed() {
        List<Run> runs = ConfigLoader.loadPreset("paper", List.of()).runs();

        assertThat(runs.subList(0, 9).stream().map(r -> r.label() + "/" + r.seed())).containsExactly(
                "clients=3,partition.method=iid/1", "clients=3,partition.method=iid/2",
                "clients=3,partition.method=iid/3", "clients=3,partition.method=iid/4",
                "clients=3,partition.method=dirichlet/1", "clients=3,partition.method=dirichlet/2",
                "clients=3,partition.method=dirichlet/3", "clients=3,partition.method=dirichlet/4",
                "clients=5,partition.method=iid/1");
        assertThat(runs.get(23).id()).isEqualTo("base_clients=10,partition.method=dirichlet_seed4");
    }

    @Test
    void paperRunConfigsAreResolvedSingleRuns() {
        Run run = ConfigLoader.loadPreset("paper", List.of()).runs().get(8);

        SimConfig c = run.config();
        assertThat(run.setting()).isEqualTo(Map.of("clients", 5, "partition.method", "iid"));
        assertThat(c.clients()).isEqualTo(5);
        assertThat(c.partition().method()).isEqualTo("iid");
        assertThat(c.seed()).isEqualTo(1L);
        assertThat(c.seeds()).isEmpty();
        assertThat(c.sweep()).isEmpty();
        assertThat(c.experiments()).isEmpty();
        assertThat(c.clientFormats()).containsExactly(QuantFormat.NF2, QuantFormat.NF4, QuantFormat.NF2,
                QuantFormat.NF4, QuantFormat.NF2);
        assertThat(c.local().optimizer()).isEqualTo("adamw");
        assertThat(c.local().lr()).isEqualTo(5e-3);
        assertThat(c.runs()).containsExactly(new Run(Runs.BASE, Map.of(), 1L, c));
    }

    @Test
    void motivationVariantsRunPlainLoraWithTheirFormatsAndNoSweep() {
        List<Run> runs = ConfigLoader.loadPreset("paper", List.of()).runs();

        Run nf2 = runs.get(24);
        Run mixed = runs.get(32);
        assertThat(nf2.id()).isEqualTo("motivation-nf2_seed1");
        assertThat(nf2.label()).isEmpty();
        assertThat(nf2.config().methods()).containsExactly("lora");
        assertThat(nf2.config().clientFormats()).hasSize(10).containsOnly(QuantFormat.NF2);
        assertThat(runs.get(28).config().clientFormats()).containsOnly(QuantFormat.NF4);
        assertThat(mixed.id()).isEqualTo("motivation-mixed_seed1");
        assertThat(mixed.config().clientFormats()).containsOnly(QuantFormat.NF2, QuantFormat.NF4);
        assertThat(mixed.config().partition().method()).isEqualTo("dirichlet");
    }

    @Test
    void experimentsInheritTheBaseSweepAndSeedsUnlessTheySetThem() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("sweep.clients=[2,3]", "seeds=[7,8]",
                "experiments=[{name: inherit, set: {rounds: 2}}, {name: own, set: {sweep.rounds: [1, 2, 3],"
                        + " seeds: []}}]"));

        List<Run> runs = c.runs();

        assertThat(runs.stream().map(Run::id)).containsExactly(
                "base_clients=2_seed7", "base_clients=2_seed8", "base_clients=3_seed7", "base_clients=3_seed8",
                "inherit_clients=2_seed7", "inherit_clients=2_seed8", "inherit_clients=3_seed7",
                "inherit_clients=3_seed8",
                "own_clients=2,rounds=1_seed1", "own_clients=2,rounds=2_seed1", "own_clients=2,rounds=3_seed1",
                "own_clients=3,rounds=1_seed1", "own_clients=3,rounds=2_seed1", "own_clients=3,rounds=3_seed1");
        assertThat(runs.get(4).config().rounds()).isEqualTo(2);
        assertThat(runs.get(13).config().rounds()).isEqualTo(3);
    }

    @Test
    void sweepAxesFollowKeyOrderWhateverTheOrderWritten() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("sweep={lora.rank: [4, 8], clients: [2]}"));

        assertThat(c.sweep().keySet()).containsExactly("clients", "lora.rank");
        assertThat(c.runs().stream().map(Run::label)).containsExactly("clients=2,lora.rank=4",
                "clients=2,lora.rank=8");
    }

    @Test
    void labelsOfListAndFormatValuesAreReadableAndIdsAreFolderSafe() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("sweep.methods=[[lora, local], fedqlora]",
                "sweep.formats=[\"nf2:0.5,nf4:0.5\", nf4]", "sweep.data.train=[demo, /data/x.csv]"));

        Run first = c.runs().get(0);

        assertThat(c.runs()).hasSize(8);
        assertThat(first.label()).isEqualTo("data.train=demo,formats=nf2:0.5,nf4:0.5,methods=[lora,local]");
        assertThat(first.id()).isEqualTo("base_data.train=demo,formats=nf2-0.5,nf4-0.5,methods=-lora,local-_seed1");
        assertThat(c.runs().get(7).id()).isEqualTo("base_data.train=-data-x.csv,formats=nf4-1.0,methods=-fedqlora-_seed1");
    }
}
