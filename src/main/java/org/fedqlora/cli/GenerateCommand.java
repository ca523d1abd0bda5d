package org.fedqlora.cli;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.PeftFormat;
import org.fedqlora.data.ChatMessage;
import org.fedqlora.generate.Generator;
import org.fedqlora.generate.Sampling;
import org.fedqlora.model.ModelException;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.quant.QuantizedModelFolder;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tokenize.ChatEncoder;
import org.fedqlora.tokenize.ChatTemplate;
import org.fedqlora.tokenize.TokenizerConfig;
import org.fedqlora.train.QuantizedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code fedqlora generate}: text from a decoder, optionally quantized, with a trained LoRA. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate text with a decoder (Llama, Mistral, Qwen2 folder), KV-cache decoding, streamed to the",
                "terminal. Greedy by default; --temperature > 0 samples (with --top-k, --top-p, --seed)."},
        footer = {"", "Examples:",
                "  fedqlora generate --model SmolLM2-135M-Instruct --chat --prompt \"What is federated learning?\"",
                "  fedqlora generate --model Qwen2.5-0.5B --format nf4 --adapter run1 --prompt \"Once upon a time\" \\",
                "      --max-new-tokens 64 --temperature 0.7 --top-p 0.9 --top-k 40 --seed 1",
                "",
                "Stops at an EOS token (config.json, generation_config.json, tokenizer_config.json), with --chat also at the",
                "template's end-of-turn token (<|eot_id|>, <|im_end|>, ...), at a --stop string, or after --max-new-tokens.",
                "--adapter: a PEFT folder (adapter_config.json) or the --out folder of 'fedqlora train' (its adapter/, and",
                "its QA adapter when the format is the one it was trained with).",
                "--json prints {\"prompt_ids\", \"generated_ids\", \"text\", \"tokens_per_s\", \"prefill_s\", \"seconds\", \"stop\"}."})
public final class GenerateCommand implements Callable<Integer> {
    /** End-of-turn markers of common chat templates, used as stop tokens when the template writes them. */
    static final List<String> END_OF_TURN = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|eom_id|>");

