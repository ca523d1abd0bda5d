package org.fedqlora.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.Jsons;
import org.fedqlora.UserException;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter in HuggingFace PEFT's on-disk format, so {@code PeftModel.from_pretrained(base, dir)} loads it:
 * <pre>
 * adapter_model.safetensors   base_model.model.&lt;module&gt;.lora_A.weight (r, in), ….lora_B.weight (out, r)
 * adapter_config.json         {"peft_type": "LORA", "r", "lora_alpha", "lora_dropout", "target_modules",
 *                              "base_model_name_or_path", "bias": "none", "task_type": null, ...}
 * </pre>
 * Module paths are relative to the base model (BertModel / DistilBertModel). QA adapters are private to a client
 * and are never written here. To merge into the base weights: W' = W + (lora_alpha / r)·B·A for every target.
 */
public final class PeftFormat {
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String CONFIG = "adapter_config.json";
    private static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private PeftFormat() {
    }

    /** What a PEFT folder holds: the LoRA config and the factors keyed by our names ({@code <module>.lora_A.weight}). */
    public record Adapter(LoraConfig config, String baseModel, String baseModelHash, Map<String, HostTensor> tensors) {
    }

    /** Key of the base model's content hash in adapter_config.json (an extra key; PEFT ignores it). */
    public static final String BASE_HASH_KEY = "base_model_sha256";

    public static void write(Path dir, AdapterSet adapters, String baseModel) throws IOException {
        write(dir, adapters, baseModel, null, null);
    }

    /**
     * Writes the folder; {@code baseModelHash} (may be null) ties it to the exact base weights; {@code taskType} is
     * PEFT's {@code task_type} ({@code "CAUSAL_LM"} for a decoder's language-model adapter), or null.
     */
    public static void write(Path dir, AdapterSet adapters, String baseModel, String baseModelHash, String taskType)
            throws IOException {
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        adapters.loraState().forEach((name, t) -> w.put(PREFIX + name, t));
        w.write(dir.resolve(WEIGHTS));
        LoraConfig c = adapters.loraConfig();
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("peft_type", "LORA");
        if (taskType == null) {
            cfg.putNull("task_type");
        } else {
            cfg.put("task_type", taskType);
        }
        cfg.put("base_model_name_or_path", baseModel);
        if (baseModelHash != null) {
            cfg.put(BASE_HASH_KEY, baseModelHash);
        }
        cfg.put("r", c.rank());
        cfg.put("lora_alpha", c.alpha());
        cfg.put("lora_dropout", c.dropout());
        var targets = cfg.putArray("target_modules");
        adapters.peftTargets().forEach(targets::add);
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", false);
        cfg.put("inference_mode", true);
        cfg.put("init_lora_weights", true);
        cfg.putNull("modules_to_save");
        cfg.put("use_rslora", false);
        cfg.put("use_dora", false);
        Files.write(dir.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(cfg));
    }

    public static Adapter read(Path dir) {
        Path cfgPath = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cfgPath) || !Files.isRegularFile(dir.resolve(WEIGHTS))) {
            throw new UserException(dir + " is not a PEFT adapter folder (needs " + CONFIG + " and " + WEIGHTS + ")");
        }
        String recovery = "restore the adapter folder from the run that wrote it, or train it again";
        JsonNode cfg = Jsons.readObject(cfgPath, "the LoRA adapter's config", recovery);
        if (!"LORA".equals(cfg.path("peft_type").asText())) {
            throw new UserException(cfgPath + ": peft_type is '" + cfg.path("peft_type").asText() + "', only LORA is supported");
        }
        int r = (int) Jsons.requireLong(cfg, "r", 1, 4096, cfgPath, recovery);
        double alpha = cfg.path("lora_alpha").asDouble(Double.NaN);
        if (!cfg.path("lora_alpha").isNumber() || !(alpha > 0) || Double.isInfinite(alpha)) {
            throw new UserException(cfgPath + ": 'lora_alpha' should be a number > 0, got " + cfg.path("lora_alpha")
                    + "; " + recovery);
        }
        double dropout = cfg.path("lora_dropout").asDouble(0);
        if (!(dropout >= 0 && dropout < 1)) {
            throw new UserException(cfgPath + ": 'lora_dropout' should be in [0, 1), got " + cfg.path("lora_dropout")
                    + "; " + recovery);
        }
        JsonNode tm = Jsons.requireArray(cfg, "target_modules", cfgPath, recovery);
        List<String> targets = new ArrayList<>();
        for (JsonNode t : tm) {
            if (!t.isTextual() || t.asText().isBlank()) {
                throw new UserException(cfgPath + ": 'target_modules' should list module names, got " + tm + "; " + recovery);
            }
            targets.add(t.asText());
        }
        if (targets.isEmpty()) {
            throw new UserException(cfgPath + ": 'target_modules' is empty; " + recovery);
        }
        LoraConfig c = new LoraConfig(r, (float) alpha, (float) dropout, targets);
        SafetensorsFile f = SafetensorsFile.open(dir.resolve(WEIGHTS));
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (String n : f.names()) {
            tensors.put(n.startsWith(PREFIX) ? n.substring(PREFIX.length()) : n, f.get(n));
        }
        return new Adapter(c, cfg.path("base_model_name_or_path").asText(""), cfg.path(BASE_HASH_KEY).asText(""), tensors);
    }
}
