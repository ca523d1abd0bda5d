package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.model.Models;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
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
        subcommands = {BenchCommand.Train.class, BenchAggregate.class})
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
                    "",
                    "JSON: {\"tokens_per_s\", \"step_ms\", \"peak_rss_mb\", \"base_weight_bytes\", ...}; RSS from /proc/self/status."})
    public static final class Train implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "minilm") String model;
        @Option(names = "--format", defaultValue = "nf4") String format;
        @Option(names = "--group-size", defaultValue = "64") int groupSize;
        @Option(names = "--residency", defaultValue = "dequantized",
                description = "dequantized (fp32 copy of Q(W), fast) or packed (dequantize every forward).")
        String residency;
        @Option(names = "--qa-rank", defaultValue = "0", description = "QA adapter rank on every quantized layer (default 0).")
        int qaRank;
        @Option(names = "--batch", defaultValue = "16") int batch;
        @Option(names = "--seq", defaultValue = "128") int seq;
        @Option(names = "--lora-rank", defaultValue = "8") int loraRank;
        @Option(names = "--lora-alpha", defaultValue = "16") float loraAlpha;
        @Option(names = "--targets", defaultValue = "query,value", split = ",") List<String> targets;
        @Option(names = "--optimizer", defaultValue = "adamw") String optimizer;
        @Option(names = "--steps", defaultValue = "10", description = "Timed steps (default: ${DEFAULT-VALUE}).") int steps;
        @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default: ${DEFAULT-VALUE}).") int warmup;
        @Option(names = "--rss-every", defaultValue = "0", description = "Sample RSS every N steps (0 = off).") int rssEvery;
        @Option(names = "--json", description = "Print JSON only.") boolean json;

        @Override
        public Integer call() throws IOException {
            QaSpec qa = new QaSpec(qaRank, QaSpec.Method.SVD, 1);
            try (QuantizedModel qm = QuantizedModel.load(Models.open(model),
                    new QuantSpec(QuantFormat.parse(format), groupSize, false), qa,
                    QuantizedBase.Residency.parse(residency), 0)) {
                TextEncoder enc = qm.encoder();
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
                Trainer.train(clf, params, data, null, o, null, new Trainer.Listener() {
                    @Override
                    public void step(int step, int total, float loss, long tokens, double seconds) {
                        stepEnd[step] = seconds;
                        if (rssEvery > 0 && (step % rssEvery == 0 || step == 1)) {
                            rss.add(new long[] {step, rssKb("VmRSS") / 1024});
                        }
                        if (!json) {
                            System.err.printf(Locale.ROOT, "\rstep %d/%d  loss %.4f", step, total, loss);
                        }
                    }
                });
                if (!json) {
                    System.err.println();
                }
                double timed = stepEnd[warmup + steps] - stepEnd[warmup];
                double tokensPerS = (double) batch * seq * steps / timed;
                ObjectNode out = new ObjectMapper().createObjectNode();
                out.put("tokens_per_s", Math.round(tokensPerS * 10) / 10.0);
                out.put("step_ms", Math.round(timed / steps * 1e4) / 10.0);
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
                }
                String text = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out);
                System.out.println(text);
                adapters.close();
                head.close();
            }
            return 0;
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

}
