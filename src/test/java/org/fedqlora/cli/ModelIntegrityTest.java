package org.fedqlora.cli;

import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A broken model folder is refused when it is loaded, by every command, naming the file and the tensor or key:
 * safetensors conformance, non-finite weights, config ranges. The folder itself is never changed.
 */
class ModelIntegrityTest {
    @TempDir
    Path dir;

    static Path copyModel(Path dir, String fixture) throws IOException {
        Path m = Files.createDirectories(dir.resolve(fixture));
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(Fixtures.model(fixture).resolve(f), m.resolve(f));
        }
        return m;
    }

    /** Rewrites model.safetensors with one float of one tensor replaced. */
    static void setWeight(Path model, String tensor, int index, float value) throws IOException {
        Path f = model.resolve("model.safetensors");
        SafetensorsFile src = SafetensorsFile.open(f);
        assertThat(src.names()).contains(tensor);
        SafetensorsWriter w = new SafetensorsWriter();
        for (String n : src.names()) {
            HostTensor t = src.get(n);
            byte[] b = t.toBytes();
            if (n.equals(tensor)) {
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(index * 4, value);
            }
            w.put(n, HostTensor.ofBytes(t.dtype(), b, t.shape()));
        }
        w.write(f);
    }

    private Cli.Result encode(Path model) {
        return Cli.run("encode", "--model", model.toString(), "--text", "hi", "--out", dir.resolve("o.json").toString());
    }

    @Test
    void aNanWeightIsRefusedAtLoadByEncodeNamingTensorAndIndex() throws IOException {
        Path m = copyModel(dir, "bert-tiny");
        setWeight(m, "encoder.layer.1.attention.self.query.weight", 33, Float.NaN);
        Map<String, String> before = Cli.snapshot(m);

        Cli.Result r = encode(m);

        Cli.assertUserError(r, "tensor 'encoder.layer.1.attention.self.query.weight'", "holds NaN at flat index 33",
                "(row 1, column 1)", m.toString());
        assertThat(Cli.snapshot(m)).isEqualTo(before);
        assertThat(dir.resolve("o.json")).doesNotExist();
    }

    @Test
    void anInfiniteWeightIsRefusedByQuantizeTrainAndEval() throws IOException {
        Path m = copyModel(dir, "distilbert-tiny");
        setWeight(m, "distilbert.embeddings.word_embeddings.weight", 5, Float.NEGATIVE_INFINITY);
        Path data = Files.writeString(dir.resolve("d.jsonl"), "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}\n");

        Cli.assertUserError(Cli.run("quantize", "--model", m.toString(), "--format", "nf4"),
                "'distilbert.embeddings.word_embeddings.weight'", "-Inf at flat index 5");
        Cli.assertUserError(Cli.run("train", "--model", m.toString(), "--data", data.toString(), "--eval", data.toString(),
                "--out", dir.resolve("run").toString()), "-Inf at flat index 5");
        assertThat(dir.resolve("run")).doesNotExist();
    }

    @Test
    void overlappingTensorOffsetsAreRefusedNamingTheTensor() throws IOException {
        Path m = copyModel(dir, "bert-tiny");
        Path f = m.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        // move the second tensor's begin back by 4 bytes while keeping the header length the same
        java.util.regex.Matcher mt = java.util.regex.Pattern.compile("\"data_offsets\":\\s*\\[(\\d+),\\s*(\\d+)\\]").matcher(header);
        long[] bestBegin = {Long.MAX_VALUE};
        String[] target = {null};
        while (mt.find()) {
            long b = Long.parseLong(mt.group(1));
            if (b > 0 && b < bestBegin[0]) {
                bestBegin[0] = b;
                target[0] = mt.group();
            }
        }
        String replaced = target[0].replace("[" + bestBegin[0], "[" + (bestBegin[0] - 4)).replace("[" + bestBegin[0] + ",", "");
        String padded = header.replace(target[0], replaced + " ".repeat(target[0].length() - replaced.length()));
        assertThat(padded.length()).isEqualTo(header.length());
        System.arraycopy(padded.getBytes(StandardCharsets.UTF_8), 0, all, 8, (int) n);
        Files.write(f, all);
        Map<String, String> before = Cli.snapshot(m);

        Cli.Result r = encode(m);

        Cli.assertUserError(r, "model.safetensors: tensor '", "data_offsets", "overlaps by 4 bytes");
        assertThat(Cli.snapshot(m)).isEqualTo(before);
    }

    @Test
    void everyBertConfigFieldIsRangeChecked() throws IOException {
        String[][] cases = {
                {"\"num_hidden_layers\": 2", "\"num_hidden_layers\": 0", "num_hidden_layers = 0 is out of range: must be an integer in [1, 4096]"},
                {"\"num_hidden_layers\": 2", "\"num_hidden_layers\": -3", "num_hidden_layers = -3 is out of range"},
                {"\"num_attention_heads\": 4", "\"num_attention_heads\": 0", "num_attention_heads = 0 is out of range: must be an integer in [1, 4096]"},
                {"\"num_attention_heads\": 4", "\"num_attention_heads\": 3", "hidden_size = 32 is not divisible by num_attention_heads = 3"},
                {"\"hidden_size\": 32", "\"hidden_size\": -32", "hidden_size = -32 is out of range: must be an integer in [1, 65536]"},
                {"\"intermediate_size\": 64", "\"intermediate_size\": 0", "intermediate_size = 0 is out of range"},
                {"\"vocab_size\": 4096", "\"vocab_size\": 0", "vocab_size = 0 is out of range"},
                {"\"vocab_size\": 4096", "\"vocab_size\": 40.5", "vocab_size = 40.5 must be an integer"},
                {"\"vocab_size\": 4096", "\"vocab_size\": \"4096\"", "vocab_size = \"4096\" must be an integer"},
                {"\"max_position_embeddings\": 128", "\"max_position_embeddings\": 0", "max_position_embeddings = 0 is out of range"},
                {"\"type_vocab_size\": 2", "\"type_vocab_size\": 0", "type_vocab_size = 0 is out of range: must be an integer in [1, 1024]"},
                {"\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": -1e-12", "layer_norm_eps = -1.0E-12 is out of range: must be a number in (0, 1.0]"},
                {"\"pad_token_id\": 0", "\"pad_token_id\": 4096", "pad_token_id = 4096 is out of range: must be in [0, 4095] (below vocab_size = 4096)"},
                {"\"num_hidden_layers\": 2,", "", "has no 'num_hidden_layers' (an integer in [1, 4096])"},
        };
        Path m = copyModel(dir, "bert-tiny");
        String good = Files.readString(m.resolve("config.json"));
        for (String[] c : cases) {
            assertThat(good).contains(c[0]);
            Files.writeString(m.resolve("config.json"), good.replace(c[0], c[1]));
            Cli.assertUserError(encode(m), m.resolve("config.json").toString(), c[2]);
        }
        assertThat(dir.resolve("o.json")).doesNotExist();
    }

    @Test
    void distilBertConfigFieldsAreRangeChecked() throws IOException {
        String[][] cases = {
                {"\"n_layers\": 2", "\"n_layers\": 0", "n_layers = 0 is out of range"},
                {"\"n_heads\": 4", "\"n_heads\": 5", "dim = 32 is not divisible by n_heads = 5"},
                {"\"dim\": 32", "\"dim\": 0", "dim = 0 is out of range"},
                {"\"hidden_dim\": 64", "\"hidden_dim\": -1", "hidden_dim = -1 is out of range"},
        };
        Path m = copyModel(dir, "distilbert-tiny");
        String good = Files.readString(m.resolve("config.json"));
        for (String[] c : cases) {
            Files.writeString(m.resolve("config.json"), good.replace(c[0], c[1]));
            Cli.assertUserError(encode(m), c[2]);
        }
    }

    @Test
    void aConfigThatIsNotJsonIsReportedInOneLineWithItsPosition() throws IOException {
        Path m = copyModel(dir, "bert-tiny");
        Files.writeString(m.resolve("config.json"), "{\n  \"model_type\": \"bert\",\n  \"hidden_size\": ,\n}");

        String line = Cli.assertUserError(encode(m), "config.json (the model's config) is not valid JSON: line 3, column");
        assertThat(line).doesNotContain("Source");
    }
}
