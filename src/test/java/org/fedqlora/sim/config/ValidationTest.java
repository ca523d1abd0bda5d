package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Every validation rule: the overrides that break it, and a fragment of the message it must give. */
class ValidationTest {

    static Stream<Arguments> invalidSettings() {
        return Stream.of(
                arguments(List.of("model=''"), "model must not be empty"),
                arguments(List.of("model="), "model: expected a string"),
                arguments(List.of("clients=0"), "clients must be at least 1, got 0"),
                arguments(List.of("formats=nf5:1"), "unknown quantization format 'nf5'; valid formats: nf2, nf3,"
                        + " nf4, int2, int3, int4, int8, fp32, bf16"),
                arguments(List.of("formats=[nf2, q4, nf2, nf4]"), "unknown quantization format 'q4'"),
                arguments(List.of("formats=nf2:0.5,nf4:0.4"), "sum to 0.9, not 1"),
                arguments(List.of("formats=nf2:0.5,nf2:0.5"), "formats lists 'nf2' twice"),
                arguments(List.of("formats=nf2:0,nf4:1"), "the share of nf2 must be > 0"),
                arguments(List.of("formats=nf2:half,nf4:0.5"), "'half' in \"nf2:half,nf4:0.5\" is not a number"),
                arguments(List.of("formats=nf2,nf4"), "'nf2' in \"nf2,nf4\" has no share"),
                arguments(List.of("formats=[nf2, nf4]"), "formats lists 2 formats but clients = 4"),
                arguments(List.of("quant.group_size=0"), "quant.group_size must be at least 1"),
                arguments(List.of("partition.method=random"), "unknown partition.method 'random'; valid: iid,"
                        + " dirichlet, shards, quantity, files"),
                arguments(List.of("partition.alpha=0"), "partition.alpha must be a finite number > 0, got 0.0"),
                arguments(List.of("partition.alpha=-1"), "partition.alpha must be a finite number > 0"),
                arguments(List.of("partition.shards_per_client=0"), "partition.shards_per_client must be at least 1"),
                arguments(List.of("partition.min_size=0"), "partition.min_size must be at least 1"),
                arguments(List.of("partition.local_test_fraction=1"), "partition.local_test_fraction must be in"
                        + " [0, 1)"),
                arguments(List.of("partition.method=files"), "partition.method = files needs one file per client"),
                arguments(List.of("partition.method=files", "data.client_files=[a.csv, b.csv]"),
                        "it lists 2 files for 4 clients"),
                arguments(List.of("data.client_files=[a, b, c, d]"), "data.client_files is set but"
                        + " partition.method = dirichlet; set partition.method=files"),
                arguments(List.of("data.train=''"), "data.train must not be empty"),
                arguments(List.of("data.text_field=' '"), "data.text_field must not be empty"),
                arguments(List.of("data.eval_fraction=1.5"), "data.eval_fraction must be in [0, 1)"),
                arguments(List.of("data.eval_fraction=0"), "nothing to evaluate on"),
                arguments(List.of("data.max_length=2"), "data.max_length must be at least 3"),
                arguments(List.of("data.limit=-1"), "data.limit must be at least 0"),
                arguments(List.of("methods=[lora, fedlora]"), "unknown entry 'fedlora' in methods (did you mean"
                        + " 'fedqlora'?); valid: lora, ffa-lora, lora-truncated, fedqlora, ifedqlora, full-precision,"
                        + " local"),
                arguments(List.of("methods=[]"), "methods must list at least one of"),
                arguments(List.of("methods=[lora, LoRA]"), "methods lists 'lora' twice"),
                arguments(List.of("rounds=0"), "rounds must be at least 1"),
                arguments(List.of("fraction=0"), "fraction must be in (0, 1], got 0.0"),
                arguments(List.of("fraction=1.1"), "fraction must be in (0, 1], got 1.1"),
                arguments(List.of("failure.min_clients=0"), "failure.min_clients must be at least 1"),
                arguments(List.of("failure.min_clients=5"), "failure.min_clients = 5 but there are only 4 clients"),
                arguments(List.of("failure.min_fraction=2"), "failure.min_fraction must be in [0, 1]"),
                arguments(List.of("local.epochs=0"), "local.epochs must be at least 1"),
                arguments(List.of("local.steps=-1"), "local.steps must be at least 0"),
                arguments(List.of("local.batch_size=0"), "local.batch_size must be at least 1"),
                arguments(List.of("local.optimizer=adam"), "unknown local.optimizer 'adam' (did you mean"
                        + " 'adamw'?); valid: sgd, adamw"),
                arguments(List.of("local.lr=0"), "local.lr must be a finite number > 0"),
                arguments(List.of("local.momentum=1"), "local.momentum must be in [0, 1)"),
                arguments(List.of("local.weight_decay=-0.1"), "local.weight_decay must be a finite number >= 0"),
                arguments(List.of("local.max_grad_norm=-1"), "local.max_grad_norm must be a finite number >= 0"),
                arguments(List.of("local.warmup_steps=-1"), "local.warmup_steps must be at least 0"),
                arguments(List.of("local.proximal_mu=-1"), "local.proximal_mu must be a finite number >= 0"),
                arguments(List.of("lora.rank=0"), "lora.rank must be at least 1"),
                arguments(List.of("lora.alpha=0"), "lora.alpha must be a finite number > 0"),
                arguments(List.of("lora.dropout=1"), "lora.dropout must be in [0, 1)"),
                arguments(List.of("lora.targets=[]"), "lora.targets must name at least one module"),
                arguments(List.of("lora.targets=[query, query]"), "lora.targets lists 'query' twice"),
                arguments(List.of("head.pooling=max"), "unknown head.pooling 'max' (did you mean 'mean'?); valid: auto, mean, cls, last"),
                arguments(List.of("qa.rank=0"), "qa.rank must be at least 1"),
                arguments(List.of("qa.method=qr"), "unknown qa.method 'qr'; valid: svd, loftq"),
                arguments(List.of("qa.iters=0"), "qa.iters must be at least 1"),
                arguments(List.of("ifedqlora.refine=sgd"), "unknown ifedqlora.refine 'sgd' (did you mean 'svd'?);"
                        + " valid: svd, train"),
                arguments(List.of("ifedqlora.refine_steps=0"), "ifedqlora.refine_steps must be at least 1"),
                arguments(List.of("ifedqlora.refine_lr=0"), "ifedqlora.refine_lr must be a finite number > 0"),
                arguments(List.of("server.optimizer=fedyogi"), "unknown server.optimizer 'fedyogi'; valid:"
                        + " fedavg, fedavgm, fedadam"),
                arguments(List.of("server.lr=0"), "server.lr must be a finite number > 0"),
                arguments(List.of("server.momentum=1"), "server.momentum must be in [0, 1)"),
                arguments(List.of("server.beta1=1"), "server.beta1 must be in [0, 1)"),
                arguments(List.of("server.beta2=-0.1"), "server.beta2 must be in [0, 1)"),
                arguments(List.of("server.tau=0"), "server.tau must be a finite number > 0"),
                arguments(List.of("eval.every=0"), "eval.every must be at least 1"),
                arguments(List.of("privacy.mode=global"), "unknown privacy.mode 'global'"),
                arguments(List.of("privacy.mode=central", "privacy.delta=1e-5", "privacy.noise_multiplier=1"),
                        "privacy.mode = central needs privacy.clip"),
                arguments(List.of("privacy.mode=central", "privacy.clip=0.1", "privacy.noise_multiplier=1"),
                        "needs privacy.delta (there is no default: it is part of the guarantee); it should be well "
                                + "below 1/N = 0.250 for N = 4 clients"),
                arguments(List.of("privacy.mode=local", "privacy.clip=0.1", "privacy.delta=1e-5"),
                        "needs privacy.noise_multiplier (e.g. 1.0) or privacy.target_epsilon"),
                arguments(List.of("privacy.mode=local", "privacy.clip=0.1", "privacy.delta=1e-5",
                        "privacy.noise_multiplier=1", "privacy.adaptive_clip.enabled=true"),
                        "privacy.adaptive_clip needs privacy.mode = central"),
                arguments(List.of("privacy.delta=1"), "privacy.delta must be in [0, 1)"),
                arguments(List.of("privacy.clip=-1"), "privacy.clip must be a finite number >= 0"),
                arguments(List.of("privacy.adaptive_clip.target_quantile=1"),
                        "privacy.adaptive_clip.target_quantile must be in (0, 1)"),
                arguments(List.of("privacy.adaptive_clip.lr=0"), "privacy.adaptive_clip.lr must be a finite number > 0"),
                arguments(List.of("eval.max_examples=-1"), "eval.max_examples must be at least 0"),
                arguments(List.of("secagg.threshold=1"), "secagg.threshold must be 0 (automatic) or at least 2"),
                arguments(List.of("secagg.neighbours=-2"), "secagg.neighbours must be at least 0"),
                arguments(List.of("secagg.bits=8"), "secagg.bits must be at least 16"),
                arguments(List.of("secagg.bits=64"), "secagg.bits must be at most 62"),
                arguments(List.of("secagg.clip=0"), "secagg.clip must be a finite number > 0"),
                arguments(List.of("secagg.max_weight=0"), "secagg.max_weight must be at least 1"),
                arguments(List.of("secagg.enabled=true", "clients=1", "failure.min_clients=1"),
                        "secagg.enabled needs at least 2 clients"),
                arguments(List.of("secagg.enabled=true", "clients=8", "secagg.neighbours=3"),
                        "secagg.neighbours = 3 must be even"),
                arguments(List.of("secagg.enabled=true", "secagg.threshold=5"),
                        "secagg.threshold = 5 but each client's secrets have only 4 holders"),
                arguments(List.of("secagg.enabled=true", "secagg.bits=16", "secagg.max_weight=10000"),
                        "secagg.bits = 16 leaves no quantization level for 4 clients"),
                arguments(List.of("seeds=[1, 1]"), "seeds lists '1' twice"),
                arguments(List.of("sweep.clients=[]"), "sweep.clients: expected a non-empty list"),
                arguments(List.of("sweep.clients=3"), "sweep.clients: expected a non-empty list"),
                arguments(List.of("sweep.clients=[3, 3]"), "sweep.clients lists '3' twice"),
                arguments(List.of("sweep.clients=[3, x]"), "sweep.clients[1]: expected an integer, got 'x'"),
                arguments(List.of("sweep.seed=[1, 2]"), "seed cannot be swept; list the seeds instead"),
                arguments(List.of("sweep.clientz=[1]"), "unknown sweep key 'clientz' (did you mean 'clients'?)"),
                arguments(List.of("sweep.lora.rank=[4, 0]"), "run base_lora.rank=0_seed1: lora.rank must be at"
                        + " least 1"),
                arguments(List.of("experiments=[{name: base}]"), "experiments[0]: experiment name 'base'"),
                arguments(List.of("experiments=[{name: 'a b'}]"), "experiment name 'a b' must be letters"),
                arguments(List.of("experiments=[{name: a}, {name: a}]"), "experiments (names) lists 'a' twice"),
                arguments(List.of("experiments=[{name: a, sets: {}}]"), "expected {name: NAME, set:"),
                arguments(List.of("experiments=[{name: a, set: {experiments: []}}]"), "experiments do not nest"),
                arguments(List.of("experiments=[{name: a, set: {rounds: x}}]"), "experiments[0]: rounds: expected"
                        + " an integer"),
                arguments(List.of("experiments=[{name: a, set: {rounds: 0}}]"), "run a_seed1: rounds must be at"
                        + " least 1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidSettings")
    void invalidSettingIsRejectedWithAPreciseMessage(List<String> overrides, String expectedMessage) {
        assertThatThrownBy(() -> ConfigLoader.loadDefaults(overrides))
                .isInstanceOf(UserException.class)
                .hasMessageContaining(expectedMessage);
    }
}
