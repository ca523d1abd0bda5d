package org.fedqlora.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.PeftFormat;
import org.fedqlora.engine.Engines;
import org.fedqlora.generate.Generator;
import org.fedqlora.generate.Sampling;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code fedqlora generate} on the tiny fixtures: greedy ids as PyTorch's, adapters, sampling, and its errors. */
class GenerateCommandTest {
    static final String LLAMA = Fixtures.model("llama-tiny").toString();

    @TempDir
    Path dir;

    record Out(int code, String out, String err) {
    }

    static Out run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            CliErrorsTest.Result r = CliErrorsTest.run(args);
            return new Out(r.code(), buf.toString(StandardCharsets.UTF_8), r.err());
        } finally {
            System.setOut(old);
        }
    }

    static String ids(long[] a) {
        return String.join(",", Arrays.stream(a).mapToObj(Long::toString).toList());
    }

    static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }

    @Test
    void greedyJsonGivesPyTorchsGreedyOutput() throws IOException {
        SafetensorsFile ref = Fixtures.expected("qwen2-tiny");
        long[] prompt = ref.get("greedy_prompt").toLongs();
        long[] expected = ref.get("greedy_output").toLongs();

        Out r = run("generate", "--model", Fixtures.model("qwen2-tiny").toString(), "--prompt-ids", ids(prompt),
                "--max-new-tokens", "8", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(longs(j.get("prompt_ids"))).containsExactly(prompt);
        assertThat(longs(j.get("generated_ids"))).containsExactly(Arrays.copyOfRange(expected, prompt.length, expected.length));
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("stop").asText()).isEqualTo("max_new_tokens");
        assertThat(j.has("text")).isTrue();
    }

    @Test
    void textPromptStreamsTheTextTheJsonReports() throws IOException {
        Out streamed = run("generate", "--model", LLAMA, "--prompt", "the weather is", "--max-new-tokens", "6");
        Out json = run("generate", "--model", LLAMA, "--prompt", "the weather is", "--max-new-tokens", "6", "--json");

        assertThat(streamed.code()).as(streamed.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(json.out());
        assertThat(streamed.out().strip()).isEqualTo(j.get("text").asText().strip());
        assertThat(j.get("generated_ids")).hasSize(6);
        assertThat(streamed.err()).contains("tokens/s").doesNotContain("Warning");
    }

    @Test
    void aStopStringCutsTheText() throws IOException {
        Out full = run("generate", "--model", LLAMA, "--prompt", "the weather is", "--max-new-tokens", "8", "--json");
        String text = new ObjectMapper().readTree(full.out()).get("text").asText();
        String[] words = text.strip().split(" ");
        String stop = words[Math.min(2, words.length - 1)];

        Out cut = run("generate", "--model", LLAMA, "--prompt", "the weather is", "--max-new-tokens", "8",
                "--stop", stop, "--json");

        JsonNode j = new ObjectMapper().readTree(cut.out());
        assertThat(j.get("stop").asText()).isEqualTo("stop_string");
        assertThat(j.get("text").asText()).isEqualTo(text.substring(0, text.indexOf(stop)));
    }

    @Test
    void seededSamplingIsReproducibleAndTopKOneIsGreedy() throws IOException {
        String[] base = {"generate", "--model", LLAMA, "--prompt-ids", "5,6,7", "--max-new-tokens", "10", "--json"};
        long[] greedy = longs(new ObjectMapper().readTree(run(base).out()).get("generated_ids"));
        long[] a = sample(base, "1.5", "0", "3");
        long[] b = sample(base, "1.5", "0", "3");
        long[] c = sample(base, "1.5", "0", "4");
        long[] k1 = sample(base, "1.5", "1", "3");

        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
        assertThat(k1).containsExactly(greedy);
    }

    private long[] sample(String[] base, String temperature, String topK, String seed) throws IOException {
        List<String> args = new ArrayList<>(List.of(base));
        args.addAll(List.of("--temperature", temperature, "--top-k", topK, "--seed", seed));
        Out r = run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        return longs(new ObjectMapper().readTree(r.out()).get("generated_ids"));
    }

    /** A PEFT folder written from the fixture's LoRA factors: the CLI must decode as the model with them attached. */
    @Test
    void aPeftAdapterChangesTheOutputExactlyAsAttachingItDoes() throws IOException {
        SafetensorsFile ref = Fixtures.expected("llama-tiny");
        long[] prompt = ref.get("greedy_prompt").toLongs();
        Path peft = dir.resolve("peft");
        long[] expected;
        ModelFolder f = ModelFolder.open(Fixtures.model("llama-tiny"), LLAMA);
        try (NDManager m = Engines.newManager();
             LlamaModel model = LlamaModel.load(LlamaConfig.fromJson(f.config()), f.weights(), BaseWeightFactory.DENSE, m);
             AdapterSet lora = AdapterSet.create(m, model.linears(), new LoraConfig(4, 8f, 0f, List.of("q_proj", "v_proj")), 1)) {
            Map<String, HostTensor> factors = new LinkedHashMap<>();
            lora.loraState().keySet().forEach(k -> factors.put(k, ref.get(k)));
            lora.loadLoraState(factors);
            PeftFormat.write(peft, lora, f.baseModelName());
            lora.attach();
            expected = Generator.generate(model, m, prompt, new Generator.Options(8, Set.of(), List.of(), Sampling.greedy()),
                    ids -> "", null).generatedIds();
        }

        Out r = run("generate", "--model", LLAMA, "--adapter", peft.toString(), "--prompt-ids", ids(prompt),
                "--max-new-tokens", "8", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        long[] got = longs(new ObjectMapper().readTree(r.out()).get("generated_ids"));
        assertThat(got).containsExactly(expected);
        long[] bare = Arrays.copyOfRange(ref.get("greedy_output").toLongs(), prompt.length, prompt.length + 8);
        assertThat(got).isNotEqualTo(bare);
    }

    @Test
    void quantizedPackedBaseGenerates() throws IOException {
        Out r = run("generate", "--model", LLAMA, "--format", "nf4", "--group-size", "32", "--residency", "packed",
                "--qa-rank", "4", "--prompt-ids", "5,6,7", "--max-new-tokens", "4", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).get("generated_ids")).hasSize(4);
        assertThat(r.err()).contains("nf4").contains("QA rank 4");
    }

    @Test
    void aPromptLongerThanTheContextIsOneError() {
        String longPrompt = String.join(" ", java.util.Collections.nCopies(300, "weather"));

        Out r = run("generate", "--model", LLAMA, "--prompt", longPrompt);

        assertThat(r.code()).isEqualTo(2);
        List<String> lines = r.err().strip().lines().toList();
        assertThat(lines).hasSize(2);                      // the model line, then the error
        assertThat(lines.get(1)).startsWith("error:").contains("context holds 256");
    }

    @Test
    void anAdapterTrainedForAnotherBaseIsOneError() throws IOException {
        Path peft = dir.resolve("other");
        ModelFolder bert = ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny");
        try (var enc = org.fedqlora.model.TextEncoder.load(bert);
             AdapterSet lora = AdapterSet.create(enc.manager(), enc.encoder().linears(),
                     new LoraConfig(4, 8f, 0f, List.of("query", "value")), 1)) {
            PeftFormat.write(peft, lora, LLAMA);    // claims the right base: the shapes tell
        }
        Path renamed = dir.resolve("renamed");
        Files.createDirectories(renamed);
        Files.copy(peft.resolve(PeftFormat.WEIGHTS), renamed.resolve(PeftFormat.WEIGHTS));
        Files.writeString(renamed.resolve(PeftFormat.CONFIG),
                Files.readString(peft.resolve(PeftFormat.CONFIG)).replace(LLAMA.replace("/", "\\/"), "bert-base").replace(LLAMA, "bert-base"));

        Out shapes = run("generate", "--model", LLAMA, "--adapter", peft.toString(), "--prompt-ids", "5,6");
        Out named = run("generate", "--model", LLAMA, "--adapter", renamed.toString(), "--prompt-ids", "5,6");

        assertThat(shapes.code()).isEqualTo(2);
        assertThat(shapes.err()).contains("error:").contains("does not fit this model").doesNotContain("\tat ");
        assertThat(named.code()).isEqualTo(2);
        assertThat(named.err()).contains("error:").contains("trained on 'bert-base'").doesNotContain("\tat ");
    }

    @Test
    void anEncoderIsRefusedNamingTheDecodersSupported() {
        Out r = run("generate", "--model", Fixtures.model("bert-tiny").toString(), "--prompt", "hi");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("error:").contains("bert encoder").contains("llama, mistral, qwen2");
    }

    @Test
    void anUnknownRopeTypeIsOneError() throws IOException {
        Path v = dir.resolve("yarn");
        Files.createDirectories(v);
        Path src = Fixtures.model("llama-tiny");
        for (String n : List.of("model.safetensors", "tokenizer.json")) {
            Files.copy(src.resolve(n), v.resolve(n));
        }
        Files.writeString(v.resolve("config.json"), Files.readString(src.resolve("config.json"))
                .replace("\"rope_theta\"", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}, \"rope_theta\""));

        Out r = run("generate", "--model", v.toString(), "--prompt", "hi");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("error:").contains("'yarn'").contains("supported: llama3").doesNotContain("\tat ");
    }

    /**
     * --chat renders the prompt as a user turn with the model's template: the Qwen2.5 template (test resources)
     * on the tiny Qwen2 gives the prompt ids of the string that template defines, generation prompt included.
     */
    @Test
    void chatRendersThePromptWithTheModelsTemplate() throws IOException {
        Path v = dir.resolve("qwen-chat");
        Files.createDirectories(v);
        Path src = Fixtures.model("qwen2-tiny");
        for (String n : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(src.resolve(n), v.resolve(n));
        }
        Files.copy(Fixtures.resource("chat/qwen2.5-instruct/tokenizer_config.json"), v.resolve("tokenizer_config.json"));
        String rendered = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n";
        long[] expected;
        try (var tok = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(v.resolve("tokenizer.json"),
                Map.of("addSpecialTokens", "false"))) {
            expected = tok.encode(rendered, false, false).getIds();
        }

        Out r = run("generate", "--model", v.toString(), "--chat", "--prompt", "hello there", "--max-new-tokens", "3", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(longs(new ObjectMapper().readTree(r.out()).get("prompt_ids"))).containsExactly(expected);
    }
}
