package org.fedqlora.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.tensor.SafetensorsFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reference fixtures computed with PyTorch (copied from shared/fixtures into test resources). */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path resource(String relative) {
        try {
            var url = Fixtures.class.getClassLoader().getResource(relative);
            if (url == null) {
                throw new IllegalStateException("test resource " + relative + " is missing");
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Path model(String name) {
        return resource("fixtures/" + name);
    }

    public static SafetensorsFile expected(String model) {
        return SafetensorsFile.open(model(model).resolve("expected.safetensors"));
    }

    public static List<String> sentences() {
        try {
            var node = new ObjectMapper().readTree(resource("fixtures/sentences.json").toFile()).get("sentences");
            List<String> out = new ArrayList<>();
            node.forEach(n -> out.add(n.asText()));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Largest absolute difference, printed per tensor as test_gpt2.c does. */
    public static double maxAbsDiff(String what, float[] actual, float[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": length " + actual.length + " != " + expected.length);
        }
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            max = Math.max(max, Math.abs((double) actual[i] - expected[i]));
        }
        System.out.printf("%-60s max |diff| = %.3e%n", what, max);
        return max;
    }

    public static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
