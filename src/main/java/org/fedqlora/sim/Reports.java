package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** JSON forms of a method's results, as summary.json and the report read them. */
final class Reports {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Reports() {
    }

    static ObjectNode recordJson(RoundRecord r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("round", r.round());
        List<String> key = RoundRecord.keys(r.task());
        put(o, key.get(0), r.accuracy());
        put(o, key.get(1), r.macroF1());
        put(o, key.get(2), r.worstAccuracy());
        put(o, key.get(3), r.localAccuracy());
        put(o, "train_loss", r.trainLoss());
        ObjectNode pf = o.putObject("per_format");
        r.perFormat().forEach((f, m) -> {
            ObjectNode x = pf.putObject(f);
            m.forEach((k, v) -> put(x, k, v));
        });
        o.put("bytes_up", r.bytesUp());
        o.put("bytes_down", r.bytesDown());
        o.put("seconds", r.seconds());
        return o;
    }

    static RoundRecord recordFromJson(JsonNode o) {
        Map<String, Map<String, Double>> pf = new TreeMap<>();
        o.get("per_format").properties().forEach(e -> {
            Map<String, Double> m = new LinkedHashMap<>();
            e.getValue().properties().forEach(x -> m.put(x.getKey(), num(x.getValue())));
            pf.put(e.getKey(), m);
        });
        SimTask task = o.has("perplexity") ? SimTask.CAUSAL_LM : SimTask.CLASSIFICATION;
        List<String> key = RoundRecord.keys(task);
        return new RoundRecord(o.get("round").asInt(), num(o.get(key.get(0))), num(o.get(key.get(1))),
                num(o.get(key.get(2))), num(o.get(key.get(3))), num(o.get("train_loss")), pf,
                o.get("bytes_up").asLong(), o.get("bytes_down").asLong(), o.get("seconds").asDouble(), task);
    }

    /**
     * The final evaluation of a method: its last evaluated round, per client (global and local test), per format
     * (means over that format's clients), the mean over clients and the worst client.
     */
    static ObjectNode finalMetrics(List<ObjectNode> lines, List<RoundRecord> records) {
        ObjectNode fin = JSON.createObjectNode();
        if (records.isEmpty()) {
            return fin;
        }
        RoundRecord last = records.get(records.size() - 1);
        List<String> key = RoundRecord.keys(last.task());
        put(fin, key.get(0), last.accuracy());
        put(fin, key.get(1), last.macroF1());
        put(fin, "worst_client_" + key.get(0), last.worstAccuracy());
        put(fin, key.get(3), last.localAccuracy());
        ObjectNode pf = fin.putObject("per_format");
        last.perFormat().forEach((f, m) -> {
            ObjectNode x = pf.putObject(f);
            m.forEach((k, v) -> put(x, k, v));
        });
        Map<Integer, ObjectNode> clients = new TreeMap<>();
        for (ObjectNode l : lines) {
            String split = l.get("split").asText();
            if (l.get("round").asInt() != last.round() || split.equals("train") || split.equals("privacy")) {
                continue;
            }
            ObjectNode c = clients.computeIfAbsent(l.get("client").asInt(), k -> {
                ObjectNode n = JSON.createObjectNode();
                n.put("client", k);
                n.put("format", l.get("format").asText());
                n.put("base", l.get("base").asText());
                return n;
            });
            String prefix = l.get("split").asText().equals("local") ? "local_" : "";
            c.set(prefix + key.get(0), l.get(key.get(0)));
            c.set(prefix + key.get(1), l.get(key.get(1)));
        }
        ArrayNode pc = fin.putArray("per_client");
        clients.values().forEach(pc::add);
        fin.put("round", last.round());
        return fin;
    }

    static ObjectNode methodSummary(MethodRun.Result r) {
        ObjectNode m = JSON.createObjectNode();
        m.set("final", r.finalMetrics());
        ArrayNode rounds = m.putArray("rounds");
        r.rounds().forEach(x -> rounds.add(recordJson(x)));
        m.put("seconds", r.seconds());
        m.put("bytes_up", r.bytesUp());
        m.put("bytes_down", r.bytesDown());
        if (r.privacy() != null) {
            m.set("privacy", r.privacy());
        }
        if (r.throughput() != null) {
            m.set("throughput", r.throughput());
        }
        return m;
    }

    static void put(ObjectNode o, String k, double v) {
        if (Double.isFinite(v)) {
            o.put(k, v);
        } else {
            o.putNull(k);
        }
    }

    static double num(JsonNode n) {
        return n == null || n.isNull() ? Double.NaN : n.asDouble();
    }
}
