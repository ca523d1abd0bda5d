package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.fedqlora.quant.QuantFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {

    @Test
    void defaultsMatchTheDocumentedTable() {
        SimConfig c = ConfigLoader.loadDefaults(List.of());

        assertThat(c).isEqualTo(SimConfig.defaults());
        assertThat(c.model()).isEqualTo("minilm");
        assertThat(c.data().train()).isEqualTo("demo");
        assertThat(c.data().test()).isEmpty();
        assertThat(c.data().evalFraction()).isEqualTo(0.2);
        assertThat(c.data().maxLength()).isEqualTo(64);
        assertThat(c.clients()).isEqualTo(4);
        assertThat(c.clientFormats()).containsExactly(QuantFormat.NF2, QuantFormat.NF4, QuantFormat.NF2,
                QuantFormat.NF4);
        assertThat(c.partition().method()).isEqualTo("dirichlet");
        assertThat(c.partition().alpha()).isEqualTo(0.5);
        assertThat(c.methods()).containsExactly("lora", "fedqlora", "ifedqlora");
        assertThat(c.rounds()).isEqualTo(10);
        assertThat(c.local().optimizer()).isEqualTo("adamw");
        assertThat(c.local().lr()).isEqualTo(5e-4);
        assertThat(c.local().maxGradNorm()).isEqualTo(1.0);
        assertThat(c.lora().rank()).isEqualTo(8);
        assertThat(c.lora().alpha()).isEqualTo(16.0);
        assertThat(c.lora().targets()).containsExactly("query", "value");
        assertThat(c.qa().rank()).isEqualTo(16);
        assertThat(c.server().optimizer()).isEqualTo("fedavg");
        assertThat(c.server().tau()).isEqualTo(1e-3);
        assertThat(c.seed()).isEqualTo(1L);
        assertThat(c.seeds()).isEmpty();
        assertThat(c.sweep()).isEmpty();
        assertThat(c.experiments()).isEmpty();
        assertThat(c.runs()).hasSize(1);
    }

    @Test
    void everyKeyOfTheTableExists() {
        assertThat(Settings.KEYS.keySet()).contains("model", "data.train", "data.test", "data.text_field",
                "data.label_field", "data.eval_fraction", "data.max_length", "data.limit", "data.client_files",
                "data.task", "data.chat_template", "data.category_field", "clients", "formats", "quant.group_size", "quant.double_quant", "partition.method",
                "partition.alpha", "partition.shards_per_client", "partition.min_size",
                "partition.local_test_fraction", "methods", "rounds", "fraction", "failure.min_clients",
                "failure.min_fraction", "local.epochs", "local.steps", "local.batch_size", "local.optimizer",
                "local.lr", "local.momentum", "local.weight_decay", "local.max_grad_norm", "local.warmup_steps",
                "local.proximal_mu", "lora.rank", "lora.alpha", "lora.dropout", "lora.targets", "head.pooling",
                "qa.rank", "qa.method", "qa.iters", "ifedqlora.refine", "ifedqlora.refine_steps",
                "ifedqlora.refine_lr", "server.optimizer", "server.lr", "server.momentum", "server.beta1",
                "server.beta2", "server.tau", "server.round_timeout_s", "server.join_timeout_s", "server.retries",
                "transport.compression", "transport.chunk_bytes", "transport.max_update_bytes",
                "eval.every", "eval.max_examples", "privacy.mode", "privacy.clip",
                "privacy.adaptive_clip.enabled", "privacy.adaptive_clip.target_quantile", "privacy.adaptive_clip.lr",
                "privacy.adaptive_clip.count_noise", "privacy.noise_multiplier", "privacy.target_epsilon",
                "privacy.delta", "privacy.noise", "secagg.enabled", "secagg.threshold", "secagg.neighbours", "secagg.bits",
                "secagg.clip", "secagg.max_weight", "compute", "seed", "seeds", "sweep", "experiments");
        assertThat(Settings.KEYS).hasSize(82);
    }

    @Test
    void fileOverridesDefaultsAndSetOverridesFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, """
                rounds: 7
                local: {lr: 0.01, batch_size: 8}
                lora.rank: 4
                """);

        SimConfig c = ConfigLoader.load(file, List.of("local.lr=1e-3", "rounds=3"));

        assertThat(c.rounds()).isEqualTo(3);
        assertThat(c.local().lr()).isEqualTo(1e-3);
        assertThat(c.local().batchSize()).isEqualTo(8);
        assertThat(c.lora().rank()).isEqualTo(4);
        assertThat(c.local().epochs()).isEqualTo(1);
    }

    @Test
    void laterSetOverridesWinOverEarlierOnes() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("rounds=3", "rounds=4"));

        assertThat(c.rounds()).isEqualTo(4);
    }

    @Test
    void setValuesParseAsYamlScalarsAndFlowLists() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("lora.targets=[query,key,value]", "local.lr=1e-3",
                "formats=nf2:0.25,nf4:0.75", "seeds=[4,5]", "quant.double_quant=true", "data.test=held.jsonl",
                "methods=lora,local"));

        assertThat(c.lora().targets()).containsExactly("query", "key", "value");
        assertThat(c.local().lr()).isEqualTo(1e-3);
        assertThat(c.clientFormats()).containsExactly(QuantFormat.NF2, QuantFormat.NF4, QuantFormat.NF4,
                QuantFormat.NF4);
        assertThat(c.seeds()).containsExactly(4L, 5L);
        assertThat(c.quant().doubleQuant()).isTrue();
        assertThat(c.data().test()).contains("held.jsonl");
        assertThat(c.methods()).containsExactly("lora", "local");
    }

    @Test
    void setCanClearAnOptionalValueAndGiveAWholeSection() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("data.test=a.csv", "data.test=null",
                "server={optimizer: fedadam, lr: 0.01}"));

        assertThat(c.data().test()).isEqualTo(Optional.empty());
        assertThat(c.server().optimizer()).isEqualTo("fedadam");
        assertThat(c.server().lr()).isEqualTo(0.01);
    }

    @Test
    void choicesAreCaseInsensitiveAndStoredLowerCase() {
        SimConfig c = ConfigLoader.loadDefaults(List.of("partition.method=IID", "formats=[NF4, nf2, Int8, fp32]"));

        assertThat(c.partition().method()).isEqualTo("iid");
        assertThat(c.clientFormats()).containsExactly(QuantFormat.NF4, QuantFormat.NF2, QuantFormat.INT8,
                QuantFormat.FP32);
    }

    @Test
    void unknownYamlKeyIsRejectedWithSuggestionAndTheSectionsKeys(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "local:\n  learnin_rate: 0.1\n");

        assertThatThrownBy(() -> ConfigLoader.load(file, List.of()))
                .isInstanceOf(UserException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("unknown key 'local.learnin_rate'")
                .hasMessageContaining("valid keys in 'local': epochs, steps, batch_size, optimizer, lr,");
    }

    @Test
    void unknownSetKeyIsRejectedWithDidYouMean() {
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("lora.rnak=4")))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("--set lora.rnak=4")
                .hasMessageContaining("did you mean 'lora.rank'?");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("client=4")))
                .hasMessageContaining("did you mean 'clients'?")
                .hasMessageContaining("valid keys: model, data.train,");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("lr=0.1")))
                .hasMessageContaining("did you mean 'local.lr'?");
    }

    @Test
    void aSectionGivenAScalarIsRejected() {
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("local=3")))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("'local' is a section")
                .hasMessageContaining("local.epochs");
    }

    @Test
    void keyGivenTwiceIsRejected() {
        assertThatThrownBy(() -> ConfigLoader.load("local: {lr: 1}\nlocal.lr: 2\n", "t.yaml", List.of()))
                .isInstanceOf(UserException.class).hasMessageContaining("'local.lr' is given twice");
        assertThatThrownBy(() -> ConfigLoader.load("rounds: 1\nrounds: 2\n", "t.yaml", List.of()))
                .isInstanceOf(UserException.class).hasMessageContaining("t.yaml: not valid YAML");
    }

    @Test
    void wrongTypesNameTheKeyTheValueAndTheExpectedType() {
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("clients=four")))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("clients: expected an integer, got 'four' (a string)");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("rounds=2.5")))
                .hasMessageContaining("rounds: expected an integer, got 2.5 (a number)");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("local.lr=fast")))
                .hasMessageContaining("local.lr: expected a number, got 'fast' (a string)");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("quant.double_quant=2")))
                .hasMessageContaining("quant.double_quant: expected true or false, got 2 (an integer)");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("model=123")))
                .hasMessageContaining("model: expected a string");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("seeds=[1, x]")))
                .hasMessageContaining("seeds: expected a list of integers");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("lora.targets={a: 1}")))
                .hasMessageContaining("lora.targets: expected a list of strings");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("formats=3")))
                .hasMessageContaining("formats must be proportions");
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("sweep=[1]")))
                .hasMessageContaining("sweep: expected a map from key to a list of values");
    }

    @Test
    void malformedSetAndYamlAreReportedWithTheirSource() {
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of("rounds")))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("--set rounds: expected KEY=VALUE");
        assertThatThrownBy(() -> ConfigLoader.load("rounds: [1, 2\n", "broken.yaml", List.of()))
                .hasMessageContaining("broken.yaml: not valid YAML");
        assertThatThrownBy(() -> ConfigLoader.load("- 1\n- 2\n", "list.yaml", List.of()))
                .hasMessageContaining("list.yaml: expected a map of keys");
    }

    @Test
    void missingFileSaysSo(@TempDir Path dir) {
        assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("nope.yaml"), List.of()))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("does not exist");
    }

    @Test
    void emptyFileIsRefusedRatherThanRunningEveryDefault(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("empty.yaml");
        Files.writeString(file, "# nothing\n");

        assertThatThrownBy(() -> ConfigLoader.load(file, List.of())).isInstanceOf(UserException.class)
                .hasMessageContaining("empty.yaml is empty").hasMessageContaining("--preset demo");
    }

    @Test
    void everyListedPresetLoads() {
        assertThat(ConfigLoader.presets()).containsExactly("demo", "paper", "privacy", "privacy-scale", "llm-demo");
        for (String name : ConfigLoader.presets()) {
            assertThat(ConfigLoader.loadPreset(name, List.of())).isNotNull();
        }
    }

    @Test
    void llmDemoPresetTunesADecoderOnMixedNf2Nf4Clients() {
        SimConfig c = ConfigLoader.loadPreset("llm-demo", List.of("model=/models/SmolLM2-135M-Instruct"));
        assertThat(c.model()).isEqualTo("/models/SmolLM2-135M-Instruct");
        assertThat(c.data().task()).isEqualTo("causal-lm");
        assertThat(c.data().train()).isEqualTo("demo");
        assertThat(c.methods()).containsExactly("lora", "fedqlora", "ifedqlora");
        assertThat(c.clientFormats()).extracting(f -> f.id()).containsExactly("nf2", "nf4", "nf2", "nf4");
        assertThat(c.partition().method()).isEqualTo("dirichlet");
        assertThat(c.lora().targets()).containsExactly("q_proj", "v_proj");
    }

    @Test
    void demoPresetHasTheAgreedSettings() {
        SimConfig c = ConfigLoader.loadPreset("demo", List.of());

        // what the demo is (the budget knobs rounds, data.limit, ... may be retuned freely)
        assertThat(c.model()).isEqualTo("minilm");
        assertThat(c.data().train()).isEqualTo("demo");
        assertThat(c.clients()).isEqualTo(4);
        assertThat(c.clientFormats()).extracting(QuantFormat::id).containsExactly("nf2", "nf4", "nf2", "nf4");
        assertThat(c.partition().method()).isEqualTo("dirichlet");
        assertThat(c.partition().alpha()).isEqualTo(0.5);
        assertThat(c.methods()).containsExactly("lora", "fedqlora");
        assertThat(c.runs()).hasSize(1);
    }

    @Test
    void privacyPresetComparesTheMethodsOverBudgetsAndWithoutDp() {
        SimConfig c = ConfigLoader.loadPreset("privacy", List.of());

        assertThat(c.methods()).containsExactly("lora", "ffa-lora", "fedqlora");
        assertThat(c.clientFormats()).extracting(QuantFormat::id).containsOnly("nf2", "nf4");
        assertThat(c.runs()).hasSize(4);
        assertThat(c.runs()).extracting(r -> r.config().privacy().mode()).containsOnlyOnce("none");
        assertThat(c.runs()).filteredOn(r -> r.config().privacy().enabled())
                .extracting(r -> r.config().privacy().targetEpsilon()).containsExactly(100.0, 1000.0, 10000.0);
    }

    @Test
    void presetCanBeOverriddenBySet() {
        SimConfig c = ConfigLoader.loadPreset("paper", List.of("seeds=[]", "sweep.clients=[4]", "experiments=[]"));

        assertThat(c.sweep()).containsExactly(Map.entry("clients", List.of(4)),
                Map.entry("partition.method", List.of("iid", "dirichlet")));
        assertThat(c.runs()).hasSize(2);
    }

    @Test
    void unknownPresetListsThePresets() {
        assertThatThrownBy(() -> ConfigLoader.loadPreset("papr", List.of()))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("unknown preset 'papr' (did you mean 'paper'?); presets: demo, paper, privacy");
        assertThatThrownBy(() -> ConfigLoader.loadPreset("my.yaml", List.of()))
                .hasMessageContaining("use --config");
    }

    @Test
    void sweepWithNestedSectionsIsAccepted() {
        SimConfig c = ConfigLoader.load("sweep: {partition: {method: [iid, shards]}, lora.rank: [4, 8]}\n",
                "t.yaml", List.of());

        assertThat(c.sweep().keySet()).containsExactly("partition.method", "lora.rank");
        assertThat(c.sweep().get("lora.rank")).containsExactly(4, 8);
    }
}
