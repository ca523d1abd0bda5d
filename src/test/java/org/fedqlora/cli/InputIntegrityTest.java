package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
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
 * User errors for each class of bad input: base-model hash, corrupt metadata, encodings, Parquet, unwritable
 * outputs, empty configs. Each asserts exit code 2, the one "error:" line, and that the user's files are unchanged.
 */
class InputIntegrityTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path train;
    static Path run;

    @TempDir
    Path dir;

    @BeforeAll
    static void trainOnce() throws IOException {
        model = ModelIntegrityTest.copyModel(shared, "bert-tiny");
        DemoData.Demo d = DemoData.generate(5, new DemoData.Options(40, 16, 0.0));
        train = shared.resolve("train.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        run = shared.resolve("run");
        Cli.Result r = Cli.run("train", "--model", model.toString(), "--data", train.toString(), "--eval", train.toString(),
                "--lora-rank", "2", "--steps", "1", "--batch", "8", "--max-length", "16", "--out", run.toString());
        assertThat(r.code()).as(r.err()).isZero();
    }

    /** A copy of the trained run folder to damage. */
    private Path runCopy() throws IOException {
        Path c = dir.resolve("run");
        try (var s = Files.walk(run)) {
            for (Path p : s.toList()) {
                Path t = c.resolve(run.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return c;
    }

    private Cli.Result eval(Path adapter, Path m, String... more) {
        String[] base = {"eval", "--model", m.toString(), "--adapter", adapter.toString(), "--data", train.toString(),
                "--predictions", dir.resolve("pred.jsonl").toString()};
        String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return Cli.run(all);
    }

    // ---- base-model content hash ----------------------------------------------------------------------------

    @Test
    void trainRecordsTheBaseModelHashInHeadAndAdapterConfig() throws IOException {
        JsonNode head = new ObjectMapper().readTree(run.resolve("head.json").toFile());
        JsonNode cfg = new ObjectMapper().readTree(run.resolve("adapter/adapter_config.json").toFile());
        assertThat(head.get("base_model_sha256").asText()).hasSize(64);
        assertThat(cfg.get("base_model_sha256").asText()).isEqualTo(head.get("base_model_sha256").asText());
        assertThat(eval(run, model).code()).isZero();
    }

    @Test
    void theSamePathWithOtherWeightsIsRefusedUnlessAllowed() throws IOException {
        Path other = ModelIntegrityTest.copyModel(dir, "bert-tiny");
        Path adapter = dir.resolve("run-other");
        Cli.Result trained = Cli.run("train", "--model", other.toString(), "--data", train.toString(), "--eval",
                train.toString(), "--lora-rank", "2", "--steps", "1", "--batch", "8", "--max-length", "16",
                "--out", adapter.toString());
        assertThat(trained.code()).as(trained.err()).isZero();
        // same folder, same shapes, one weight changed: the adapter no longer belongs to it
        ModelIntegrityTest.setWeight(other, "encoder.layer.0.output.dense.weight", 7, 0.5f);
        Map<String, String> before = Cli.snapshot(adapter);

        Cli.Result r = eval(adapter, other);

        Cli.assertUserError(r, "was trained on a base model with content hash", "(same name, different weights)",
                "--allow-base-mismatch");
        assertThat(Cli.snapshot(adapter)).isEqualTo(before);
        assertThat(dir.resolve("pred.jsonl")).doesNotExist();
        Cli.Result allowed = eval(adapter, other, "--allow-base-mismatch");
        assertThat(allowed.code()).as(allowed.err()).isZero();
    }

    // ---- corrupt metadata -----------------------------------------------------------------------------------

    @Test
    void corruptHeadJsonIsNamedWithWhatIsWrongAndHowToRecover() throws IOException {
        Path adapter = runCopy();
        Path head = adapter.resolve("head.json");
        String good = Files.readString(head);
        String[][] cases = {
                {"{ \"labels\": [\"a\", ", "head.json (the classifier head's description) is not valid JSON: line 1, column"},
                {"", "head.json (the classifier head's description) is empty"},
                {"[1, 2]", "should hold a JSON object {...} but holds an array"},
                {good.replaceFirst("\"labels\" : \\[", "\"labels\" : 3, \"x\": ["), "'labels' should be a list but is a number (3)"},
                {good.replaceFirst("\"qa_rank\" : 0", "\"qa_rank\" : -4"), "'qa_rank' = -4 is out of range [0, 4096]"},
                {good.replaceFirst("\"base_model\" : \"[^\"]*\"", "\"base_model\" : 5"), "'base_model' should be a string"},
        };
        for (String[] c : cases) {
            Files.writeString(head, c[0]);
            String line = Cli.assertUserError(eval(adapter, model), head.toString(), c[1]);
            assertThat(line).contains("train again");
            assertThat(Files.readString(head)).isEqualTo(c[0]);
        }
    }

    @Test
    void corruptAdapterConfigIsNamed() throws IOException {
        Path adapter = runCopy();
        Path cfg = adapter.resolve("adapter/adapter_config.json");
        String good = Files.readString(cfg);
        Files.writeString(cfg, good.replaceFirst("\"r\" : 2", "\"r\" : 0"));
        Cli.assertUserError(eval(adapter, model), "adapter_config.json: 'r' = 0 is out of range [1, 4096]");
        Files.writeString(cfg, good.replaceFirst("\"r\" : 2,", "\"r\" : 2,,"));
        Cli.assertUserError(eval(adapter, model), "adapter_config.json (the LoRA adapter's config) is not valid JSON: line");
        Files.writeString(cfg, good.replaceFirst("\"lora_alpha\" : [0-9.]+", "\"lora_alpha\" : -1"));
        Cli.assertUserError(eval(adapter, model), "'lora_alpha' should be a number > 0, got -1");
    }

    @Test
    void aDamagedHeadTensorFileIsNamed() throws IOException {
        Path adapter = runCopy();
        Path f = adapter.resolve("head.safetensors");
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 8));
        Cli.assertUserError(eval(adapter, model), "head.safetensors", "truncated");
    }

    // ---- encodings ------------------------------------------------------------------------------------------

    @Test
    void nonUtf8JsonlCsvAndInputNameFileLineAndByteOffset() throws IOException {
        byte[] jsonl = "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"caf\u00e9\", \"label\": \"b\"}\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        Path j = Files.write(dir.resolve("d.jsonl"), jsonl);
        Cli.assertUserError(Cli.run("train", "--data", j.toString(), "--out", dir.resolve("o").toString()),
                j + " line 2 (byte offset 42): byte 0xE9 is not valid UTF-8; the file must be UTF-8");

        Path c = Files.write(dir.resolve("d.csv"), "text,label\nna\u00efve,a\n".getBytes(StandardCharsets.ISO_8859_1));
        Cli.assertUserError(Cli.run("train", "--data", c.toString(), "--out", dir.resolve("o").toString()),
                c + " line 2 (byte offset 13): byte 0xEF is not valid UTF-8");

        Path in = Files.write(dir.resolve("in.txt"), new byte[] {'h', 'i', '\n', (byte) 0xC3});
        Cli.assertUserError(Cli.run("encode", "--model", model.toString(), "--input", in.toString(), "--out",
                dir.resolve("e.json").toString()), in + " (--input) line 2 (byte offset 3)", "must be UTF-8");
        assertThat(dir.resolve("o")).doesNotExist();
        assertThat(dir.resolve("e.json")).doesNotExist();
    }

    // ---- Parquet --------------------------------------------------------------------------------------------

    @Test
    void aFileThatIsNotParquetOrHasACorruptFooterIsAUserError() throws IOException {
        byte[] good = Files.readAllBytes(Fixtures.resource("data/news-classlabel.parquet"));
        Path notParquet = Files.writeString(dir.resolve("a.parquet"), "text,label\nhello,a\n");
        Cli.assertUserError(train(notParquet), "a.parquet: is not a Parquet file", "rename the file to .jsonl or .csv");

        Path truncated = Files.write(dir.resolve("b.parquet"), java.util.Arrays.copyOf(good, good.length / 2));
        Cli.assertUserError(train(truncated), "b.parquet: starts like a Parquet file but does not end with 'PAR1'", "truncated");

        byte[] longFooter = good.clone();
        ByteBuffer.wrap(longFooter, longFooter.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(1 << 30);
        Path badLength = Files.write(dir.resolve("c.parquet"), longFooter);
        Cli.assertUserError(train(badLength), "c.parquet: the Parquet footer is corrupt");

        byte[] scrambled = good.clone();
        int footer = ByteBuffer.wrap(good, good.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        for (int i = good.length - 8 - footer; i < good.length - 8 - footer + 48; i++) {
            scrambled[i] ^= 0x5A;
        }
        Path damaged = Files.write(dir.resolve("d.parquet"), scrambled);
        Cli.assertUserError(train(damaged), "d.parquet: the Parquet file is damaged and cannot be decoded", "export it again");
        assertThat(dir.resolve("o")).doesNotExist();
    }

    private Cli.Result train(Path data) {
        return Cli.run("train", "--model", model.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString());
    }

    // ---- unwritable outputs ---------------------------------------------------------------------------------

    @Test
    void anOutputUnderAFileOrOnAPseudoFileSystemSaysWhy() throws IOException {
        Path file = Files.writeString(dir.resolve("notes.txt"), "mine");
        Cli.assertUserError(Cli.run("encode", "--model", model.toString(), "--text", "x", "--out",
                file.resolve("e.json").toString()), "cannot create", "notes.txt is a file, not a folder");
        Cli.assertUserError(Cli.run("train", "--model", model.toString(), "--data", train.toString(), "--out",
                file.resolve("sub/run").toString()), "notes.txt is a file, not a folder");
        Cli.assertUserError(Cli.run("simulate", "--preset", "demo", "--out", file.resolve("sim").toString()),
                "notes.txt is a file, not a folder");
        assertThat(Files.readString(file)).isEqualTo("mine");
        if (Files.isDirectory(Path.of("/proc/self"))) {
            Cli.assertUserError(Cli.run("data", "demo", "--out", "/proc/fedqlora-test"), "proc pseudo file system");
        }
    }

    // ---- configs --------------------------------------------------------------------------------------------

    @Test
    void anEmptyConfigFileIsRefused() throws IOException {
        for (String text : new String[] {"", "# only a comment\n", "{}\n"}) {
            Path cfg = Files.writeString(dir.resolve("empty.yaml"), text);
            Cli.assertUserError(Cli.run("simulate", "--config", cfg.toString(), "--out", dir.resolve("sim").toString()),
                    "empty.yaml is empty", "it would run every default");
            assertThat(Files.readString(cfg)).isEqualTo(text);
            assertThat(dir.resolve("sim")).doesNotExist();
        }
    }

    @Test
    void aSimulationWithBadDataCreatesNoOutput() throws IOException {
        Path bad = Files.write(dir.resolve("bad.jsonl"), new byte[] {'{', '"', 't', '"', ':', (byte) 0x80, '}', '\n'});
        Cli.Result r = Cli.run("simulate", "--set", "model=" + model, "--set", "data.train=" + bad, "--set", "rounds=1",
                "--out", dir.resolve("sim").toString());
        Cli.assertUserError(r, "bad.jsonl line 1 (byte offset 5): byte 0x80 is not valid UTF-8");
        assertThat(dir.resolve("sim")).doesNotExist();
    }
}
