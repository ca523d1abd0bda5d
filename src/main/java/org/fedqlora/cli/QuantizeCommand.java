package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.quant.QuantizedModelFolder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fedqlora quantize}: quantize a model's linear weights, fit the QA adapter, report errors, save. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize every linear weight of the transformer blocks (embeddings, norms and biases stay",
                "full precision), fit the quantization-aware (QA) adapter L·R ≈ W − Q(W), and report the error."},
        footer = {"", "Examples:",
                "  fedqlora quantize --model minilm --format nf4",
                "  fedqlora quantize --model minilm --format nf2 --qa-rank 16 --qa-method loftq --out ./minilm-nf2",
                "  fedqlora quantize --model ./my-bert --format int4 --group-size 128 --json",
                "",
                "Formats: nf2 nf3 nf4 (normal-float, absmax per block), int2 int3 int4 int8 (uniform, min/max per group),",
                "fp32 and bf16 (unquantized). relative_error = ||W - W_hat||_F / ||W||_F; with QA, W_hat = Q(W) + L·R.",
                "--out writes a folder a client loads with --model DIR without ever holding the fp32 linear weights."})
public final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|PATH",
            description = "Embedded 'minilm' or a local HuggingFace folder (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--format", required = true, description = "nf2|nf3|nf4|int2|int3|int4|int8|fp32|bf16")
    String format;

    @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64", description = "Weights per block/group along a row (default: ${DEFAULT-VALUE}).")
    int groupSize;

    @Option(names = "--double-quant", description = "Quantize NF block absmax values to 8 bits (QLoRA).")
    boolean doubleQuant;

    @Range(min = 1, max = 4096, zero = "no QA adapter") @Option(names = "--qa-rank", defaultValue = "16", description = "QA adapter rank m, 0 for none (default: ${DEFAULT-VALUE}).")
    int qaRank;

    @Option(names = "--qa-method", defaultValue = "svd", description = "svd or loftq (default: ${DEFAULT-VALUE}).")
    String qaMethod;

    @Range(min = 1, max = 1000) @Option(names = "--qa-iters", defaultValue = "4", description = "LoftQ alternations (default: ${DEFAULT-VALUE}).")
    int qaIters;

    @Option(names = "--keep-fp32", split = ",", paramLabel = "MODULE",
            description = "Module names or suffixes to leave unquantized, e.g. output.dense.")
    List<String> keepFp32 = new ArrayList<>();

    @Option(names = "--out", paramLabel = "DIR", description = "Write the quantized model folder here.")
    Path out;

    @Option(names = "--overwrite", description = "Write into --out even if it is not empty.")
    boolean overwrite;

    @Option(names = "--json", description = "Print the report as JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        QuantSpec spec = new QuantSpec(QuantFormat.parse(format), groupSize, doubleQuant);
        QaSpec qa = new QaSpec(qaRank, QaSpec.Method.parse(qaMethod), qaIters);
        if (out != null) {
            Outputs.checkDir(out, overwrite);
        }
        ModelFolder folder = Models.open(model);
        if (QuantizedModelFolder.isQuantized(folder.dir())) {
            throw new UserException(folder.dir() + " is already quantized; quantize the full-precision model instead");
        }
        long t0 = System.nanoTime();
        QuantizedBase base = new QuantizedBase(spec, qa);
        long fp32Bytes;
        try (TextEncoder enc = TextEncoder.load(folder, base, 0)) {
            fp32Bytes = enc.encoder().linears().stream().mapToLong(l -> 4L * l.in() * l.out()).sum();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        ObjectNode summary = QuantizedModelFolder.summary(base, fp32Bytes);
        summary.put("model", folder.name());
        // the source model's hash: adapters trained on it match this quantized copy (see BaseModelHash)
        summary.put(org.fedqlora.model.BaseModelHash.KEY, folder.contentHash());
        summary.put("seconds", secs);
        if (out != null) {
            Outputs.createDirs(out);
            QuantizedModelFolder.write(out, folder, base, summary);
        }
        if (json) {
            System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(summary));
        } else {
            printTable(summary);
            if (out != null) {
                System.out.println("wrote " + out);
            }
        }
        return 0;
    }

    static void printTable(JsonNode s) {
        System.out.printf(Locale.ROOT, "%-48s %-11s %7s %10s %10s%n", "layer", "shape", "bits/w", "rel.err", "with QA");
        for (JsonNode l : s.get("layers")) {
            System.out.printf(Locale.ROOT, "%-48s %-11s %7.3f %10.4f %10.4f%n", l.get("name").asText(),
                    l.get("shape").get(0).asInt() + "x" + l.get("shape").get(1).asInt(),
                    l.get("bits_per_weight").asDouble(), l.get("relative_error").asDouble(),
                    l.get("relative_error_with_qa").asDouble());
        }
        System.out.printf(Locale.ROOT, "%nformat %s, group %d%s: %.3f bits/weight, %,d bytes quantized vs %,d fp32 (%.1fx smaller)%n",
                s.get("format").asText(), s.get("group_size").asInt(), s.get("double_quant").asBoolean() ? " + double quant" : "",
                s.get("bits_per_weight").asDouble(), s.get("quantized_bytes").asLong(), s.get("fp32_bytes").asLong(),
                s.get("fp32_bytes").asDouble() / Math.max(1, s.get("quantized_bytes").asLong()));
        System.out.printf(Locale.ROOT, "total relative error %.4f, with QA adapter %.4f", s.get("total_relative_error").asDouble(),
                s.get("total_relative_error_with_qa").asDouble());
        if (s.has("qa")) {
            System.out.printf(Locale.ROOT, " (rank %d %s, %,d bytes)", s.get("qa").get("rank").asInt(),
                    s.get("qa").get("method").asText(), s.get("qa").get("bytes").asLong());
        }
        System.out.printf(Locale.ROOT, "%ntook %.1f s%n", s.get("seconds").asDouble());
    }
}
