package org.fedqlora.sim;

import ai.djl.ndarray.NDArray;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.engine.Engines;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.strategy.FedProx;
import org.fedqlora.linalg.Matrices;
import org.fedqlora.linalg.Svd;
import org.fedqlora.model.Pooling;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.train.ClassificationHead;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.LanguageModel;
import org.fedqlora.train.LmMetrics;
import org.fedqlora.train.Evaluator;
import org.fedqlora.train.Metrics;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.train.TextClassifier;
import org.fedqlora.train.Trainer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One simulated client: a (shared, frozen) quantized base model, its own adapters (LoRA, and for fedqlora /
 * ifedqlora a private QA adapter), its head, and its local data. It only ever sends LoRA factors and the head;
 * the QA adapter never leaves it. Adapters are attached to the shared base only while the client works.
 */
final class SimClient implements Client, MethodRun.Participant {
    private final String id;
    private final int index;
    private final QuantFormat format;
    private final Method method;
    private final QuantizedModel model;
    private final TaskExamples train;
    private final TaskExamples localTest;
    private final SimContext ctx;
    /*
     * Persistent state lives on the host only, exactly what a checkpoint holds; the engine-side adapters and head
     * are rebuilt for every call and freed after it, so a resumed client is indistinguishable from one that ran on.
     */
    /** LoRA factors after this client's last local training (ifedqlora's svd refinement). */
    private Map<String, HostTensor> lastLocal;
    /** ifedqlora: the private QA adapter as refined so far (null: still the initial one). */
    private Map<String, HostTensor> qa;
    /** local: this client's own LoRA and head (null before its first round). */
    private Map<String, HostTensor> own;
    private AdapterSet adapters;
    private ClassificationHead head;

    SimClient(String id, int index, QuantFormat format, Method method, QuantizedModel model, TaskExamples train,
              TaskExamples localTest, SimContext ctx) {
        this.id = id;
        this.index = index;
        this.format = format;
        this.method = method;
        this.model = model;
        this.train = train;
        this.localTest = localTest;
        this.ctx = ctx;
    }

    /** Builds this client's adapters and head on the shared base and loads its state and the received global. */
    private void open(Map<String, HostTensor> global) {
        adapters = model.newAdapters(ctx.lora(), ctx.config().seed(), method.usesQa());
        // a causal LM has no head: its output layer is the decoder's own (frozen) lm_head
        head = ctx.task().causalLm() ? null : ClassificationHead.init(model.encoder().manager(),
                model.encoder().encoder().config().hidden(), ctx.classes(), ctx.config().seed());
        if (qa != null) {
            adapters.loadQaState(qa);
        }
        Map<String, HostTensor> start = method.aggregates() || own == null ? global : own;
        adapters.loadLoraState(start);
        if (head != null) {
            head.load(start);
        }
        adapters.attach();
    }

