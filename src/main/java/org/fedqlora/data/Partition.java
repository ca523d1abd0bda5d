package org.fedqlora.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.List;

/**
 * How a data set is split over federated clients: the indices (into the data set) each client holds.
 *
 * <p>JSON form ({@link #toJson()}); {@code alpha} only for dirichlet/quantity, {@code shards_per_client} only for
 * shards, {@code min_per_client} only for dirichlet/quantity:
 * <pre>{@code
 * {"version": 1, "method": "dirichlet", "alpha": 0.5, "min_per_client": 10, "seed": 1, "num_classes": 8,
 *  "clients": [{"client": 0, "size": 123, "label_histogram": [40, 0, ...], "indices": [3, 17, ...]}, ...]}
 * }</pre>
 *
 * @param method          partitioner name ({@link Partitioner#NAMES})
 * @param alpha           Dirichlet concentration (dirichlet, quantity), else null
 * @param shardsPerClient shards each client takes (shards), else null
 * @param minPerClient    smallest allowed client size (dirichlet, quantity), else null
 * @param seed            the seed that gives this partition
 * @param numClasses      length of every label histogram
 * @param clients         one entry per client, client {@code i} at position {@code i}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"version", "method", "alpha", "shards_per_client", "min_per_client", "seed", "num_classes",
        "clients"})
public record Partition(String method, Double alpha,
                        @JsonProperty("shards_per_client") Integer shardsPerClient,
                        @JsonProperty("min_per_client") Integer minPerClient,
                        long seed,
                        @JsonProperty("num_classes") int numClasses,
                        List<Client> clients) {
    /** Version of the JSON form; {@link #fromJson} rejects others. */
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    public Partition {
        clients = List.copyOf(clients);
        for (int i = 0; i < clients.size(); i++) {
            if (clients.get(i).client() != i || clients.get(i).labelHistogram().size() != numClasses) {
                throw new IllegalArgumentException("client entry " + i + " is numbered " + clients.get(i).client()
                        + " with a histogram over " + clients.get(i).labelHistogram().size() + " classes, expected "
                        + i + " and " + numClasses);
            }
        }
    }

    @JsonCreator
    static Partition fromJsonFields(@JsonProperty("version") int version, @JsonProperty("method") String method,
                                    @JsonProperty("alpha") Double alpha,
                                    @JsonProperty("shards_per_client") Integer shardsPerClient,
                                    @JsonProperty("min_per_client") Integer minPerClient,
                                    @JsonProperty("seed") long seed, @JsonProperty("num_classes") int numClasses,
                                    @JsonProperty("clients") List<Client> clients) {
        if (version != VERSION) {
            throw new DataException("partition file has version " + version + ", this fedqlora reads version "
                    + VERSION + "; recreate the partition");
        }
        return new Partition(method, alpha, shardsPerClient, minPerClient, seed, numClasses, clients);
    }

    @JsonProperty("version")
    int version() {
        return VERSION;
    }

    /** One client's share. {@code size} appears in JSON but is derived from {@code indices}. */
    @JsonPropertyOrder({"client", "size", "label_histogram", "indices"})
    @JsonIgnoreProperties(value = {"size"}, allowGetters = true)
    public record Client(int client, List<Integer> indices,
                         @JsonProperty("label_histogram") List<Integer> labelHistogram) {
        public Client {
            indices = List.copyOf(indices);
            labelHistogram = List.copyOf(labelHistogram);
            int total = labelHistogram.stream().mapToInt(Integer::intValue).sum();
            if (total != indices.size()) {
                throw new IllegalArgumentException("client " + client + ": label histogram sums to " + total
                        + " but it has " + indices.size() + " indices");
            }
        }

        @JsonProperty("size")
        public int size() {
            return indices.size();
        }
    }

    public int numClients() {
        return clients.size();
    }

    /** The client sizes, in client order. */
    public int[] sizes() {
        return clients.stream().mapToInt(Client::size).toArray();
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a partition", e);
        }
    }

    public static Partition fromJson(String json) {
        try {
            return JSON.readValue(json, Partition.class);
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof DataException cause) {
                throw cause;
            }
            throw new DataException("not a valid partition JSON: " + e.getOriginalMessage(), e);
        }
    }
}
