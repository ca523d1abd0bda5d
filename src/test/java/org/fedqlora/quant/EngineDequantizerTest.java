package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class EngineDequantizerTest {
    /** The engine runs the same float32 operations in the same order as the scalar codec. */
    private static final float ENGINE_TOLERANCE = 0f;

    @Test
    void engineDequantizationEqualsTheScalarCodecForEveryFormat() {
        // Prepare: the fixture weight (with outliers), every format, nf formats also double-quantized
        float[] w = QuantFixture.open().floats("w");
        List<QuantSpec> specs = new ArrayList<>();
        for (QuantFormat f : QuantFormat.values()) {
            specs.add(QuantSpec.of(f));
            if (f.family() == QuantFormat.Family.NORMAL_FLOAT) {
                specs.add(new QuantSpec(f, 32, true));
            }
        }

        try (NDManager manager = NDManager.newBaseManager()) {
            for (QuantSpec spec : specs) {
                QuantizedTensor q = Quantizer.quantize("w", w, QuantFixture.ROWS, QuantFixture.COLS, spec);

                // Execute
                float[] engine;
                try (NDArray a = q.toNDArray(manager)) {
                    assertThat(a.getShape()).isEqualTo(new Shape(QuantFixture.ROWS, QuantFixture.COLS));
                    assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
                    engine = a.toFloatArray();
                }

                // Assert
                float diff = QuantFixture.maxAbsDiff(engine, q.dequantize());
                System.out.printf("%s: engine vs scalar max |diff| %g%n", q, diff);
                assertThat(diff).as(q.toString()).isLessThanOrEqualTo(ENGINE_TOLERANCE);
            }
        }
    }

    @Test
    void onlyTheResultStaysInTheCallersManager() {
        float[] w = QuantFixture.gaussian(64 * 128, 21);
        QuantizedTensor q = Quantizer.quantize("w", w, 64, 128, QuantSpec.of(QuantFormat.NF4));

        try (NDManager manager = NDManager.newBaseManager()) {
            // Execute
            NDArray a = q.toNDArray(manager);

            // Assert: the result, and no intermediate, is attached to the caller's manager
            assertThat(manager.getManagedArrays()).containsExactly(a);
        }
    }
}