    /** Takes the adapters off the shared base and frees them. */
    private void close() {
        adapters.close();
        if (head != null) {
            head.close();
        }
        adapters = null;
        head = null;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public QuantFormat format() {
        return format;
    }

    String modelKey() {
        return ctx.modelKey(method, format);
    }

    @Override
    public int trainSize() {
        return train.size();
    }

    @Override
    public FitRes fit(FitIns ins) {
        open(ins.parameters());
        Trainer.Result r;
        Map<String, HostTensor> send = new LinkedHashMap<>();
        try {
            Engines.seed(ctx.seed(index, ins.round()));
            if (method == Method.IFEDQLORA && ins.round() > 1) {
                refineQa(ins.round());
            }
            List<NDArray> params = ctx.task().causalLm() ? languageModel().trainable(method.freezesA(), false)
                    : classifier().trainable(method.freezesA(), false);
            double mu = FedProx.mu(ins.config());
            List<NDArray> anchor = mu > 0 ? snapshot(params) : null;
            try {
                r = Trainer.run(objective(), params, ctx.options(index, ins.round(), (float) mu), anchor, null,
                        new Trainer.Listener() { });
                ctx.clock().trained(r.tokens(), r.seconds());
            } finally {
                if (anchor != null) {
                    anchor.forEach(NDArray::close);
                }
            }
            lastLocal = adapters.loraState();
            if (method.personalQa()) {
                qa = adapters.qaState();
            }
            if (method.aggregates()) {
                lastLocal.forEach((name, t) -> {
                    if (!(method.freezesA() && name.endsWith(".lora_A.weight"))) {
                        send.put(name, t);
                    }
                });
                if (head != null) {
                    send.putAll(head.state());
                }
            } else {
                own = new LinkedHashMap<>(lastLocal);
                if (head != null) {
                    own.putAll(head.state());
                }
            }
        } finally {
            close();
        }
        return new FitRes(id, send, train.size(), Map.of("train_loss", r.meanLoss(), "steps", (double) r.steps()));
    }

    private Metrics timedEvaluate(TextClassifier clf, EncodedExamples data) {
        long t0 = System.nanoTime();
        Metrics m = Evaluator.evaluate(clf, data, ctx.evalBatch(), model.encoder().manager()).metrics();
        long tokens = 0;
        for (int i = 0; i < data.size(); i++) {
            tokens += data.length(i);
        }
        ctx.clock().evaluated(tokens, (System.nanoTime() - t0) / 1e9);
        return m;
    }

    @Override
    public EvaluateRes evaluate(EvaluateIns ins) {
        open(ins.parameters());
        try {
            return ctx.task().causalLm() ? evaluateLm(ins) : evaluateClassifier(ins);
        } finally {
            close();
        }
    }

    private EvaluateRes evaluateClassifier(EvaluateIns ins) {
        TextClassifier clf = classifier();
        Metrics global = ctx.evaluateGlobal(this, ins.round(), () -> timedEvaluate(clf, ctx.test().classification()));
        Metrics local = localTest.size() == 0 ? null : timedEvaluate(clf, localTest.classification());
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("accuracy", global.accuracy());
        m.put("macro_f1", global.macroF1());
        m.put("loss", global.loss());
        m.put("examples", (double) global.total());
        if (local != null) {
            m.put("local_accuracy", local.accuracy());
            m.put("local_macro_f1", local.macroF1());
            m.put("local_loss", local.loss());
            m.put("local_examples", (double) local.total());
        }
        return new EvaluateRes(id, global.total(), m);
    }

    /** Perplexity over the response tokens of the global test set and of the client's own test split. */
    private EvaluateRes evaluateLm(EvaluateIns ins) {
        LanguageModel lm = languageModel();
        LmMetrics global = ctx.evaluateGlobal(this, ins.round(), () -> timedEvaluate(lm, ctx.test().lm()));
        LmMetrics local = localTest.size() == 0 ? null : timedEvaluate(lm, localTest.lm());
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("perplexity", global.perplexity());
        m.put("loss", global.loss());
        m.put("tokens", (double) global.tokens());
        m.put("examples", (double) global.examples());
        if (local != null) {
            m.put("local_perplexity", local.perplexity());
            m.put("local_loss", local.loss());
            m.put("local_tokens", (double) local.tokens());
            m.put("local_examples", (double) local.examples());
        }
        return new EvaluateRes(id, global.examples(), m);
    }

    /** As {@link LanguageModel#evaluate}, counted in the method's evaluation time and tokens. */
    private LmMetrics timedEvaluate(LanguageModel lm, org.fedqlora.train.InstructionExamples data) {
        long t0 = System.nanoTime();
        LmMetrics m = LanguageModel.evaluate(lm, data, ctx.lmEvalBatch());
        long tokens = 0;
        for (int i = 0; i < data.size(); i++) {
            tokens += data.length(i);
        }
        ctx.clock().evaluated(tokens, (System.nanoTime() - t0) / 1e9);
        return m;
    }

    private LanguageModel languageModel() {
        return new LanguageModel(model.encoder(), adapters);
    }

    /** What local training minimises for this client's task and data. */
    private Trainer.Objective objective() {
        if (train.size() == 0) {
            throw new org.fedqlora.UserException("client " + index + " has no training example that keeps a response "
                    + "token within data.max_length tokens; raise data.max_length");
        }
        if (ctx.task().causalLm()) {
            return languageModel().objective(train.lm());
        }
        return Trainer.classification(classifier(), train.classification());
    }

    private TextClassifier classifier() {
        return new TextClassifier(model.encoder(), adapters, head, Pooling.parse(ctx.config().head().pooling(), model.encoder().encoder()));
    }

    /**
     * iFedQLoRA's first half-step: refine the private QA adapter with the received global LoRA fixed.
     * <ul>
     *   <li>{@code train}: gradient steps on local data, only the QA factors trainable.</li>
     *   <li>{@code svd}: re-fit L·R so that Q_i + L'R' + s·B_g A_g matches the client's own estimate of its
     *       fine-tuned full-precision weights, Q_i + L R + s·B_i A_i (its QA and its last local LoRA):
     *       L'R' = SVD_m(L R + s·(B_i A_i − B_g A_g)). The difference between what the client learnt and what the
     *       federation agreed on (heterogeneity bias) moves into the private adapter.</li>
     * </ul>
     */
    private void refineQa(int round) {
        if (ctx.config().ifedqlora().refine().equals("train")) {
            List<NDArray> qa = adapters.qaParameters().stream().map(Parameter::array).toList();
            Trainer.Result refined = Trainer.run(objective(), qa, ctx.refineOptions(index, round), null, null,
                    new Trainer.Listener() { });
            ctx.clock().trained(refined.tokens(), refined.seconds());
            return;
        }
        if (lastLocal == null) {
            return;
        }
        Map<String, HostTensor> global = adapters.loraState();
        float s = ctx.lora().scaling();
        var qaState = adapters.qaState();
        adapters.detach();   // putQa replaces adapter objects: never while they sit on the shared layers
        for (var layer : adapters.loraLayers()) {
            String m = layer.name();
            if (!adapters.qas().containsKey(m)) {
                continue;
            }
            int out = layer.out();
            int in = layer.in();
            int r = ctx.lora().rank();
            int qr = adapters.qas().get(m).rank();
            float[] target = Matrices.matmul(qaState.get(m + ".qa_L.weight").toFloats(),
                    qaState.get(m + ".qa_R.weight").toFloats(), out, qr, in);
            float[] local = Matrices.matmul(lastLocal.get(m + ".lora_B.weight").toFloats(),
                    lastLocal.get(m + ".lora_A.weight").toFloats(), out, r, in);
            float[] glob = Matrices.matmul(global.get(m + ".lora_B.weight").toFloats(),
                    global.get(m + ".lora_A.weight").toFloats(), out, r, in);
            for (int i = 0; i < target.length; i++) {
                target[i] += s * (local[i] - glob[i]);
            }
            Svd.LowRank lr = Svd.lowRank(target, out, in, qr, m);
            adapters.putQa(m, lr.l(), lr.r(), qr);
        }
        adapters.attach();
    }

    private static List<NDArray> snapshot(List<NDArray> params) {
        List<NDArray> copy = new ArrayList<>();
        for (NDArray p : params) {
            copy.add(p.duplicate());
        }
        return copy;
    }

    /** What must survive a restart: the refined QA adapter, the last local LoRA, the own model (local). */
    @Override
    public Map<String, HostTensor> state() {
        Map<String, HostTensor> s = new LinkedHashMap<>();
        if (qa != null) {
            qa.forEach((k, v) -> s.put("qa." + k, v));
        }
        if (lastLocal != null) {
            lastLocal.forEach((k, v) -> s.put("last." + k, v));
        }
        if (own != null) {
            own.forEach((k, v) -> s.put("own." + k, v));
        }
        return s;
    }

    @Override
    public void restore(Map<String, HostTensor> s) {
        qa = part(s, "qa.");
        lastLocal = part(s, "last.");
        own = part(s, "own.");
    }

    private static Map<String, HostTensor> part(Map<String, HostTensor> s, String prefix) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        s.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out.isEmpty() ? null : out;
    }


}
