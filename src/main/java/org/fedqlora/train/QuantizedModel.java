package org.fedqlora.train;

import org.fedqlora.UserException;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.linalg.Svd;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.quant.QuantizedModelFolder;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A frozen base model at one precision, shareable by every client of that precision, with the QA adapter
 * factors computed for it (or read from a saved quantized folder). Each user of it makes its own
 * {@link AdapterSet} with {@link #newAdapters}.
 */
public final class QuantizedModel implements AutoCloseable {
    private final TextEncoder encoder;
    private final QuantizedBase base;
    private final Map<String, Svd.LowRank> qa;
    private final String format;

    private QuantizedModel(TextEncoder encoder, QuantizedBase base, Map<String, Svd.LowRank> qa, String format) {
        this.encoder = encoder;
        this.base = base;
        this.qa = qa;
        this.format = format;
    }

    /**
     * Loads {@code folder} quantized with {@code spec} (QA adapter per {@code qaSpec}); a folder written by
     * {@code fedqlora quantize --out} is used as saved, and {@code spec} must then be null or match it.
     */
    public static QuantizedModel load(ModelFolder folder, QuantSpec spec, QaSpec qaSpec,
                                      QuantizedBase.Residency residency, int maxLength) {
        boolean saved = QuantizedModelFolder.isQuantized(folder.dir());
        QuantizedBase base = new QuantizedBase(spec, saved ? QaSpec.none() : qaSpec, residency, List.of());
        TextEncoder enc = TextEncoder.load(folder, base, maxLength);
        Map<String, Svd.LowRank> qa = new LinkedHashMap<>();
        String format = spec.format().id();
        if (saved) {
            String savedFormat = base.layers().values().iterator().next().base().format().id();
            if (!savedFormat.equals(spec.format().id()) && spec.format() != org.fedqlora.quant.QuantFormat.FP32) {
                enc.close();
                throw new UserException(folder.dir() + " is quantized as " + savedFormat + " but --format "
                        + spec.format().id() + " was asked: drop --format or pass --format " + savedFormat);
            }
            format = savedFormat;
            if (qaSpec.enabled()) {
                qa.putAll(QuantizedModelFolder.readQa(folder.dir()));
            }
        } else {
            base.layers().forEach((module, r) -> {
                if (r.qa() != null) {
                    qa.put(module, r.qa());
                }
            });
        }
        return new QuantizedModel(enc, base, qa, format);
    }

    public TextEncoder encoder() {
        return encoder;
    }

    public QuantizedBase base() {
        return base;
    }

    /** The format's id ("nf4"). */
    public String format() {
        return format;
    }

    /** QA factors by module (empty when the model has none). */
    public Map<String, Svd.LowRank> qaFactors() {
        return qa;
    }

    /** A fresh adapter set: LoRA per {@code lora} (seeded), plus this model's QA adapter if {@code withQa}. */
    public AdapterSet newAdapters(LoraConfig lora, long seed, boolean withQa) {
        AdapterSet s = AdapterSet.create(encoder.manager(), encoder.encoder().linears(), lora, seed);
        if (withQa) {
            qa.forEach((module, f) -> s.putQa(module, f.l(), f.r(), f.rank()));
        }
        return s;
    }

    /** This model's QA adapter alone (no LoRA): the quantized base as a user of it sees it. */
    public AdapterSet newQaAdapters() {
        AdapterSet s = AdapterSet.qaOnly(encoder.manager(), encoder.encoder().linears());
        qa.forEach((module, f) -> s.putQa(module, f.l(), f.r(), f.rank()));
        return s;
    }

    @Override
    public void close() {
        encoder.close();
    }
}
