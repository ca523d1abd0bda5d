package org.fedqlora.sim;

import org.fedqlora.quant.QuantFormat;

import java.util.Comparator;
import java.util.List;

/**
 * The methods compared (names as in configs and reports). What differs is on the client side: which base each
 * client runs, whether it has a private QA adapter, which tensors it trains and sends.
 * <ul>
 *   <li>{@code lora}: each client trains LoRA (A, B) and the head on its own quantized base; FedAvg over A and B.</li>
 *   <li>{@code ffa-lora}: A frozen at the shared random init; only B (and the head) trained and averaged.</li>
 *   <li>{@code lora-truncated} (the paper's H-LoRA-T): every client runs the lowest precision present.</li>
 *   <li>{@code fedqlora}: each client has a private QA adapter L·R ≈ W − Q_i(W), frozen; LoRA and head are shared.</li>
 *   <li>{@code ifedqlora}: as fedqlora, and every round the client first refines its QA adapter with the received
 *       global LoRA fixed, then trains LoRA with the QA adapter fixed.</li>
 *   <li>{@code full-precision}: every client unquantized (the reference point).</li>
 *   <li>{@code local}: no aggregation; each client trains alone.</li>
 * </ul>
 */
public enum Method {
    LORA("lora"), FFA_LORA("ffa-lora"), LORA_TRUNCATED("lora-truncated"), FEDQLORA("fedqlora"),
    IFEDQLORA("ifedqlora"), FULL_PRECISION("full-precision"), LOCAL("local");

    public final String id;

    Method(String id) {
        this.id = id;
    }

    public static Method parse(String id) {
        for (Method m : values()) {
            if (m.id.equals(id)) {
                return m;
            }
        }
        throw new org.fedqlora.UserException("unknown method '" + id + "'");
    }

    /** Whether clients carry a private QA adapter. */
    public boolean usesQa() {
        return this == FEDQLORA || this == IFEDQLORA;
    }

    /** Whether the QA adapter changes during training (so clients of one format stop being interchangeable). */
    public boolean personalQa() {
        return this == IFEDQLORA;
    }

    /** Whether the server aggregates what clients send. */
    public boolean aggregates() {
        return this != LOCAL;
    }

    /** Whether LoRA's A stays frozen at its shared initialisation. */
    public boolean freezesA() {
        return this == FFA_LORA;
    }

    /** The format client {@code format} runs under this method, given every client's format. */
    public QuantFormat baseFormat(QuantFormat format, List<QuantFormat> all) {
        return switch (this) {
            case FULL_PRECISION -> QuantFormat.FP32;
            case LORA_TRUNCATED -> all.stream().min(Comparator.comparingInt(QuantFormat::bits)).orElse(format);
            default -> format;
        };
    }
}
