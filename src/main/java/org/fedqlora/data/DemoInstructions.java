package org.fedqlora.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The demo data as instruction-tuning data (SYNTHETIC): each generated customer-support message of
 * {@link DemoData} becomes an Alpaca row asking which team should take it and whether it is a problem or a
 * question, answered in one sentence; the category is the product area (so {@code dirichlet} partitioning skews
 * clients by area).
 * <pre>
 * {"instruction": "Route this customer message: ...", "input": "&lt;message&gt;",
 *  "output": "The billing team should take it: it is a problem.", "category": "billing"}
 * </pre>
 */
public final class DemoInstructions {
    public static final String INSTRUCTION = "Route this customer message: which team should take it (billing, "
            + "account, delivery or app), and is it a problem or a question?";
    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoInstructions() {
    }

    /** The answer the demo rows teach for a demo label ("billing_problem"). */
    public static String answer(String label) {
        String[] p = label.split("_", 2);
        return "The " + p[0] + " team should take it: it is a " + p[1] + ".";
    }

    /** The rows of a demo data set, in its order. */
    public static List<ObjectNode> rows(Dataset d) {
        List<ObjectNode> out = new ArrayList<>();
        for (Example e : d.examples()) {
            String label = d.labels().name(e.label());
            ObjectNode o = JSON.createObjectNode();
            o.put("instruction", INSTRUCTION);
            o.put("input", e.text());
            o.put("output", answer(label));
            o.put("category", label.split("_", 2)[0]);
            out.add(o);
        }
        return out;
    }

    /** The rows of a demo data set as conversations (instruction + "\n\n" + message → answer), with categories. */
    public static InstructionFiles.Instructions conversations(Dataset d, String source) {
        List<Conversation> out = new ArrayList<>();
        List<Long> lines = new ArrayList<>();
        for (Example e : d.examples()) {
            String label = d.labels().name(e.label());
            out.add(new Conversation(List.of(new ChatMessage(ChatMessage.USER, INSTRUCTION + "\n\n" + e.text()),
                    new ChatMessage(ChatMessage.ASSISTANT, answer(label))), label.split("_", 2)[0]));
            lines.add((long) out.size());
        }
        return new InstructionFiles.Instructions(out, lines, true, source);
    }

    /** Writes {@code train.jsonl} and {@code test.jsonl} of instruction rows into {@code dir}. */
    public static void write(DemoData.Demo demo, Path dir) throws IOException {
        Files.createDirectories(dir);
        write(rows(demo.train()), dir.resolve("train.jsonl"));
        write(rows(demo.test()), dir.resolve("test.jsonl"));
    }

    private static void write(List<ObjectNode> rows, Path file) throws IOException {
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (ObjectNode r : rows) {
                w.write(JSON.writeValueAsString(r));
                w.newLine();
            }
        }
    }
}
