package org.fedqlora.fed;

import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.linalg.Matrices;
import org.fedqlora.linalg.Svd;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.Quantizer;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The paper's core claim in miniature, with known answers. One linear layer (O, I) = (64, 128) has true weight
 * W* = W + ΔW with ΔW = B*A* of rank 4. Client i holds its own quantization Q_i(W) (nf2, nf3, nf4, int4 through the
 * project's quantizers), with error E_i = W − Q_i(W), and n_i = 100, 200, 300, 400 examples.
 *
 * <p>Adapter: W_eff = base + B·A with A (r, I), r = 8, shared and frozen as in FFA-LoRA, its rows orthonormal and
 * spanning ΔW's row space (so ΔW is reachable); only B (O, r) is trained and sent. The adapter's rank limit is A's
 * row space: for a target T the best B is T Aᵀ and B·A = T P_A with P_A = AᵀA. Each client moves B halfway to its
 * exact local optimum per round (B ← B + ½ (T_i Aᵀ − B)), so after R rounds of FedAvg the global B is
 * (1 − 2^−R) Σ n_i T_i Aᵀ / Σ n_i. (A shared A is what makes averaging B exact; averaging separately trained A and B
 * factors has no closed form.)
 * <ul>
 *   <li>lora: T_i = W* − Q_i(W) = ΔW + E_i, so client j is left with W_eff − W* = Ē P_A − E_j, Ē = Σ n_i E_i / Σ n_i:
 *       each client inherits the others' quantization error through the average.</li>
 *   <li>fedqlora: client i also holds a private QA adapter L_i R_i = the best rank-q approximation of E_i
 *       ({@link Svd#lowRank}), so T_i = ΔW + F_i with F_i = E_i − L_i R_i, and W_eff − W* = F̄ P_A − F_j.
 *       With q = 64 = rank(E_i), F_i = 0 and every client recovers W* exactly; with q = 16 < rank(E_i) the
 *       residual F_i remains.</li>
 * </ul>
 * The QA factors never cross the transport: only {@code layer.lora_B.weight} goes up.
 */
class QuantizedLinearKnownAnswerTest {
    private static final int OUT = 64;
    private static final int IN = 128;
    private static final int TRUE_RANK = 4;
    private static final int ADAPTER_RANK = 8;
    private static final int ROUNDS = 30;
    private static final float STEP = 0.5f;
    private static final List<QuantFormat> FORMATS = List.of(QuantFormat.NF2, QuantFormat.NF3, QuantFormat.NF4,
            QuantFormat.INT4);
    private static final long[] EXAMPLES = {100, 200, 300, 400};
    /** Max |effective-weight error − closed form| over all elements (values are of order 1; float32 arithmetic). */
    private static final double MAX_ABS_ERROR = 1e-5;
    private static final String LORA_A = "layer.lora_A.weight";
    private static final String LORA_B = "layer.lora_B.weight";

    private static float[] w;
    private static float[] wStar;
    private static float[] a;
    private static float[] projection;
    private static List<float[]> bases;

    /** Client i: a quantized base, an optional private QA adapter, and the data that define its target W*. */
    private static final class LinearClient implements Client {
        final String id;
        final float[] base;
        final long examples;
        final Map<String, HostTensor> privateTensors = new TreeMap<>();
        final float[] qa;

        LinearClient(String id, float[] base, long examples, int qaRank) {
            this.id = id;
            this.base = base;
            this.examples = examples;
            if (qaRank > 0) {
                Svd.LowRank lr = Svd.lowRank(Matrices.subtract(w, base), OUT, IN, qaRank);
                privateTensors.put("layer.qa_adapter.L", HostTensor.ofFloats(lr.l(), OUT, qaRank));
                privateTensors.put("layer.qa_adapter.R", HostTensor.ofFloats(lr.r(), qaRank, IN));
                qa = lr.product();
            } else {
                qa = new float[OUT * IN];
            }
        }

        /** Moves B halfway to its least-squares optimum T Aᵀ for T = W* − base − QA. */
        @Override
        public FitRes fit(FitIns ins) {
            float[] adapterA = ins.parameters().get(LORA_A).toFloats();
            float[] b = ins.parameters().get(LORA_B).toFloats();
            float[] target = Matrices.subtract(Matrices.subtract(wStar, base), qa);
            float[] best = Matrices.matmul(target, Matrices.transpose(adapterA, ADAPTER_RANK, IN), OUT, IN,
                    ADAPTER_RANK);
            for (int k = 0; k < b.length; k++) {
                b[k] += STEP * (best[k] - b[k]);
            }
            return new FitRes(id, Map.of(LORA_B, HostTensor.ofFloats(b, OUT, ADAPTER_RANK)), examples, Map.of());
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            double error = Matrices.frobeniusNorm(effectiveError(ins.parameters()));
            return new EvaluateRes(id, examples, Map.of("weight_error", error));
        }

        /** W_eff − W* = base + QA + B·A − W*. */
        float[] effectiveError(Map<String, HostTensor> global) {
            float[] ba = Matrices.matmul(global.get(LORA_B).toFloats(), global.get(LORA_A).toFloats(), OUT,
                    ADAPTER_RANK, IN);
            float[] effective = new float[OUT * IN];
            for (int k = 0; k < effective.length; k++) {
                effective[k] = base[k] + qa[k] + ba[k];
            }
            return Matrices.subtract(effective, wStar);
        }
    }

    /** Wraps a transport and records the tensor names that crossed in each direction. */
    private static final class RecordingTransport implements Transport {
        final Transport inner;
        final Set<String> sentDown = new TreeSet<>();
        final Set<String> sentUp = new TreeSet<>();

        RecordingTransport(Transport inner) {
            this.inner = inner;
        }

        @Override
        public List<String> availableClients() {
            return inner.availableClients();
        }

        @Override
        public PhaseResult<FitRes> fit(Map<String, FitIns> instructions) {
            instructions.values().forEach(ins -> sentDown.addAll(ins.parameters().keySet()));
            PhaseResult<FitRes> answers = inner.fit(instructions);
            answers.results().forEach(res -> sentUp.addAll(res.parameters().keySet()));
            return answers;
        }

        @Override
        public PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions) {
            instructions.values().forEach(ins -> sentDown.addAll(ins.parameters().keySet()));
            return inner.evaluate(instructions);
        }
    }

    private record Run(List<LinearClient> clients, Server.Result result, RecordingTransport transport,
                       InMemoryTransport wire) {
    }

    @BeforeAll
    static void buildTheLayerAndItsQuantizations() {
        Random random = new Random(20240611);
        w = gaussian(random, OUT * IN, 1.0);
        float[] bStar = gaussian(random, OUT * TRUE_RANK, 0.3);
        float[] aStar = gaussian(random, TRUE_RANK * IN, 0.3);
        float[] deltaW = Matrices.matmul(bStar, aStar, OUT, TRUE_RANK, IN);
        wStar = new float[OUT * IN];
        for (int k = 0; k < wStar.length; k++) {
            wStar[k] = w[k] + deltaW[k];
        }
        float[] rows = new float[ADAPTER_RANK * IN];
        System.arraycopy(aStar, 0, rows, 0, aStar.length);
        float[] extra = gaussian(random, (ADAPTER_RANK - TRUE_RANK) * IN, 1.0);
        System.arraycopy(extra, 0, rows, aStar.length, extra.length);
        a = orthonormalRows(rows, ADAPTER_RANK, IN);
        projection = Matrices.matmul(Matrices.transpose(a, ADAPTER_RANK, IN), a, IN, ADAPTER_RANK, IN);
        bases = new ArrayList<>();
        for (QuantFormat format : FORMATS) {
            bases.add(Quantizer.quantize("layer.weight", w, OUT, IN, QuantSpec.of(format)).dequantize());
        }
    }

    @Test
    void plainLoraLeavesEachClientTheAveragedQuantizationErrorOfTheOthers() {
        // Prepare and Execute
        Run run = federate(0);

        // Assert: error_j = Ē P_A − E_j
        List<float[]> errors = bases.stream().map(q -> Matrices.subtract(w, q)).toList();
        float[] meanError = weightedMean(errors);
        for (int j = 0; j < FORMATS.size(); j++) {
            float[] actual = run.clients().get(j).effectiveError(run.result().parameters());
            float[] expected = Matrices.subtract(project(meanError), errors.get(j));
            double diff = Matrices.maxAbsDifference(actual, expected);
            double norm = Matrices.frobeniusNorm(actual);
            double quantError = Matrices.frobeniusNorm(errors.get(j));
            double localOptimum = Matrices.frobeniusNorm(Matrices.subtract(errors.get(j), project(errors.get(j))));
            System.out.printf("lora     %-4s |W_eff − W*| = %.4f  |E_j| = %.4f  local-only optimum %.4f  "
                    + "max |error − closed form| = %.2e%n", FORMATS.get(j).id(), norm, quantError, localOptimum,
                    diff);
            assertThat(diff).isLessThanOrEqualTo(MAX_ABS_ERROR);
            assertThat(norm).isGreaterThan(0.5 * quantError).isGreaterThan(localOptimum);
        }
        assertThat(run.transport().sentUp).containsExactly(LORA_B);
    }

    @Test
    void fedQloraWithExactQaAdaptersRecoversTheTrueWeightOnEveryClient() {
        // Prepare and Execute: QA rank 64 = rank(E_i)
        Run run = federate(OUT);

        // Assert
        for (int j = 0; j < FORMATS.size(); j++) {
            float[] error = run.clients().get(j).effectiveError(run.result().parameters());
            double maxAbs = Matrices.maxAbsDifference(error, new float[error.length]);
            System.out.printf("fedqlora %-4s (QA rank %d) |W_eff − W*| = %.2e  max |W_eff − W*| = %.2e  "
                    + "(|W*| = %.1f)%n", FORMATS.get(j).id(), OUT, Matrices.frobeniusNorm(error), maxAbs,
                    Matrices.frobeniusNorm(wStar));
            assertThat(maxAbs).isLessThanOrEqualTo(MAX_ABS_ERROR);
        }
        assertQaAdaptersStayedLocal(run);
    }

    @Test
    void fedQloraWithRankLimitedQaAdaptersLeavesOnlyTheResidualOfTheTruncation() {
        // Prepare and Execute: QA rank 16 < rank(E_i) = 64
        int qaRank = 16;
        Run run = federate(qaRank);

        // Assert: error_j = F̄ P_A − F_j with F_i = E_i − L_i R_i
        List<float[]> residuals = run.clients().stream().map(c -> Matrices.subtract(Matrices.subtract(w, c.base),
                c.qa)).toList();
        float[] meanResidual = weightedMean(residuals);
        for (int j = 0; j < FORMATS.size(); j++) {
            float[] actual = run.clients().get(j).effectiveError(run.result().parameters());
            float[] expected = Matrices.subtract(project(meanResidual), residuals.get(j));
            double diff = Matrices.maxAbsDifference(actual, expected);
            double quantError = Matrices.frobeniusNorm(Matrices.subtract(w, bases.get(j)));
            System.out.printf("fedqlora %-4s (QA rank %d) |W_eff − W*| = %.4f  |E_j| = %.4f  "
                    + "max |error − closed form| = %.2e%n", FORMATS.get(j).id(), qaRank,
                    Matrices.frobeniusNorm(actual), quantError, diff);
            assertThat(diff).isLessThanOrEqualTo(MAX_ABS_ERROR);
            assertThat(Matrices.frobeniusNorm(actual)).isLessThan(quantError);
        }
        assertQaAdaptersStayedLocal(run);
    }

    /** Only B went up, A and B came down, and the bytes up are exactly ROUNDS × K × |B|. */
    private static void assertQaAdaptersStayedLocal(Run run) {
        Set<String> privateNames = new TreeSet<>();
        run.clients().forEach(c -> privateNames.addAll(c.privateTensors.keySet()));
        assertThat(privateNames).isNotEmpty();
        assertThat(run.transport().sentUp).containsExactly(LORA_B).doesNotContainAnyElementsOf(privateNames);
        assertThat(run.transport().sentDown).containsExactly(LORA_A, LORA_B);
        assertThat(run.wire().totalBytesUp()).isEqualTo((long) ROUNDS * FORMATS.size() * OUT * ADAPTER_RANK * 4);
    }

    /** Runs ROUNDS of FedAvg over the four clients, from B = 0, evaluating after the last round. */
    private static Run federate(int qaRank) {
        List<LinearClient> clients = new ArrayList<>();
        Map<String, Client> byId = new TreeMap<>();
        for (int i = 0; i < FORMATS.size(); i++) {
            LinearClient c = new LinearClient("client-" + i + "-" + FORMATS.get(i).id(), bases.get(i), EXAMPLES[i],
                    qaRank);
            clients.add(c);
            byId.put(c.id, c);
        }
        Map<String, HostTensor> initial = Map.of(LORA_A, HostTensor.ofFloats(a, ADAPTER_RANK, IN),
                LORA_B, HostTensor.ofFloats(new float[OUT * ADAPTER_RANK], OUT, ADAPTER_RANK));
        FedAvg strategy = new FedAvg(FedAvg.Config.defaults(), initial, ServerOptimizer.average());
        InMemoryTransport wire = new InMemoryTransport(byId);
        RecordingTransport transport = new RecordingTransport(wire);
        Server.Result result = new Server(strategy, transport, new Server.Config(ROUNDS, ROUNDS, 1))
                .run(RoundListener.NONE);
        RoundReport last = result.rounds().get(ROUNDS - 1);
        System.out.printf("qa rank %d: mean weight error after %d rounds %.4e, bytes up %d, down %d%n", qaRank,
                ROUNDS, last.evaluation().orElseThrow().metrics().get("weight_error"), wire.totalBytesUp(),
                wire.totalBytesDown());
        assertThat(result.rounds()).allSatisfy(r -> assertThat(r.isAccepted()).isTrue());
        return new Run(clients, result, transport, wire);
    }

    /** X P_A for X (O, I). */
    private static float[] project(float[] x) {
        return Matrices.matmul(x, projection, OUT, IN, IN);
    }

    /** Σ n_i X_i / Σ n_i. */
    private static float[] weightedMean(List<float[]> xs) {
        return Aggregation.weightedMean(xs, EXAMPLES);
    }

    private static float[] gaussian(Random random, int n, double scale) {
        float[] v = new float[n];
        for (int k = 0; k < n; k++) {
            v[k] = (float) (scale * random.nextGaussian());
        }
        return v;
    }

    /** Gram–Schmidt (twice, in double) on the rows of m (rows, cols); the rows must be independent. */
    private static float[] orthonormalRows(float[] m, int rows, int cols) {
        double[][] q = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int t = 0; t < cols; t++) {
                q[i][t] = m[i * cols + t];
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int j = 0; j < i; j++) {
                    double dot = 0;
                    for (int t = 0; t < cols; t++) {
                        dot += q[j][t] * q[i][t];
                    }
                    for (int t = 0; t < cols; t++) {
                        q[i][t] -= dot * q[j][t];
                    }
                }
            }
            double norm = 0;
            for (int t = 0; t < cols; t++) {
                norm += q[i][t] * q[i][t];
            }
            for (int t = 0; t < cols; t++) {
                q[i][t] /= Math.sqrt(norm);
            }
        }
        float[] out = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int t = 0; t < cols; t++) {
                out[i * cols + t] = (float) q[i][t];
            }
        }
        return out;
    }
}
