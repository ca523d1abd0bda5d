package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;

/** Lenient reads of the simulation's JSON: a missing, null, non-numeric or non-finite value reads as absent. */
final class Json {
    private Json() {
    }

    /** {@code node.field} as a finite number, or empty. */
    static OptionalDouble number(JsonNode node, String field) {
        return number(node == null ? null : node.get(field));
    }

    /** {@code value} as a finite number, or empty. */
    static OptionalDouble number(JsonNode value) {
        if (value == null || !value.isNumber() || !Double.isFinite(value.asDouble())) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(value.asDouble());
    }

    /** {@code node.field} as text (numbers are printed), or {@code fallback}. */
    static String text(JsonNode node, String field, String fallback) {
        JsonNode value = node == null ? null : node.get(field);
        return value == null || value.isNull() || value.isContainerNode() ? fallback : value.asText();
    }

    /** The entries of an object in file order; empty when {@code node} is not an object. */
    static List<Map.Entry<String, JsonNode>> entries(JsonNode node) {
        List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
        if (node != null && node.isObject()) {
            node.properties().forEach(out::add);
        }
        return out;
    }

    /** The elements of an array; empty when {@code node} is not an array. */
    static List<JsonNode> elements(JsonNode node) {
        List<JsonNode> out = new ArrayList<>();
        if (node != null && node.isArray()) {
            node.forEach(out::add);
        }
        return out;
    }

    /** summary.methods as (name, method) pairs in file order. */
    static List<Map.Entry<String, JsonNode>> methods(JsonNode summary) {
        return entries(summary.get("methods"));
    }

    /** The union of the quantization formats in every method's final.per_format, in order of first appearance. */
    static List<String> formats(JsonNode summary) {
        Set<String> formats = new LinkedHashSet<>();
        for (Map.Entry<String, JsonNode> method : methods(summary)) {
            entries(method.getValue().path("final").get("per_format")).forEach(e -> formats.add(e.getKey()));
        }
        return List.copyOf(formats);
    }

    /** Whether the summary is of causal-LM runs (its methods report perplexity, not accuracy). */
    static boolean perplexity(JsonNode summary) {
        return methods(summary).stream().anyMatch(m -> m.getValue().path("final").has("perplexity")
                || m.getValue().path("rounds").path(0).has("perplexity"));
    }

    /**
     * A method's worst client accuracy: final.worst_client_accuracy, or else the lowest accuracy in final.per_client.
     */
    static OptionalDouble worstClientAccuracy(JsonNode method) {
        JsonNode fin = method.path("final");
        OptionalDouble stated = number(fin, "worst_client_accuracy");
        if (stated.isPresent()) {
            return stated;
        }
        return elements(fin.get("per_client")).stream()
                .map(c -> number(c, "accuracy"))
                .filter(OptionalDouble::isPresent)
                .mapToDouble(OptionalDouble::getAsDouble)
                .min();
    }
}
