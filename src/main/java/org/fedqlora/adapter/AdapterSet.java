package org.fedqlora.adapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.UserException;
import org.fedqlora.engine.HostArrays;
import org.fedqlora.nn.Linear;
import org.fedqlora.nn.LinearAdapter;
import org.fedqlora.tensor.HostTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The adapters attached to one model: LoRA on the target layers, optionally a QA adapter per quantized layer.
 * Parameters live in this set's own manager, so several clients can share one frozen base model, each with its
 * own set (attach before a client's turn, detach after).
 */
public final class AdapterSet implements AutoCloseable {
    private final NDManager manager;
    private final LoraConfig lora;
    private final List<Linear> all;
    private final Map<String, LoraAdapter> loras = new LinkedHashMap<>();
    private final Map<String, QaAdapter> qas = new LinkedHashMap<>();
    private final Map<String, Linear> layers = new LinkedHashMap<>();

    private AdapterSet(NDManager manager, LoraConfig lora, List<Linear> all) {
        this.manager = manager;
        this.lora = lora;
        this.all = List.copyOf(all);
        all.forEach(l -> layers.put(l.name(), l));
    }

    /** Fresh LoRA (A random, B zero) on the layers selected by {@code config.targets()}. */
    public static AdapterSet create(NDManager parent, List<Linear> all, LoraConfig config, long seed) {
        AdapterSet s = new AdapterSet(parent.newSubManager(), config, all);
        for (Linear l : Targets.select(all, config.targets())) {
            s.loras.put(l.name(), LoraAdapter.init(s.manager, l.name(), l.in(), l.out(), config, seed));
        }
        return s;
    }

    /** No LoRA, only room for QA adapters ({@link #putQa}): a quantized base used as it is. */
    public static AdapterSet qaOnly(NDManager parent, List<Linear> all) {
        return new AdapterSet(parent.newSubManager(), null, all);
    }

    /** The LoRA config, or null for a {@link #qaOnly} set. */
    public LoraConfig loraConfig() {
        return lora;
    }

    public NDManager manager() {
        return manager;
    }

    public Map<String, LoraAdapter> loras() {
        return loras;
    }

    public Map<String, QaAdapter> qas() {
        return qas;
    }

    /** Linear layers carrying LoRA, in model order. */
    public List<Linear> loraLayers() {
        return loras.keySet().stream().map(layers::get).toList();
    }

    /** target_modules for PEFT's adapter_config.json. */
    public List<String> peftTargets() {
        return Targets.peftTargets(all, loraLayers());
    }

    /** Sets (or replaces) the QA adapter of one layer from L (out, m) and R (m, in). */
    public void putQa(String module, float[] l, float[] r, int rank) {
        Linear layer = layer(module);
        QaAdapter old = qas.put(module, QaAdapter.of(manager, module, l, r, layer.out(), layer.in(), rank));
        if (old != null) {
            old.parameters().forEach(p -> p.array().close());
        }
    }

    private Linear layer(String module) {
        Linear l = layers.get(module);
        if (l == null) {
            throw new UserException("no linear layer named '" + module + "' in this model");
        }
        return l;
    }

    /** Puts this set's adapters on their layers (QA first, then LoRA). */
    public void attach() {
        qas.forEach((name, a) -> layers.get(name).addAdapter(a));
        loras.forEach((name, a) -> layers.get(name).addAdapter(a));
    }

    /** Takes this set's adapters off their layers, leaving the base model bare for another client. */
    public void detach() {
        unfold();
        qas.forEach((name, a) -> layers.get(name).removeAdapter(a));
        loras.forEach((name, a) -> layers.get(name).removeAdapter(a));
    }

    /**
     * Folds this set's adapters that {@code which} accepts into their layers' weights ({@link Linear#fold}), for
     * as long as they stay unchanged: an evaluation, or training that leaves them frozen. Undo with
     * {@link #unfold} before they change.
     *
     * @return whether any layer folded
     */
    public boolean fold(Predicate<LinearAdapter> which) {
        boolean any = false;
        Set<LinearAdapter> mine = Collections.newSetFromMap(new IdentityHashMap<>());
        mine.addAll(qas.values());
        mine.addAll(loras.values());
        for (Linear l : adapted()) {
            any |= l.fold(a -> mine.contains(a) && which.test(a), manager);
        }
        return any;
    }

    /**
     * For a training run: folds the adapters none of whose arrays is in {@code trainable} (compared by identity),
     * except those with dropout, whose output must stay random in training.
     */
    public boolean foldFrozen(Collection<NDArray> trainable) {
        Set<NDArray> t = Collections.newSetFromMap(new IdentityHashMap<>());
        t.addAll(trainable);
        return fold(a -> !a.stochasticInTraining() && a.arrays().stream().noneMatch(t::contains));
    }

    /** Undoes {@link #fold} on every layer this set adapts. */
    public void unfold() {
        adapted().forEach(Linear::unfold);
    }

    /** Whether some layer this set adapts is folded. */
    public boolean isFolded() {
        return adapted().stream().anyMatch(Linear::isFolded);
    }

    private List<Linear> adapted() {
        Set<String> names = new LinkedHashSet<>(qas.keySet());
        names.addAll(loras.keySet());
        return names.stream().map(layers::get).toList();
    }

    public List<Parameter> loraParameters() {
        List<Parameter> p = new ArrayList<>();
        loras.values().forEach(a -> p.addAll(a.parameters()));
        return p;
    }

    public List<Parameter> qaParameters() {
        List<Parameter> p = new ArrayList<>();
        qas.values().forEach(a -> p.addAll(a.parameters()));
        return p;
    }

    /** LoRA factors in PEFT layout: {@code <module>.lora_A.weight} (r, in) and {@code .lora_B.weight} (out, r). */
    public Map<String, HostTensor> loraState() {
        return state(loraParameters());
    }

    /** QA factors: {@code <module>.qa_L.weight} (out, m), {@code .qa_R.weight} (m, in). Private to a client. */
    public Map<String, HostTensor> qaState() {
        return state(qaParameters());
    }

    private static Map<String, HostTensor> state(List<Parameter> params) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Parameter p : params) {
            try (NDArray t = p.array().transpose(1, 0)) {
                out.put(p.name(), HostArrays.toHost(t));
            }
        }
        return out;
    }

    /** Loads LoRA factors (PEFT layout) into this set; every adapter must be present with its shape. */
    public void loadLoraState(Map<String, HostTensor> state) {
        load(loraParameters(), state, "LoRA");
    }

    public void loadQaState(Map<String, HostTensor> state) {
        load(qaParameters(), state, "QA adapter");
    }

    private static void load(List<Parameter> params, Map<String, HostTensor> state, String what) {
        for (Parameter p : params) {
            HostTensor t = state.get(p.name());
            if (t == null) {
                throw new UserException(what + " state has no tensor '" + p.name() + "'");
            }
            long[] expected = p.array().getShape().getShape();
            long[] want = {expected[1], expected[0]};
            if (!Arrays.equals(t.shape(), want)) {
                throw new UserException(what + " tensor '" + p.name() + "' has shape " + Arrays.toString(t.shape())
                        + ", this model expects " + Arrays.toString(want)
                        + ": was it trained with another rank or base model?");
            }
            try (NDArray src = HostArrays.toNd(p.array().getManager(), t); NDArray tr = src.transpose(1, 0)) {
                HostArrays.write(p.array(), tr.toFloatArray());
            }
        }
    }

    @Override
    public void close() {
        detach();
        manager.close();
    }
}
