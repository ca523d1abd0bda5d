package org.fedqlora.cli;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.generate.Generator;
import org.fedqlora.generate.Sampling;
import org.fedqlora.model.Models;
import org.fedqlora.model.llama.CausalLm;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.nn.Compute;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.train.ClassificationHead;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.Optimizer;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.train.TextClassifier;
import org.fedqlora.train.TrainOptions;
import org.fedqlora.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/** {@code fedqlora bench}: speed and memory of the project's own hot paths. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Train.class, BenchCommand.Generate.class, BenchCommand.Compare.class,
                BenchAggregate.class, BenchSecAggCommand.class})
public final class BenchCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** {@code fedqlora bench train}: whole training steps (forward, backward, optimizer) on random token ids. */
    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Times whole LoRA training steps (forward, backward, optimizer) after warm-up, on random",
                    "token ids (every sequence exactly --seq tokens), and reports throughput and memory."},
            footer = {"", "Examples:",
                    "  fedqlora bench train --model minilm --format nf4 --batch 16 --seq 128 --lora-rank 8 --targets query,value --steps 10 --json",
                    "  fedqlora bench train --format nf4 --steps 500 --rss-every 50     # native memory over 500 steps",
                    "  fedqlora bench train --model synthetic:smollm2-135m --format nf2 --residency packed --batch 8 --seq 256 \\",
                    "      --targets all-linear --steps 3 --warmup 1 --json                # a decoder: causal-LM loss",
                    "",
                    "A decoder (Llama, Mistral, Qwen2 folder, or synthetic:smollm2-135m, a random SmolLM2-135M) is timed on the",
                    "causal-LM objective (logits over the vocabulary at every position); an encoder on classification.",
                    "JSON: {\"tokens_per_s\", \"step_ms\", \"peak_rss_mb\", \"base_weight_bytes\", ...}; RSS from /proc/self/status."})
    public static final class Train implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "minilm") String model;
        @Option(names = "--format", defaultValue = "nf4") String format;
        @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64") int groupSize;
        @Option(names = "--residency", defaultValue = "dequantized",
                description = "dequantized (fp32 copy of Q(W)) or packed (the format's true size, unpacked inside each "
                        + "product's native call; same outputs, training speed within a few %%).")
        String residency;
        @Range(min = 1, max = 4096, zero = "no QA adapter") @Option(names = "--qa-rank", defaultValue = "0", description = "QA adapter rank on every quantized layer (default 0).")
        int qaRank;
        @Range(min = 1, max = 65_536) @Option(names = "--batch", defaultValue = "16") int batch;
        @Range(min = 3, max = 1 << 20) @Option(names = "--seq", defaultValue = "128") int seq;
        @Range(min = 1, max = 4096) @Option(names = "--lora-rank", defaultValue = "8") int loraRank;
        @Range(min = 0, max = 1e6, minExclusive = true) @Option(names = "--lora-alpha", defaultValue = "16") float loraAlpha;
        @Option(names = "--targets", defaultValue = "query,value", split = ",") List<String> targets;
        @Option(names = "--optimizer", defaultValue = "adamw") String optimizer;
        @Range(min = 1, max = 1e9) @Option(names = "--steps", defaultValue = "10", description = "Timed steps (default: ${DEFAULT-VALUE}).") int steps;
        @Range(min = 0, max = 1e9) @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default: ${DEFAULT-VALUE}).") int warmup;
        @Range(min = 1, max = 1e9, zero = "off") @Option(names = "--rss-every", defaultValue = "0", description = "Sample RSS every N steps (0 = off).") int rssEvery;
        @Option(names = "--compute", defaultValue = "auto",
                description = "Precision of the frozen products: fp32, bf16 or auto (bf16 where the CPU has "
                        + "AMX, or avx512_bf16 on AMD; default: ${DEFAULT-VALUE}).")
        String compute;
        @Option(names = "--json", description = "Print JSON only.") boolean json;
        @Option(names = "--profile", paramLabel = "FILE",
                description = "Write libtorch's profiler trace of the timed steps to FILE (Chrome trace JSON: open it "
                        + "in chrome://tracing or Perfetto). Profiling slows the steps; do not quote their speed.")
        Path profile;

        @Override
        public Integer call() throws IOException {
            QaSpec qa = new QaSpec(qaRank, QaSpec.Method.SVD, 1);
            try (QuantizedModel qm = QuantizedModel.load(Models.open(model),
                    new QuantSpec(QuantFormat.parse(format), groupSize, false), qa,
                    QuantizedBase.Residency.parse(residency), 0)) {
                TextEncoder enc = qm.encoder();
                Compute precision = Compute.parse(compute);
                enc.setCompute(precision);
                if (enc.encoder() instanceof LlamaModel decoder) {
                    return causalLm(qm, decoder);
                }
                int C = enc.encoder().config().hidden();
                int V = enc.encoder().config().vocab();
                AdapterSet adapters = qm.newAdapters(new LoraConfig(loraRank, loraAlpha, 0f, targets), 1, qa.enabled());
                adapters.attach();
                ClassificationHead head = ClassificationHead.init(enc.manager(), C, 4, 1);
                TextClassifier clf = new TextClassifier(enc, adapters, head, Pooling.MEAN);
                EncodedExamples data = randomTokens(batch * (warmup + steps), seq, V, 4);
                List<ai.djl.ndarray.NDArray> params = clf.trainable(false, false);
                double[] stepEnd = new double[warmup + steps + 1];
                List<long[]> rss = new ArrayList<>();
                TrainOptions o = new TrainOptions(1, warmup + steps, batch, Optimizer.Kind.parse(optimizer), 1e-4f, 0f,
                        0f, 1f, 0, false, 1, 0, 0f);
                long rss0 = rssKb("VmRSS");
                if (profile != null && warmup == 0) {
                    JniUtils.startProfile(false, true, false);
                }
                Trainer.train(clf, params, data, null, o, null, new Trainer.Listener() {
                    @Override
                    public void step(int step, int total, float loss, long tokens, double seconds) {
                        stepEnd[step] = seconds;
                        if (profile != null && step == warmup) {
                            JniUtils.startProfile(false, true, false);
                        }
                        if (rssEvery > 0 && (step % rssEvery == 0 || step == 1)) {
                            Runtime rt = Runtime.getRuntime();
                            rss.add(new long[] {step, rssKb("VmRSS") / 1024, (rt.totalMemory() - rt.freeMemory()) >> 20,
                                    rt.totalMemory() >> 20, directBufferBytes() >> 20});
                        }
                        if (!json) {
                            System.err.printf(Locale.ROOT, "\rstep %d/%d  loss %.4f", step, total, loss);
                        }
                    }
                });
                if (!json) {
                    System.err.println();
                }
                if (profile != null) {
                    JniUtils.stopProfile(profile.toAbsolutePath().toString());
                }
                double timed = stepEnd[warmup + steps] - stepEnd[warmup];
                double tokensPerS = (double) batch * seq * steps / timed;
                ObjectNode out = new ObjectMapper().createObjectNode();
                out.put("tokens_per_s", Math.round(tokensPerS * 10) / 10.0);
                out.put("step_ms", Math.round(timed / steps * 1e4) / 10.0);
                double flops = stepFlops((org.fedqlora.model.bert.BertConfig) enc.encoder().config(), batch, seq);
                out.put("gflop_per_step", Math.round(flops / 1e8) / 10.0);
                out.put("gflop_per_s", Math.round(flops * steps / timed / 1e8) / 10.0);
                out.put("compute", precision.id());
                out.put("peak_rss_mb", rssKb("VmHWM") / 1024);
                out.put("base_weight_bytes", enc.encoder().baseWeightBytes());
                out.put("linear_base_bytes", enc.encoder().linears().stream().mapToLong(l -> l.base().residentBytes()).sum());
                out.put("rss_start_mb", rss0 / 1024);
                out.put("rss_end_mb", rssKb("VmRSS") / 1024);
                out.put("format", format);
                out.put("residency", residency);
                out.put("batch", batch);
                out.put("seq", seq);
                out.put("steps", steps);
                out.put("threads", Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors()));
                if (!rss.isEmpty()) {
                    var arr = out.putArray("rss_mb_by_step");
                    rss.forEach(r -> arr.addArray().add(r[0]).add(r[1]));
                    var heap = out.putArray("java_heap_mb_by_step");     // [step, used, committed]: the JVM's share
                    rss.forEach(r -> heap.addArray().add(r[0]).add(r[2]).add(r[3]));
                    var direct = out.putArray("direct_buffer_mb_by_step");   // [step, MB]: NIO direct buffers alive
                    rss.forEach(r -> direct.addArray().add(r[0]).add(r[4]));
                }
                String text = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out);
                System.out.println(text);
                adapters.close();
                head.close();
            }
            return 0;
        }

        /** LoRA steps on the causal-LM loss of random token sequences (every position a target). */
        private int causalLm(QuantizedModel qm, LlamaModel model) throws IOException {
            TextEncoder enc = qm.encoder();
            int V = model.config().vocab();
            try (AdapterSet adapters = qm.newAdapters(new LoraConfig(loraRank, loraAlpha, 0f, targets), 1, qaRank > 0);
                 Optimizer opt = new Optimizer(Optimizer.Kind.parse(optimizer), 0f, 0f, enc.manager())) {
                adapters.attach();
                List<ai.djl.ndarray.NDArray> params = new ArrayList<>();
                adapters.loraParameters().forEach(p -> params.add(p.array()));
                params.forEach(p -> p.setRequiresGradient(true));
                SplittableRandom r = new SplittableRandom(7);
                long rss0 = rssKb("VmRSS");
                long start = 0;
                List<long[]> rss = new ArrayList<>();
                float loss = 0;
                for (int s = 1; s <= warmup + steps; s++) {
                    if (s == warmup + 1) {
                        start = System.nanoTime();
                        if (profile != null) {
                            JniUtils.startProfile(false, true, false);
                        }
                    }
                    long[] ids = new long[batch * seq];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = r.nextInt(V);
                    }
                    try (ai.djl.ndarray.NDManager step = enc.manager().newSubManager()) {
                        var x = step.create(ids, new ai.djl.ndarray.types.Shape(batch, seq));
                        ai.djl.ndarray.NDArray l;
                        try (ai.djl.training.GradientCollector gc = org.fedqlora.engine.Engines.get().newGradientCollector()) {
                            l = CausalLm.loss(model.logits(step, model.hidden(step, x, x.onesLike(), true)), x);
                            gc.backward(l);
                        }
                        loss = l.getFloat();
                        opt.step(params, 1e-4f, 1f, step);
                    }
                    if (rssEvery > 0 && (s % rssEvery == 0 || s == 1)) {
                        rss.add(new long[] {s, rssKb("VmRSS") / 1024});
                    }
                    if (!json) {
                        System.err.printf(Locale.ROOT, "\rstep %d/%d  loss %.4f", s, warmup + steps, loss);
                    }
                }
                double timed = (System.nanoTime() - start) / 1e9;
                if (!json) {
                    System.err.println();
                }
                if (profile != null) {
                    JniUtils.stopProfile(profile.toAbsolutePath().toString());
                }
                ObjectNode out = new ObjectMapper().createObjectNode();
                out.put("objective", "causal-lm");
                out.put("tokens_per_s", Math.round((double) batch * seq * steps / timed * 10) / 10.0);
                out.put("step_ms", Math.round(timed / steps * 1e4) / 10.0);
                out.put("peak_rss_mb", rssKb("VmHWM") / 1024);
                out.put("base_weight_bytes", model.baseWeightBytes());
                out.put("linear_base_bytes", model.linears().stream().mapToLong(l -> l.base().residentBytes()).sum());
                out.put("linear_fp32_bytes", model.linears().stream().mapToLong(l -> 4L * l.in() * l.out()).sum());
                out.put("rss_start_mb", rss0 / 1024);
                out.put("rss_end_mb", rssKb("VmRSS") / 1024);
                out.put("model", model.config().modelType() + " " + model.config().layers() + "x" + model.config().hidden());
                out.put("format", qm.format());
                out.put("residency", residency);
                out.put("batch", batch);
                out.put("seq", seq);
                out.put("steps", steps);
                out.put("last_loss", loss);
                out.put("threads", Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors()));
                if (!rss.isEmpty()) {
                    var arr = out.putArray("rss_mb_by_step");
                    rss.forEach(x -> arr.addArray().add(x[0]).add(x[1]));
                }
                System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out));
            }
            return 0;
        }

        /**
         * Multiply-add work of one training step, counted the usual way (2 FLOPs per multiply-add): the forward
         * products (every base linear layer, 2·B·T·in·out; attention q·kᵀ and p·v, 4·B·T²·C per layer) twice, since
         * the backward pass computes one input gradient per product (base weights get none). LoRA, the head and
         * elementwise work are not counted.
         */
        static double stepFlops(org.fedqlora.model.bert.BertConfig c, int batch, int seq) {
            double tokens = (double) batch * seq;
            double C = c.hidden();
            double F = c.intermediate();
            double perLayer = 2 * tokens * (4 * C * C + 2 * C * F) + 4.0 * batch * seq * seq * C;
            return 2 * perLayer * c.layers();
        }

        static EncodedExamples randomTokens(int n, int seq, int vocab, int classes) {
            SplittableRandom r = new SplittableRandom(7);
            long[][] ids = new long[n][seq];
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                ids[i][0] = 101;
                for (int t = 1; t < seq; t++) {
                    ids[i][t] = 1000 + r.nextInt(vocab - 1000);
                }
                labels[i] = r.nextInt(classes);
            }
            return new EncodedExamples(ids, labels, 0);
        }

        /** Bytes held by live NIO direct buffers (what DJL's {@code create(float[])} and friends allocate). */
        static long directBufferBytes() {
            return java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class)
                    .stream().filter(b -> b.getName().equals("direct"))
                    .mapToLong(java.lang.management.BufferPoolMXBean::getMemoryUsed).sum();
        }

        /** A field of /proc/self/status in kB (VmRSS now, VmHWM the peak), or -1 where there is none. */
        static long rssKb(String field) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith(field + ":")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                return -1;
            }
            return -1;
        }
    }

    /** {@code fedqlora bench generate}: greedy KV-cache decoding speed and memory of a decoder. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Times greedy KV-cache decoding (batch 1) of a decoder from a random prompt, after an untimed",
                    "warm-up, and reports tokens/s, peak resident memory and the bytes of the linear weights."},
            footer = {"", "Examples:",
                    "  fedqlora bench generate --model synthetic:smollm2-135m --format nf2 --residency packed --json",
                    "  fedqlora bench generate --model Qwen2.5-0.5B --format nf4 --new-tokens 64",
                    "",
                    "synthetic:smollm2-135m is a random decoder of SmolLM2-135M's shape (hidden 576, 30 layers, 9 heads,",
                    "3 KV heads, intermediate 1536, vocabulary 49152, tied embeddings); its weights are drawn when read.",
                    "JSON: {\"tokens_per_s\" (new tokens / decoding time, prefill excluded), \"total_tokens_per_s\",",
                    "\"prefill_s\", \"peak_rss_mb\" (VmHWM, loading included), \"decode_peak_rss_mb\" (after loading),",
                    "\"linear_base_bytes\", \"linear_fp32_bytes\", ...}."})
    public static final class Generate implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "synthetic:smollm2-135m") String model;
        @Option(names = "--format", defaultValue = "fp32") String format;
        @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64") int groupSize;
        @Option(names = "--residency", defaultValue = "packed",
                description = "packed (the format's true size, unpacked inside each product's native call; default) or "
                        + "dequantized (fp32 copy of Q(W)).")
        String residency;
        @Range(min = 1, max = 1 << 20) @Option(names = "--prompt-tokens", defaultValue = "32") int promptTokens;
        @Range(min = 1, max = 1 << 20) @Option(names = "--new-tokens", defaultValue = "128") int newTokens;
        @Range(min = 0, max = 1 << 20) @Option(names = "--warmup", defaultValue = "8", description = "Untimed tokens generated first.") int warmup;
        @Option(names = "--json", description = "Print JSON only.") boolean json;

        @Override
        public Integer call() throws IOException {
            long t0 = System.nanoTime();
            try (QuantizedModel qm = QuantizedModel.load(Models.open(model),
                    new QuantSpec(QuantFormat.parse(format), groupSize, false), QaSpec.none(),
                    QuantizedBase.Residency.parse(residency), 0)) {
                LlamaModel decoder = qm.encoder().decoder();
                double loadS = (System.nanoTime() - t0) / 1e9;
                SplittableRandom r = new SplittableRandom(11);
                long[] prompt = new long[promptTokens];
                for (int i = 0; i < prompt.length; i++) {
                    prompt[i] = r.nextInt(decoder.config().vocab());
                }
                var ndm = qm.encoder().manager();
                long loadPeakKb = Train.rssKb("VmHWM");
                System.gc();                                   // loading's transient host arrays
                boolean reset = resetPeakRss();
                if (warmup > 0) {
                    Generator.generate(decoder, ndm, prompt, new Generator.Options(warmup, java.util.Set.of(), List.of(),
                            Sampling.greedy()), ids -> "", null);
                }
                Generator.Result g = Generator.generate(decoder, ndm, prompt, new Generator.Options(newTokens,
                        java.util.Set.of(), List.of(), Sampling.greedy()), ids -> "", null);
                int n = g.generatedIds().length;
                double decodeS = g.seconds() - g.prefillSeconds();
                ObjectNode out = new ObjectMapper().createObjectNode();
                out.put("tokens_per_s", Math.round((n - 1) / decodeS * 100) / 100.0);
                out.put("total_tokens_per_s", Math.round(g.tokensPerSecond() * 100) / 100.0);
                out.put("prefill_s", Math.round(g.prefillSeconds() * 1000) / 1000.0);
                out.put("new_tokens", n);
                out.put("prompt_tokens", promptTokens);
                long hwm = Train.rssKb("VmHWM");
                out.put("peak_rss_mb", Math.max(loadPeakKb, hwm) / 1024);
                out.put("decode_peak_rss_mb", reset ? hwm / 1024 : -1);
                out.put("rss_end_mb", Train.rssKb("VmRSS") / 1024);
                long linear = decoder.linears().stream().mapToLong(l -> l.base().residentBytes()).sum();
                long fp32 = decoder.linears().stream().mapToLong(l -> 4L * l.in() * l.out()).sum();
                out.put("linear_base_bytes", linear);
                out.put("linear_fp32_bytes", fp32);
                out.put("linear_ratio", Math.round((double) linear / fp32 * 10000) / 10000.0);
                out.put("base_weight_bytes", decoder.baseWeightBytes());
                out.put("load_s", Math.round(loadS * 10) / 10.0);
                out.put("model", model);
                out.put("format", qm.format());
                out.put("residency", residency);
                out.put("threads", Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors()));
                String text = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out);
                System.out.println(text);
            }
            return 0;
        }

        /** Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs), so a later peak is the decoding's. */
        private static boolean resetPeakRss() {
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
                return true;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
    }

    /**
     * {@code fedqlora bench compare}: the same training step at several compute settings, interleaved in one process
     * (a few steps of each in turn, repeated), so that other load on the machine affects every setting alike.
     */
    @Command(name = "compare", mixinStandardHelpOptions = true,
            description = {"Times the same LoRA training step in fp32, bf16 and bf16 with packed weights, interleaved",
                    "in one process (--steps of each in turn, --rounds times), and prints them side by side: median",
                    "tokens/s, ms/step, GFLOP/s, and the resident bytes of the base linear weights."},
            footer = {"", "Example:",
                    "  fedqlora bench compare --model minilm --format nf4 --batch 16 --seq 128 --rounds 5",
                    "", "Peak RSS is the whole process's (every setting's model is loaded at once). On a shared machine",
                    "compare CPU ms/step with one torch thread: FEDQLORA_JAVA_OPTS=-Dai.djl.pytorch.num_threads=1"})
    public static final class Compare implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "minilm") String model;
        @Option(names = "--format", defaultValue = "nf4") String format;
        @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64") int groupSize;
        @Range(min = 1, max = 65_536) @Option(names = "--batch", defaultValue = "16") int batch;
        @Range(min = 1, max = 1 << 20) @Option(names = "--seq", defaultValue = "128") int seq;
        @Range(min = 1, max = 4096) @Option(names = "--lora-rank", defaultValue = "8") int loraRank;
        @Option(names = "--targets", defaultValue = "query,value", split = ",") List<String> targets;
        @Option(names = "--settings", defaultValue = "fp32,bf16,bf16-packed", split = ",",
                description = "Settings compared: fp32, bf16, fp32-packed, bf16-packed (default: ${DEFAULT-VALUE}).")
        List<String> settings;
        @Range(min = 1, max = 1e6) @Option(names = "--steps", defaultValue = "3", description = "Steps of one setting per turn (default: ${DEFAULT-VALUE}).") int steps;
        @Range(min = 1, max = 1e6) @Option(names = "--rounds", defaultValue = "4", description = "Turns of every setting (default: ${DEFAULT-VALUE}).") int rounds;
        @Option(names = "--json", description = "Print JSON only.") boolean json;

        /** One compared setting: a loaded model with its adapters. */
        private record Setting(String name, QuantizedModel model, AdapterSet adapters, ClassificationHead head,
                               TextClassifier clf, List<ai.djl.ndarray.NDArray> params, List<Double> stepMs,
                               List<Double> cpuMs) {
        }

        @Override
        public Integer call() throws IOException {
            List<Setting> all = new ArrayList<>();
            try {
                for (String name : settings) {
                    all.add(load(name));
                }
                EncodedExamples data = Train.randomTokens(batch * steps, seq,
                        all.get(0).model().encoder().encoder().config().vocab(), 4);
                TrainOptions o = new TrainOptions(1, steps, batch, Optimizer.Kind.ADAMW, 1e-4f, 0f, 0f, 1f, 0, false,
                        1, 0, 0f);
                for (int r = 0; r <= rounds; r++) {           // round 0 warms every setting up, untimed
                    for (Setting st : all) {
                        double[] last = {0, cpuSeconds()};
                        int round = r;
                        Trainer.train(st.clf(), st.params(), data, null, o, null, new Trainer.Listener() {
                            @Override
                            public void step(int step, int total, float loss, long tokens, double seconds) {
                                double cpu = cpuSeconds();
                                if (round > 0) {
                                    st.stepMs().add((seconds - last[0]) * 1e3);
                                    st.cpuMs().add((cpu - last[1]) * 1e3);
                                }
                                last[0] = seconds;
                                last[1] = cpu;
                            }
                        });
                        if (!json) {
                            System.err.printf(Locale.ROOT, "\rround %d/%d  %s        ", r, rounds, st.name());
                        }
                    }
                }
                if (!json) {
                    System.err.println();
                }
                print(all);
            } finally {
                for (Setting st : all) {
                    st.adapters().close();
                    st.head().close();
                    st.model().close();
                }
            }
            return 0;
        }

        private Setting load(String name) {
            String[] parts = name.split("-", 2);
            Compute c = Compute.parse(parts[0]);
            QuantizedBase.Residency residency = parts.length > 1 ? QuantizedBase.Residency.parse(parts[1])
                    : QuantizedBase.Residency.DEQUANTIZED;
            QuantizedModel qm = QuantizedModel.load(Models.open(model), new QuantSpec(QuantFormat.parse(format), groupSize,
                    false), QaSpec.none(), residency, 0);
            if (!(qm.encoder().encoder().config() instanceof org.fedqlora.model.bert.BertConfig)) {
                qm.close();
                throw new org.fedqlora.UserException("bench compare times encoder (BERT-family) training steps; for a "
                        + "decoder use 'bench train --compute fp32' and 'bench train --compute bf16' back to back");
            }
            qm.encoder().setCompute(c);
            int C = qm.encoder().encoder().config().hidden();
            AdapterSet adapters = qm.newAdapters(new LoraConfig(loraRank, 2f * loraRank, 0f, targets), 1, false);
            adapters.attach();
            ClassificationHead head = ClassificationHead.init(qm.encoder().manager(), C, 4, 1);
            TextClassifier clf = new TextClassifier(qm.encoder(), adapters, head, Pooling.MEAN);
            return new Setting(name, qm, adapters, head, clf, clf.trainable(false, false), new ArrayList<>(),
                    new ArrayList<>());
        }

        private void print(List<Setting> all) throws IOException {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode out = mapper.createObjectNode();
            out.put("cpu", cpuModel());
            out.put("threads", ai.djl.pytorch.jni.JniUtils.getNumThreads());
            out.put("format", format);
            out.put("batch", batch);
            out.put("seq", seq);
            double flops = Train.stepFlops((org.fedqlora.model.bert.BertConfig) all.get(0).model().encoder().encoder().config(), batch, seq);
            out.put("gflop_per_step", Math.round(flops / 1e8) / 10.0);
            var rows = out.putArray("settings");
            double ref = Double.NaN;
            StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%-12s %10s %9s %9s %8s %12s %12s%n",
                    "setting", "tokens/s", "ms/step", "GFLOP/s", "vs first", "base MB", "CPU ms/step"));
            for (Setting st : all) {
                double ms = median(st.stepMs());
                ref = Double.isNaN(ref) ? ms : ref;
                double tps = batch * seq / (ms / 1e3);
                long baseBytes = st.model().encoder().encoder().linears().stream()
                        .mapToLong(l -> l.base().residentBytes()).sum();
                ObjectNode row = rows.addObject();
                row.put("setting", st.name());
                row.put("tokens_per_s", Math.round(tps * 10) / 10.0);
                row.put("step_ms", Math.round(ms * 10) / 10.0);
                row.put("gflop_per_s", Math.round(flops / (ms / 1e3) / 1e8) / 10.0);
                row.put("speedup_vs_first", Math.round(ref / ms * 100) / 100.0);
                row.put("linear_base_mb", Math.round(baseBytes / 1e5) / 10.0);
                row.put("steps_timed", st.stepMs().size());
                row.put("cpu_ms_per_step", Math.round(median(st.cpuMs()) * 10) / 10.0);
                table.append(String.format(Locale.ROOT, "%-12s %10.0f %9.1f %9.1f %7.2fx %12.1f %12.1f%n", st.name(), tps,
                        ms, flops / (ms / 1e3) / 1e9, ref / ms, baseBytes / 1e6, median(st.cpuMs())));
            }
            out.put("peak_rss_mb", Train.rssKb("VmHWM") / 1024);
            if (!json) {
                System.out.print(table);
                System.out.printf(Locale.ROOT, "%s, %d threads, %.1f GFLOP/step, peak RSS %d MB (all settings)%n%n",
                        cpuModel(), ai.djl.pytorch.jni.JniUtils.getNumThreads(), flops / 1e9, Train.rssKb("VmHWM") / 1024);
            }
            System.out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(out));
        }

        /**
         * CPU time of the whole process: on a machine shared with other jobs, CPU time per step (with one torch
         * thread, so that no thread spins waiting for another) tracks the work a step costs when wall time does not.
         */
        static double cpuSeconds() {
            return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                    .getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
        }

        static double median(List<Double> v) {
            double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return a.length == 0 ? Double.NaN : a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
        }

        /** lscpu's "Model name" (from /proc/cpuinfo). */
        static String cpuModel() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                    if (line.startsWith("model name")) {
                        return line.substring(line.indexOf(':') + 1).trim();
                    }
                }
            } catch (IOException e) {
                return "unknown";
            }
            return "unknown";
        }
    }

}