    @Option(names = "--model", required = true, paramLabel = "PATH", description = "A local decoder folder.") String model;
    @Option(names = "--format", defaultValue = "fp32", description = "Base precision: fp32, nf2..nf4, int2..int8 (default fp32).")
    String format;
    @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64") int groupSize;
    @Option(names = "--double-quant") boolean doubleQuant;
    @Option(names = "--residency", defaultValue = "dequantized",
            description = "dequantized (fp32 copy of Q(W), fastest decoding) or packed (the format's true size, unpacked "
                    + "inside each product's native call: same outputs, slower at batch 1).")
    String residency;
    @Range(min = 1, max = 4096, zero = "no QA adapter") @Option(names = "--qa-rank", description = "QA adapter rank (default: the adapter's, else 0).") Integer qaRank;
    @Option(names = "--adapter", paramLabel = "DIR") Path adapter;
    @Option(names = "--prompt", paramLabel = "TEXT") String prompt;
    @Range(min = 0, max = Integer.MAX_VALUE) @Option(names = "--prompt-ids", split = ",", paramLabel = "ID", description = "Token ids instead of --prompt text.")
    List<Long> promptIds;
    @Option(names = "--chat", description = "Render the prompt as a user turn with the model's chat template.") boolean chat;
    @Option(names = "--system", paramLabel = "TEXT", description = "With --chat: a system turn first.") String system;
    @Range(min = 1, max = 1 << 20) @Option(names = "--max-new-tokens", defaultValue = "128") int maxNewTokens;
    @Range(min = 0, max = 100, minExclusive = true, zero = "greedy") @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default).") double temperature;
    @Range(min = 0, max = 1, minExclusive = true) @Option(names = "--top-p", defaultValue = "1.0") double topP;
    @Range(min = 1, max = 1 << 24, zero = "no cut") @Option(names = "--top-k", defaultValue = "0", description = "0 = no cut.") int topK;
    @Range(min = Long.MIN_VALUE, max = Long.MAX_VALUE) @Option(names = "--seed", defaultValue = "1") long seed;
    @Option(names = "--stop", paramLabel = "STRING", description = "Stop before this string (repeatable).") List<String> stop;
    @Option(names = "--json", description = "Print one JSON object instead of streaming text.") boolean json;

    @Override
    public Integer call() throws IOException {
        if ((prompt == null) == (promptIds == null)) {
            throw new UserException("pass exactly one of --prompt TEXT and --prompt-ids ID,ID,...");
        }
        if (chat && prompt == null) {
            throw new UserException("--chat needs --prompt TEXT (the user turn)");
        }
        Sampling sampling = new Sampling(temperature, topP, topK, seed);
        ModelFolder folder = Models.open(model);
        if (!folder.isDecoder()) {
            throw new ModelException(folder.name() + " is a " + folder.modelType() + " encoder; generate needs a decoder "
                    + "(model_type " + String.join(", ", LlamaConfig.SUPPORTED_TYPES) + ")");
        }
        LlamaConfig cfg = LlamaConfig.fromJson(folder.config());
        AdapterDir ad = adapter == null ? null : AdapterDir.open(adapter, folder);
        QuantSpec spec = new QuantSpec(QuantFormat.parse(format), groupSize, doubleQuant);
        // a folder written by 'quantize --out' carries its QA adapter: used unless --qa-rank 0
        boolean saved = QuantizedModelFolder.isQuantized(folder.dir());
        boolean savedQa = saved && Files.isRegularFile(folder.dir().resolve(QuantizedModelFolder.QA_FILE));
        int rank = qaRank != null ? qaRank : ad != null ? ad.qaRank : savedQa ? 1 : 0;
        QaSpec qa = (spec.format().isQuantized() || savedQa) && rank > 0 ? new QaSpec(rank, QaSpec.Method.SVD, 4)
                : QaSpec.none();
        TokenizerConfig tc = TokenizerConfig.read(folder.dir());
        long t0 = System.nanoTime();
        try (QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.parse(residency), 0);
             ChatEncoder tok = ChatEncoder.open(folder.tokenizer(), ChatTemplate.of(tc), 2);
             HuggingFaceTokenizer plain = HuggingFaceTokenizer.newInstance(folder.tokenizer(),
                     Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"));
             AdapterSet adapters = ad != null ? qm.newAdapters(ad.peft.config(), 0, qa.enabled()) : qm.newQaAdapters()) {
            LlamaModel decoder = qm.encoder().decoder();
            if (ad != null) {
                ad.load(adapters, qm.format(), qa.enabled());
            }
            adapters.attach();
            System.err.printf(Locale.ROOT, "model: %s (%s, %d layers), base %s%s%s, loaded in %.1f s%n", folder.name(),
                    cfg.modelType(), cfg.layers(), qm.format(), qm.qaFactors().isEmpty() ? ""
                            : " + QA rank " + qm.qaFactors().values().iterator().next().rank(),
                    ad != null ? " + LoRA from " + adapter : "", (System.nanoTime() - t0) / 1e9);
            long[] ids;
            if (promptIds != null) {
                ids = promptIds.stream().mapToLong(Long::longValue).toArray();
                for (long id : ids) {
                    if (id < 0 || id >= cfg.vocab()) {
                        throw new UserException("--prompt-ids: " + id + " is outside the vocabulary [0, " + cfg.vocab() + ")");
                    }
                }
            } else if (chat) {
                List<ChatMessage> turns = new ArrayList<>();
                if (system != null) {
                    turns.add(new ChatMessage(ChatMessage.SYSTEM, system));
                }
                turns.add(new ChatMessage(ChatMessage.USER, prompt));
                ids = tok.promptIds(turns);
            } else {
                ids = plain.encode(prompt, true, false).getIds();
            }
            Generator.Options o = new Generator.Options(maxNewTokens, stopIds(cfg, folder, tc, tok),
                    stop == null ? List.of() : stop, sampling);
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            Generator.Result r = Generator.generate(decoder, qm.encoder().manager(), ids, o, tok::decode,
                    json ? null : piece -> {
                        out.print(piece);
                        out.flush();
                    });
            if (json) {
                out.println(toJson(r));
            } else {
                out.println();
                System.err.printf(Locale.ROOT, "%d tokens in %.2f s (%.1f tokens/s, prompt of %d tokens in %.2f s), stop: %s%n",
                        r.generatedIds().length, r.seconds(), r.tokensPerSecond(), ids.length, r.prefillSeconds(),
                        r.stop().name().toLowerCase(Locale.ROOT));
            }
        }
        return 0;
    }

    /** EOS ids from config.json, generation_config.json and the tokenizer's eos_token; with --chat, end-of-turn markers. */
    private Set<Long> stopIds(LlamaConfig cfg, ModelFolder folder, TokenizerConfig tc, ChatEncoder tok) throws IOException {
        Set<Long> ids = new LinkedHashSet<>();
        cfg.eosTokenIds().forEach(i -> ids.add((long) i));
        Path gen = folder.dir().resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            JsonNode eos = new ObjectMapper().readTree(gen.toFile()).get("eos_token_id");
            if (eos != null && eos.isArray()) {
                eos.forEach(e -> ids.add(e.asLong()));
            } else if (eos != null && eos.canConvertToLong()) {
                ids.add(eos.asLong());
            }
        }
        String eosToken = tc.eosToken();
        if (eosToken != null && !eosToken.isEmpty() && tok.tokenId(eosToken) >= 0) {
            ids.add(tok.tokenId(eosToken));
        }
        if (chat && tc.chatTemplate() != null) {
            for (String marker : END_OF_TURN) {
                if (tc.chatTemplate().contains(marker) && tok.tokenId(marker) >= 0) {
                    ids.add(tok.tokenId(marker));
                }
            }
        }
        return ids;
    }

    private static String toJson(Generator.Result r) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode o = m.createObjectNode();
        var p = o.putArray("prompt_ids");
        for (long id : r.promptIds()) {
            p.add(id);
        }
        var g = o.putArray("generated_ids");
        for (long id : r.generatedIds()) {
            g.add(id);
        }
        o.put("text", r.text());
        o.put("tokens_per_s", Math.round(r.tokensPerSecond() * 100) / 100.0);
        o.put("prefill_s", Math.round(r.prefillSeconds() * 1000) / 1000.0);
        o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
        o.put("stop", r.stop().name().toLowerCase(Locale.ROOT));
        return o.toString();
    }

    /** A PEFT folder, or the --out folder of {@code train} (adapter/, head.json, qa_adapter.safetensors). */
    private record AdapterDir(Path dir, PeftFormat.Adapter peft, String trainedFormat, int qaRank, Path qaFile) {
        static AdapterDir open(Path dir, ModelFolder base) throws IOException {
            Path peftDir = Files.isRegularFile(dir.resolve(PeftFormat.CONFIG)) ? dir : dir.resolve("adapter");
            if (!Files.isRegularFile(peftDir.resolve(PeftFormat.CONFIG))) {
                throw new UserException(dir + " is neither a PEFT adapter folder (" + PeftFormat.CONFIG
                        + ") nor the --out folder of 'fedqlora train' (adapter/" + PeftFormat.CONFIG + ")");
            }
            PeftFormat.Adapter peft = PeftFormat.read(peftDir);
            String trainedOn = peft.baseModel();
            if (!trainedOn.isEmpty() && !sameBase(trainedOn, base)) {
                throw new UserException("the adapter in " + dir + " was trained on '" + trainedOn + "' but --model is '"
                        + base.baseModelName() + "': pass the base model it was trained on");
            }
            String fmt = "fp32";
            int rank = 0;
            Path head = dir.resolve("head.json");
            if (!peftDir.equals(dir) && Files.isRegularFile(head)) {
                JsonNode h = new ObjectMapper().readTree(head.toFile());
                fmt = h.path("format").asText("fp32");
                rank = h.path("qa_rank").asInt(0);
            }
            return new AdapterDir(dir, peft, fmt, rank, dir.resolve("qa_adapter.safetensors"));
        }

        /** The same name, or two paths to the same folder. */
        private static boolean sameBase(String trainedOn, ModelFolder base) {
            if (trainedOn.equals(base.baseModelName()) || trainedOn.equals(base.name())) {
                return true;
            }
            try {
                Path p = Path.of(trainedOn);
                return Files.isDirectory(p) && Files.isSameFile(p, base.dir());
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        void load(AdapterSet adapters, String format, boolean withQa) {
            try {
                adapters.loadLoraState(peft.tensors());
            } catch (UserException e) {
                throw new UserException("the adapter in " + dir + " does not fit this model: " + e.getMessage(), e);
            }
            if (withQa && format.equalsIgnoreCase(trainedFormat) && Files.isRegularFile(qaFile)) {
                SafetensorsFile f = SafetensorsFile.open(qaFile);
                Map<String, HostTensor> state = new LinkedHashMap<>();
                f.names().forEach(n -> state.put(n, f.get(n)));
                adapters.loadQaState(state);
            }
        }
    }
}
