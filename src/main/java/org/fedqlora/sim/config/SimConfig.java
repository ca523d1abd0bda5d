package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.fedqlora.quant.QuantFormat;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The configuration of a federated simulation ({@code fedqlora simulate}): an immutable tree of records that is
 * valid by construction (every constructor checks its values and throws a {@link UserException} naming the key).
 *
 * <p>Keys: a field's YAML / {@code --set} key is its section and its name in snake_case, e.g.
 * {@code local.maxGradNorm} is {@code local.max_grad_norm}; YAML may nest sections ({@code local: {lr: 0.001}})
 * or write the dotted key. Defaults are {@link #defaults()}; {@link ConfigLoader} layers a preset or a file and
 * {@code --set} overrides over them, {@link ConfigWriter} writes the resolved config back.
 *
 * <p>One config may describe several runs: {@link #runs()} expands (base + {@link #experiments}) × {@link #sweep}
 * combinations × {@link #seeds}; see {@link Runs} for the order and the names. The config of a single run has
 * an empty sweep, no seeds list and no experiments.
 */
public record SimConfig(
        String model,                     // "minilm" (the embedded all-MiniLM-L6-v2) or a Hugging Face model folder
        Data data,                        // the data set and its preprocessing
        int clients,                      // N, the number of clients (>= 1)
        FormatSpec formats,               // base-weight format of each client: proportions or a list, see clientFormats()
        Quant quant,                      // quantization parameters shared by all formats
        Partition partition,              // how the training examples are split over the clients
        List<String> methods,             // the methods compared, each on the same clients and data; see METHODS
        int rounds,                       // federated rounds (>= 1)
        double fraction,                  // share of the clients sampled per round, in (0, 1]
        Failure failure,                  // when a round with failed clients is still aggregated
        Local local,                      // client-side training
        Lora lora,                        // LoRA adapters
        Head head,                        // classification head
        Qa qa,                            // quantization-aware (QA) adapters of fedqlora / ifedqlora
        IFedQLora ifedqlora,              // iFedQLoRA's refinement of the QA adapters
        Server server,                    // server-side optimizer over the aggregated update
        Eval eval,                        // evaluation schedule
        Privacy privacy,                  // client-level differential privacy (DP-FedAvg); mode none = off
        Transport transport,              // the network transport of `fedqlora server` / `client` (unused by simulate)
        Secagg secagg,                    // secure aggregation of the shared updates (SecAgg+)
        String compute,                   // precision of the frozen products: auto (bf16 with AMX, or avx512_bf16 on AMD), bf16, fp32
        long seed,                        // seed of everything random in one run (partition, sampling, init, dropout)
        List<Long> seeds,                 // if non-empty, every run is repeated once per seed (seed is then unused)
        Map<String, List<Object>> sweep,  // dotted key → values (typed as its field): every combination is run
        List<Experiment> experiments) {   // named variants of this config, run in addition to it

    /** Valid {@link #compute} values. */
    public static final List<String> COMPUTE = List.of("auto", "bf16", "fp32");

    /** Valid {@link #methods}. */
    public static final List<String> METHODS =
            List.of("lora", "ffa-lora", "lora-truncated", "fedqlora", "ifedqlora", "full-precision", "local");

    public SimConfig {
        Check.notBlank("model", model);
        compute = Check.oneOf("compute", compute, COMPUTE);
        Check.atLeast("clients", clients, 1);
        Objects.requireNonNull(formats, "formats").resolve(clients);
        methods = Check.subsetOf("methods", methods, METHODS);
        Check.atLeast("rounds", rounds, 1);
        if (!(fraction > 0 && fraction <= 1)) {
            throw new UserException("fraction must be in (0, 1], got " + fraction);
        }
        if (failure.minClients() > clients) {
            throw new UserException("failure.min_clients = " + failure.minClients() + " but there are only "
                    + clients + " clients: no round could ever be aggregated");
        }
        checkClientFiles(data, partition, clients);
        privacy.requireComplete(clients);
        secagg.check(clients);
        seeds = List.copyOf(seeds);
        Check.noDuplicates("seeds", seeds);
        sweep = Settings.sweep(Objects.requireNonNull(sweep, "sweep"));
        experiments = List.copyOf(experiments);
        Check.noDuplicates("experiments (names)", experiments.stream().map(Experiment::name).toList());
    }

    /** The built-in defaults: what every key not set by a preset, a file or --set takes. */
    public static SimConfig defaults() {
        return new SimConfig(
                "minilm",
                new Data("demo", Optional.empty(), "text", "label", 0.2, 64, 0, List.of(), "auto", "auto", "category"),
                4,
                FormatSpec.parse("nf2:0.5,nf4:0.5"),
                new Quant(64, false),
                new Partition("dirichlet", 0.5, 2, 10, 0.2),
                List.of("lora", "fedqlora", "ifedqlora"),
                10,
                1.0,
                new Failure(1, 0.5),
                new Local(1, 0, 16, "adamw", 5e-4, 0.0, 0.0, 1.0, 0, 0.0),
                new Lora(8, 16.0, 0.0, List.of("query", "value")),
                new Head("auto"),
                new Qa(16, "svd", 4),
                new IFedQLora("svd", 10, 1e-4),
                new Server("fedavg", 1.0, 0.9, 0.9, 0.99, 1e-3, 600.0, 600.0, 3),
                new Eval(1, 0),
                new Privacy("none", 0, new Privacy.AdaptiveClip(false, 0.5, 0.2, 0), 0, 0, 0, "auto"),
                new Transport("none", 1 << 20, 1L << 30),
                new Secagg(false, 0, 0, 48, 1.0, 10_000),
                "auto",
                1L,
                List.of(),
                Map.of(),
                List.of());
    }

    /** The format of each client, client 0 first ({@link FormatSpec#resolve}). */
    public List<QuantFormat> clientFormats() {
        return formats.resolve(clients);
    }

    /** Every run this config describes, in a deterministic order (see {@link Runs#expand}). */
    public List<Run> runs() {
        return Runs.expand(this);
    }

    private static void checkClientFiles(Data data, Partition partition, int clients) {
        boolean files = partition.method().equals("files");
        if (files && data.clientFiles().size() != clients) {
            throw new UserException("partition.method = files needs one file per client in data.client_files,"
                    + " but it lists " + data.clientFiles().size() + " files for " + clients + " clients");
        }
        if (!files && !data.clientFiles().isEmpty()) {
            throw new UserException("data.client_files is set but partition.method = " + partition.method()
                    + "; set partition.method=files to give each client its own file");
        }
    }

    /** The data set ({@code data.*}). */
    public record Data(
            String train,              // "demo" (embedded generated data) or a .jsonl / .csv / .parquet file
            Optional<String> test,     // held-out global test set; empty: split from train by evalFraction
            String textField,          // name of the text field / column
            String labelField,         // name of the label field / column
            double evalFraction,       // share of train held out as the global test set when test is empty
            int maxLength,             // tokens per example after truncation, [CLS] and [SEP] included (>= 3)
            int limit,                 // cap on the training examples used (0 = all), for quick runs
            List<String> clientFiles,  // one data file per client (partition.method must then be files)
            String task,               // see TASKS: auto = causal-lm when data.train holds instruction rows
            String chatTemplate,       // causal-lm: auto (the model's, else plain), plain, or a .jinja file
            String categoryField) {    // causal-lm: the field dirichlet/shards partition over (optional in the data)

        /** Valid {@link #task}s: classification (text/label) or causal-lm (instruction tuning of a decoder). */
        public static final List<String> TASKS = List.of("auto", "classification", "causal-lm");

        public Data {
            Check.notBlank("data.train", train);
            test.ifPresent(t -> Check.notBlank("data.test", t));
            Check.notBlank("data.text_field", textField);
            Check.notBlank("data.label_field", labelField);
            Check.unitOpen("data.eval_fraction", evalFraction);
            if (test.isEmpty() && evalFraction == 0) {
                throw new UserException("data.eval_fraction is 0 and there is no data.test: nothing to evaluate"
                        + " on; set data.eval_fraction (e.g. 0.2) or data.test");
            }
            Check.atLeast("data.max_length", maxLength, 3);
            Check.atLeast("data.limit", limit, 0);
            clientFiles = List.copyOf(clientFiles);
            clientFiles.forEach(f -> Check.notBlank("data.client_files (an element)", f));
            task = Check.oneOf("data.task", task, TASKS);
            Check.notBlank("data.chat_template", chatTemplate);
            Check.notBlank("data.category_field", categoryField);
        }
    }

    /** Quantization of the base weights ({@code quant.*}). */
    public record Quant(
            int groupSize,          // weights per block (NF) or group (INT) along a row; must divide the row length
            boolean doubleQuant) {  // quantize the NF block absmax to 8 bits (QLoRA's double quantization)

        public Quant {
            Check.atLeast("quant.group_size", groupSize, 1);
        }
    }

    /** How the training examples are split over the clients ({@code partition.*}). */
    public record Partition(
            String method,              // see METHODS
            double alpha,               // Dirichlet (label skew) or quantity (size skew) concentration, > 0
            int shardsPerClient,        // label-sorted shards per client for method shards
            int minSize,                // minimum examples per client
            double localTestFraction) { // share of each client's data held out as its local (personalised) test split

        /** Valid {@link #method}s. */
        public static final List<String> METHODS = List.of("iid", "dirichlet", "shards", "quantity", "files");

        public Partition {
            method = Check.oneOf("partition.method", method, METHODS);
            Check.positive("partition.alpha", alpha);
            Check.atLeast("partition.shards_per_client", shardsPerClient, 1);
            Check.atLeast("partition.min_size", minSize, 1);
            Check.unitOpen("partition.local_test_fraction", localTestFraction);
        }
    }

    /** When a round is aggregated although some sampled clients failed ({@code failure.*}). */
    public record Failure(
            int minClients,        // at least this many results
            double minFraction) {  // and at least this share of the sampled clients, in [0, 1]

        public Failure {
            Check.atLeast("failure.min_clients", minClients, 1);
            Check.unitClosed("failure.min_fraction", minFraction);
        }
    }

    /** Client-side training per round ({@code local.*}). */
    public record Local(
            int epochs,           // local epochs per round (used when steps = 0)
            int steps,            // if > 0, local optimizer steps per round instead of epochs
            int batchSize,        // examples per step
            String optimizer,     // see OPTIMIZERS
            double lr,            // learning rate, > 0
            double momentum,      // SGD momentum, in [0, 1)
            double weightDecay,   // decoupled (AdamW) or L2 (SGD) weight decay, >= 0
            double maxGradNorm,   // global gradient-norm clip (0 = no clipping)
            int warmupSteps,      // linear learning-rate warm-up steps
            double proximalMu) {  // FedProx μ: + μ/2·‖w − w_global‖² (0 = off)

        /** Valid {@link #optimizer}s. */
        public static final List<String> OPTIMIZERS = List.of("sgd", "adamw");

        public Local {
            Check.atLeast("local.steps", steps, 0);
            Check.atLeast("local.epochs", epochs, steps > 0 ? 0 : 1);
            Check.atLeast("local.batch_size", batchSize, 1);
            optimizer = Check.oneOf("local.optimizer", optimizer, OPTIMIZERS);
            Check.positive("local.lr", lr);
            Check.unitOpen("local.momentum", momentum);
            Check.nonNegative("local.weight_decay", weightDecay);
            Check.nonNegative("local.max_grad_norm", maxGradNorm);
            Check.atLeast("local.warmup_steps", warmupSteps, 0);
            Check.nonNegative("local.proximal_mu", proximalMu);
        }
    }

    /** LoRA adapters ({@code lora.*}). */
    public record Lora(
            int rank,              // r
            double alpha,          // the update is (alpha / r)·B·A
            double dropout,        // dropout on the adapter input during training, in [0, 1)
            List<String> targets) { // module names or suffixes, PEFT-style: [query, value]

        public Lora {
            Check.atLeast("lora.rank", rank, 1);
            Check.positive("lora.alpha", alpha);
            Check.unitOpen("lora.dropout", dropout);
            targets = List.copyOf(targets);
            if (targets.isEmpty()) {
                throw new UserException("lora.targets must name at least one module, e.g. [query, value]");
            }
            targets.forEach(t -> Check.notBlank("lora.targets (an element)", t));
            Check.noDuplicates("lora.targets", targets);
        }
    }

    /** Classification head ({@code head.*}). */
    public record Head(
            String pooling) {  // see POOLINGS: the model's default (mean; last for decoders), mean, [CLS], last token

        /** Valid {@link #pooling}s. */
        public static final List<String> POOLINGS = List.of("auto", "mean", "cls", "last");

        public Head {
            pooling = Check.oneOf("head.pooling", pooling, POOLINGS);
        }
    }

    /** Quantization-aware adapters of fedqlora and ifedqlora ({@code qa.*}). */
    public record Qa(
            int rank,        // rank of the QA adapter that absorbs the quantization error
            String method,   // see METHODS: truncated SVD of the error, or LoftQ alternation
            int iters) {     // LoftQ alternations (method loftq)

        /** Valid {@link #method}s. */
        public static final List<String> METHODS = List.of("svd", "loftq");

        public Qa {
            Check.atLeast("qa.rank", rank, 1);
            method = Check.oneOf("qa.method", method, METHODS);
            Check.atLeast("qa.iters", iters, 1);
        }
    }

    /** iFedQLoRA's refinement of the QA adapters ({@code ifedqlora.*}). */
    public record IFedQLora(
            String refine,      // see REFINES: closed form (SVD) or gradient steps
            int refineSteps,    // gradient steps for refine = train
            double refineLr) {  // learning rate for refine = train, > 0

        /** Valid {@link #refine} modes. */
        public static final List<String> REFINES = List.of("svd", "train");

        public IFedQLora {
            refine = Check.oneOf("ifedqlora.refine", refine, REFINES);
            Check.atLeast("ifedqlora.refine_steps", refineSteps, 1);
            Check.positive("ifedqlora.refine_lr", refineLr);
        }
    }

    /** Server-side optimizer applied to the aggregated update ({@code server.*}). */
    public record Server(
            String optimizer,  // see OPTIMIZERS
            double lr,         // server learning rate (1 with fedavg = plain averaging)
            double momentum,   // FedAvgM momentum, in [0, 1)
            double beta1,      // FedAdam first-moment decay, in [0, 1)
            double beta2,      // FedAdam second-moment decay, in [0, 1)
            double tau,        // FedAdam adaptivity (epsilon), > 0
            double roundTimeoutS, // deployment: a client that has not answered a phase after this many seconds failed
            double joinTimeoutS,  // deployment: how long the server waits for enough clients before a round
            int retries) {     // deployment: times a round rejected by the failure policy is run again

        /** Valid {@link #optimizer}s. */
        public static final List<String> OPTIMIZERS = List.of("fedavg", "fedavgm", "fedadam");

        public Server {
            optimizer = Check.oneOf("server.optimizer", optimizer, OPTIMIZERS);
            Check.positive("server.lr", lr);
            Check.unitOpen("server.momentum", momentum);
            Check.unitOpen("server.beta1", beta1);
            Check.unitOpen("server.beta2", beta2);
            Check.positive("server.tau", tau);
            Check.positive("server.round_timeout_s", roundTimeoutS);
            Check.positive("server.join_timeout_s", joinTimeoutS);
            Check.atLeast("server.retries", retries, 0);
        }
    }

    /** The network transport of a deployment ({@code transport.*}; see federation.proto). */
    public record Transport(
            String compression,    // upload encoding: none, deflate (lossless) or int8 (lossy, 4x smaller)
            int chunkBytes,        // largest message chunk of a streamed tensor, in bytes (default 1 MiB)
            long maxUpdateBytes) { // largest client update the server accepts, in bytes

        /** Valid {@link #compression}s. */
        public static final List<String> COMPRESSIONS = List.of("none", "deflate", "int8");

        public Transport {
            compression = Check.oneOf("transport.compression", compression, COMPRESSIONS);
            Check.atLeast("transport.chunk_bytes", chunkBytes, 1024);
            if (chunkBytes > 8 << 20) {
                throw new UserException("transport.chunk_bytes must be at most " + (8 << 20) + " (8 MiB), got "
                        + chunkBytes);
            }
            if (maxUpdateBytes < 1024) {
                throw new UserException("transport.max_update_bytes must be at least 1024, got " + maxUpdateBytes);
            }
        }
    }

    /** Evaluation schedule ({@code eval.*}). */
    public record Eval(
            int every,          // evaluate every k rounds; the last round is always evaluated
            int maxExamples) {  // cap on the global test examples (0 = all)

        public Eval {
            Check.atLeast("eval.every", every, 1);
            Check.atLeast("eval.max_examples", maxExamples, 0);
        }
    }

    /**
     * Client-level differential privacy ({@code privacy.*}), DP-FedAvg: each client's update of the shared tensors
     * is clipped to L2 norm {@code clip}, Gaussian noise N(0, (z·clip)²) is added by the server to the sum
     * (central) or by each client to its own update (local), and the mean divides by the expected number of clients
     * fraction · clients. In DP mode clients are Poisson-sampled: each independently with probability
     * {@code fraction} (what the accountant assumes), and {@code failure.min_clients} does not apply to sampling.
     * Nothing here has a default that changes the guarantee: clip, delta and one of noise_multiplier /
     * target_epsilon must be given when the mode is not none.
     */
    public record Privacy(
            String mode,                 // see MODES: none, central (server adds noise) or local (clients add noise)
            double clip,                 // S > 0, the L2 clip norm of a client update (initial C with adaptive_clip)
            AdaptiveClip adaptiveClip,   // quantile-based adaptive clipping (Andrew et al. 2021), central only
            double noiseMultiplier,      // z > 0; 0 = chosen from target_epsilon for the planned rounds
            double targetEpsilon,        // budget: a run stops before a round would exceed it; 0 = no budget
            double delta,                // δ in (0, 1) of the reported (ε, δ); required (well below 1/clients)
            String noise) {              // see NOISES: auto (seeded in simulate, secure in server/client), secure, seeded

        /** Valid {@link #mode}s. */
        public static final List<String> MODES = List.of("none", "central", "local");
        /**
         * Valid {@link #noise} sources: {@code secure} (SecureRandom: the guarantee holds), {@code seeded}
         * (AES-256-CTR from the run seed: bit-identical reruns, but no privacy against anyone who knows the config,
         * which every deployed client receives), {@code auto} (seeded in simulate, secure in a deployment).
         */
        public static final List<String> NOISES = List.of("auto", "secure", "seeded");

        public Privacy {
            mode = Check.oneOf("privacy.mode", mode, MODES);
            Check.nonNegative("privacy.clip", clip);
            Check.nonNegative("privacy.noise_multiplier", noiseMultiplier);
            Check.nonNegative("privacy.target_epsilon", targetEpsilon);
            Check.unitOpen("privacy.delta", delta);
            noise = Check.oneOf("privacy.noise", noise, NOISES);
        }

        /** Whether DP noise is drawn from the run seed: in simulate unless secure, in a deployment only if seeded. */
        public boolean seededNoise(boolean simulation) {
            return noise.equals("seeded") || (simulation && noise.equals("auto"));
        }

        /** Whether DP is on. */
        public boolean enabled() {
            return !mode.equals("none");
        }

        /** The checks that need the mode on, with advice naming each missing key. */
        void requireComplete(int clients) {
            if (!enabled()) {
                return;
            }
            if (clip == 0) {
                throw new UserException("privacy.mode = " + mode + " needs privacy.clip, the L2 norm bound S of a "
                        + "client update, e.g. --set privacy.clip=0.1 (with privacy.adaptive_clip.enabled=true it is "
                        + "only the starting value)");
            }
            if (delta == 0) {
                throw new UserException(String.format(java.util.Locale.ROOT, "privacy.mode = %s needs privacy.delta"
                        + " (there is no default: it is part of the guarantee); it should be well below 1/N = %.3g "
                        + "for N = %d clients, e.g. --set privacy.delta=1e-5", mode, 1.0 / clients, clients));
            }
            if (noiseMultiplier == 0 && targetEpsilon == 0) {
                throw new UserException("privacy.mode = " + mode + " needs privacy.noise_multiplier (e.g. 1.0) or "
                        + "privacy.target_epsilon (e.g. 8; the noise multiplier is then chosen for the planned rounds)");
            }
            if (adaptiveClip.enabled() && mode.equals("local")) {
                throw new UserException("privacy.adaptive_clip needs privacy.mode = central: in local mode the "
                        + "clients would have to randomise their clipped bits too; use a fixed privacy.clip");
            }
        }

        /** Adaptive clipping ({@code privacy.adaptive_clip.*}): C ← C·exp(−lr·(b̃ − target_quantile)). */
        public record AdaptiveClip(
                boolean enabled,         // adapt the clip norm each round (central mode)
                double targetQuantile,   // γ in (0, 1): share of client updates left unclipped (paper: 0.5)
                double lr,               // η_C > 0 of the geometric update (paper: 0.2)
                double countNoise) {     // σ_b of the noisy unclipped count, > z/2; 0 = m/20 (the paper's choice)

            public AdaptiveClip {
                if (!(targetQuantile > 0 && targetQuantile < 1)) {
                    throw new UserException("privacy.adaptive_clip.target_quantile must be in (0, 1), got "
                            + targetQuantile);
                }
                Check.positive("privacy.adaptive_clip.lr", lr);
                Check.nonNegative("privacy.adaptive_clip.count_noise", countNoise);
            }
        }
    }

    /**
     * Secure aggregation ({@code secagg.*}; see org.fedqlora.fed.secagg and the README): clients mask their updates
     * so that the server learns only the example-weighted sum over the clients that finished the round.
     */
    public record Secagg(
            boolean enabled,    // mask every aggregated method's updates (methods that share nothing are unaffected)
            int threshold,      // t: shares needed to unmask a client's secrets, >= 2 (0 = a majority of its k + 1 holders)
            int neighbours,     // k: neighbours per client, even (0 = 2*ceil(log2 n) + 2; >= clients - 1 = complete graph)
            int bits,           // the masked arithmetic is mod 2^bits, 16..62 (bytes per coordinate: ceil(bits / 8))
            double clip,        // every coordinate of an update (x_local - x_global) is clamped to [-clip, clip]
            long maxWeight) {   // example counts are capped at this before weighting; bounds the quantization step

        public Secagg {
            Check.atLeast("secagg.threshold", threshold, 0);
            if (threshold == 1) {
                throw new UserException("secagg.threshold must be 0 (automatic) or at least 2, got 1: with t = 1 any"
                        + " single neighbour could unmask a client");
            }
            Check.atLeast("secagg.neighbours", neighbours, 0);
            Check.atLeast("secagg.bits", bits, org.fedqlora.fed.secagg.SecAggConfig.MIN_BITS);
            if (bits > org.fedqlora.fed.secagg.SecAggConfig.MAX_BITS) {
                throw new UserException("secagg.bits must be at most " + org.fedqlora.fed.secagg.SecAggConfig.MAX_BITS
                        + ", got " + bits);
            }
            Check.positive("secagg.clip", clip);
            if (maxWeight < 1) {
                throw new UserException("secagg.max_weight must be at least 1, got " + maxWeight);
            }
        }

        /** The protocol settings. */
        public org.fedqlora.fed.secagg.SecAggSettings settings() {
            return new org.fedqlora.fed.secagg.SecAggSettings(threshold, neighbours, bits, clip, maxWeight);
        }

        /** With secure aggregation on: the graph, threshold and fixed-point range must fit {@code clients}. */
        void check(int clients) {
            if (!enabled) {
                return;
            }
            if (clients < 2) {
                throw new UserException("secagg.enabled needs at least 2 clients (the sum of one update is the"
                        + " update), got clients = " + clients);
            }
            if (neighbours != 0 && neighbours < clients - 1 && (neighbours < 2 || neighbours % 2 != 0)) {
                throw new UserException("secagg.neighbours = " + neighbours + " must be even (k/2 neighbours on each"
                        + " side of the ring), 0 for automatic, or >= " + (clients - 1) + " for the complete graph");
            }
            int k = settings().neighboursFor(clients);
            if (threshold > k + 1) {
                throw new UserException("secagg.threshold = " + threshold + " but each client's secrets have only "
                        + (k + 1) + " holders (itself and " + k + " neighbours); lower secagg.threshold or raise"
                        + " secagg.neighbours");
            }
            long w = clients * maxWeight;
            if (w <= 0 || ((1L << (bits - 1)) - 1) / w < 1) {
                throw new UserException("secagg.bits = " + bits + " leaves no quantization level for " + clients
                        + " clients x secagg.max_weight " + maxWeight + "; raise secagg.bits or lower"
                        + " secagg.max_weight");
            }
        }
    }

    /**
     * A named variant of the base config: {@code set} holds key → value overrides applied over the base, with the
     * same keys as {@code --set} (any key but {@code experiments}; {@code sweep} and {@code seeds} included, so a
     * variant may drop or change the base sweep).
     *
     * @param name a folder-safe name ([A-Za-z0-9._-]+, not "base")
     * @param set  the overrides, dotted key → value
     */
    public record Experiment(String name, Map<String, Object> set) {
        private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");

        public Experiment {
            if (name == null || !NAME.matcher(name).matches() || name.equals(Runs.BASE)) {
                throw new UserException("experiment name '" + name + "' must be letters, digits, '.', '_' or '-'"
                        + " and not '" + Runs.BASE + "' (the base config's name)");
            }
            Map<String, Object> typed = new LinkedHashMap<>();
            set.forEach((key, value) -> {
                if (key.equals("experiments")) {
                    throw new UserException("experiment '" + name + "' sets 'experiments': experiments do not nest");
                }
                typed.put(key, Settings.overrideValue(key, value));
            });
            set = Collections.unmodifiableMap(typed);
        }
    }
}
