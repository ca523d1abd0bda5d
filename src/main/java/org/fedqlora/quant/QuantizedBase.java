package org.fedqlora.quant;

import ai.djl.ndarray.NDManager;
import org.fedqlora.nn.BaseWeight;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.DenseWeight;
import org.fedqlora.tensor.TensorSource;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Builds a model's frozen linear weights at one precision: quantizes full-precision checkpoint weights (fitting
 * the QA adapter while W is at hand), or reads weights already saved quantized. Embeddings, norms and biases are
 * not linear weights and stay full precision; {@code keepFullPrecision} lists module suffixes to leave unquantized.
 */
public final class QuantizedBase implements BaseWeightFactory {
    /** How a quantized weight is kept for compute. */
    public enum Residency {
        /** Dequantized once to fp32 (fast; memory of fp32, values of the format: "fake quantization"). */
        DEQUANTIZED,
        /** Kept packed, unpacked inside each product's native call (memory at the format's true size). */
        PACKED;

        public static Residency parse(String s) {
            for (Residency r : values()) {
                if (r.name().equalsIgnoreCase(s)) {
                    return r;
                }
            }
            throw new org.fedqlora.UserException("unknown weight residency '" + s + "' (valid: dequantized, packed)");
        }
    }

    private final QuantSpec spec;
    private final QaSpec qa;
    private final Residency residency;
    private final List<String> keepFullPrecision;
    private final Map<String, QaInit.Result> layers = new LinkedHashMap<>();

    public QuantizedBase(QuantSpec spec, QaSpec qa, Residency residency, List<String> keepFullPrecision) {
        this.spec = spec;
        this.qa = qa;
        this.residency = residency;
        this.keepFullPrecision = List.copyOf(keepFullPrecision);
    }

    public QuantizedBase(QuantSpec spec, QaSpec qa) {
        this(spec, qa, Residency.DEQUANTIZED, List.of());
    }

    @Override
    public BaseWeight create(String module, String weightName, TensorSource source, int out, int in, NDManager owner) {
        QaInit.Result r;
        if (QuantizedTensor.isSaved(weightName, source.metadata())) {
            QuantizedTensor q = QuantizedTensor.fromTensors(weightName, source, source.metadata());
            if (q.rows() != out || q.cols() != in) {
                throw new org.fedqlora.tensor.SafetensorsException(source.describe() + ": quantized tensor '"
                        + weightName + "' is " + q.rows() + "x" + q.cols() + ", expected " + out + "x" + in);
            }
            r = new QaInit.Result(q, null, Double.NaN, Double.NaN, Double.NaN);
        } else {
            float[] w = source.require(weightName, out, in).toFloats();
            if (keepFullPrecision.stream().anyMatch(s -> module.equals(s) || module.endsWith("." + s))) {
                return new DenseWeight(owner, w, out, in, "fp32");
            }
            r = QaInit.quantize(weightName, w, out, in, spec, qa);
        }
        layers.put(module, r);
        QuantizedTensor q = r.base();
        if (residency == Residency.PACKED && q.format().isQuantized()) {
            return new PackedWeight(q, owner);
        }
        return new DenseWeight(owner, q.dequantize(), out, in, q.format().id());
    }

    /** What each quantized layer became, by module path, in model order. */
    public Map<String, QaInit.Result> layers() {
        return Collections.unmodifiableMap(layers);
    }

    public QuantSpec spec() {
        return spec;
    }

    public QaSpec qa() {
        return qa;
    }

    public Residency residency() {
        return residency;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s/g%d%s", spec.format().id(), spec.groupSize(), spec.doubleQuant() ? "+dq" : "");
    }
}
