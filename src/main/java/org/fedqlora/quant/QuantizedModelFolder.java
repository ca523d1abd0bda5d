package org.fedqlora.quant;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.linalg.Svd;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.tensor.TensorSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A quantized model folder, loadable by a client that never holds the full-precision linear weights:
 * <pre>
 * config.json, tokenizer.json    copied from the source model
 * model.safetensors              embeddings, norms, biases as in the source; every quantized linear weight W as
 *                                W.qweight (U8 packed codes) + its statistics, described in the header metadata
 *                                (W.quant.version/format/shape/block_size/double_quant; see QuantizedTensor)
 * qa_adapter.safetensors         the client's private QA adapter: &lt;module&gt;.qa_L.weight (out, m),
 *                                &lt;module&gt;.qa_R.weight (m, in); metadata qa.rank, qa.method, qa.iters
 * quantization.json              what was done: format, group size, bits/weight, per-layer errors
 * </pre>
 * {@code --model DIR} loads it like any HuggingFace folder; the quantized weights are recognised by their metadata.
 */
public final class QuantizedModelFolder {
    public static final String SUMMARY = "quantization.json";
    public static final String QA_FILE = "qa_adapter.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    private QuantizedModelFolder() {
    }

    /** Whether {@code dir} was written by {@link #write}. */
    public static boolean isQuantized(Path dir) {
        return Files.isRegularFile(dir.resolve(SUMMARY));
    }

    /** Writes the folder; {@code base} must have built the model from {@code src}'s full-precision weights. */
    public static void write(Path out, ModelFolder src, QuantizedBase base, ObjectNode summary) throws IOException {
        Files.createDirectories(out);
        TensorSource w = src.weights();
        Set<String> quantized = new LinkedHashSet<>();
        SafetensorsWriter model = new SafetensorsWriter();
        String prefix = weightPrefix(src, base);
        base.layers().forEach((module, r) -> {
            String name = prefix + module + ".weight";
            quantized.add(name);
            r.base().toTensors(name).addTo(model);
        });
        for (String name : w.names()) {
            if (!quantized.contains(name)) {
                model.put(name, w.get(name));
            }
        }
        model.metadata("fedqlora.quantized", "1");
        model.write(out.resolve("model.safetensors"));
        Files.copy(src.dir().resolve("config.json"), out.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(src.tokenizer(), out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        if (base.qa().enabled()) {
            SafetensorsWriter qa = new SafetensorsWriter();
            base.layers().forEach((module, r) -> {
                if (r.qa() != null) {
                    qa.putFloats(module + ".qa_L.weight", r.qa().l(), r.qa().rows(), r.qa().rank());
                    qa.putFloats(module + ".qa_R.weight", r.qa().r(), r.qa().rank(), r.qa().cols());
                }
            });
            qa.metadata("qa.rank", String.valueOf(base.qa().rank()))
                    .metadata("qa.method", base.qa().method().id())
                    .metadata("qa.iters", String.valueOf(base.qa().iters()))
                    .write(out.resolve(QA_FILE));
        }
        Files.write(out.resolve(SUMMARY), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(summary));
    }

    /** The prefix ("", "bert.") under which the source stores its weights, found from the first layer. */
    private static String weightPrefix(ModelFolder src, QuantizedBase base) {
        String first = base.layers().keySet().iterator().next() + ".weight";
        for (String n : src.weights().names()) {
            if (n.endsWith(first)) {
                return n.substring(0, n.length() - first.length());
            }
        }
        throw new IllegalStateException("no tensor for " + first);
    }

    /** The QA adapter saved with a quantized folder: module → L·R factors (empty if none was saved). */
    public static Map<String, Svd.LowRank> readQa(Path dir) {
        Path f = dir.resolve(QA_FILE);
        Map<String, Svd.LowRank> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(f)) {
            return out;
        }
        SafetensorsFile qa = SafetensorsFile.open(f);
        for (String name : qa.names()) {
            if (name.endsWith(".qa_L.weight")) {
                String module = name.substring(0, name.length() - ".qa_L.weight".length());
                String rName = module + ".qa_R.weight";
                if (!qa.has(rName)) {
                    throw new UserException(f + ": has " + name + " but no " + rName + ": the file is corrupt");
                }
                HostTensor l = qa.get(name);
                HostTensor r = qa.get(rName);
                if (l.shape().length != 2 || r.shape().length != 2 || l.shape()[1] != r.shape()[0]) {
                    throw new UserException(f + ": QA factors of " + module + " have mismatched shapes");
                }
                out.put(module, new Svd.LowRank((int) l.shape()[0], (int) r.shape()[1], (int) l.shape()[1],
                        l.toFloats(), r.toFloats()));
            }
        }
        return out;
    }

    /** A JSON summary of a quantization, as printed by {@code quantize --json} and saved as quantization.json. */
    public static ObjectNode summary(QuantizedBase base, long fp32Bytes) {
        ObjectNode root = JSON.createObjectNode();
        QuantSpec spec = base.spec();
        root.put("format", spec.format().id());
        root.put("group_size", spec.groupSize());
        root.put("double_quant", spec.doubleQuant());
        long qBytes = 0;
        long numel = 0;
        double errSq = 0;
        double errQaSq = 0;
        double normSq = 0;
        ArrayNode layers = JSON.createArrayNode();
        for (Map.Entry<String, QaInit.Result> e : base.layers().entrySet()) {
            QaInit.Result r = e.getValue();
            QuantizedTensor q = r.base();
            ObjectNode l = layers.addObject();
            l.put("name", e.getKey() + ".weight");
            l.putArray("shape").add(q.rows()).add(q.cols());
            l.put("relative_error", r.relativeError());
            l.put("relative_error_with_qa", r.relativeErrorWithQa());
            l.put("bits_per_weight", q.bitsPerWeight());
            l.put("quantized_bytes", q.storageBytes());
            qBytes += q.storageBytes();
            numel += q.numel();
            double n2 = r.normSquared();
            normSq += n2;
            errSq += r.relativeError() * r.relativeError() * n2;
            errQaSq += r.relativeErrorWithQa() * r.relativeErrorWithQa() * n2;
        }
        root.put("bits_per_weight", numel == 0 ? 0 : 8.0 * qBytes / numel);
        root.put("quantized_bytes", qBytes);
        root.put("fp32_bytes", fp32Bytes);
        if (base.qa().enabled()) {
            ObjectNode qa = root.putObject("qa");
            qa.put("rank", base.qa().rank());
            qa.put("method", base.qa().method().id());
            qa.put("iters", base.qa().iters());
            long qaBytes = 0;
            for (QaInit.Result r : base.layers().values()) {
                if (r.qa() != null) {
                    qaBytes += 4L * r.qa().rank() * (r.qa().rows() + r.qa().cols());
                }
            }
            qa.put("bytes", qaBytes);
        }
        root.set("layers", layers);
        root.put("total_relative_error", Math.sqrt(errSq / Math.max(normSq, 1e-30)));
        root.put("total_relative_error_with_qa", Math.sqrt(errQaSq / Math.max(normSq, 1e-30)));
        return root;
    }
}
