package org.fedqlora.fed.secagg;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The byte form of a {@link Message} that the gRPC deployment carries: exact round trip, strict parsing. */
class MessageBytesTest {
    static Message sample() {
        return Message.of("round-3-ab12", Stage.SHARE_KEYS, "client-1", Message.SERVER,
                Map.of("share/client-0", new byte[] {1, 2, 3}, "share/client-2", new byte[0], "é", new byte[] {-1}));
    }

    @Test
    void bytesRoundTripEveryField() {
        Message m = sample();

        Message back = Message.fromBytes(m.toBytes(), "test");

        assertThat(back.session()).isEqualTo(m.session());
        assertThat(back.stage()).isEqualTo(m.stage());
        assertThat(back.sender()).isEqualTo(m.sender());
        assertThat(back.receiver()).isEqualTo(m.receiver());
        assertThat(back.payload().keySet()).containsExactlyElementsOf(m.payload().keySet());
        m.payload().forEach((k, v) -> assertThat(back.payload().get(k)).containsExactly(v));
        assertThat(back.toBytes()).containsExactly(m.toBytes());
    }

    @Test
    void everyTruncationAndTrailingByteIsRefused() {
        byte[] b = sample().toBytes();
        for (int n = 0; n < b.length; n++) {
            byte[] cut = Arrays.copyOf(b, n);
            assertThatThrownBy(() -> Message.fromBytes(cut, "client-1")).as("%d bytes", n)
                    .isInstanceOf(SecAggException.class).hasMessageContaining("from client-1");
        }
        byte[] longer = Arrays.copyOf(b, b.length + 1);
        assertThatThrownBy(() -> Message.fromBytes(longer, "x")).hasMessageContaining("trailing");
    }

    @Test
    void otherMagicVersionOrStageIsRefused() {
        byte[] b = sample().toBytes();
        byte[] magic = b.clone();
        magic[0] ^= 1;
        byte[] version = b.clone();
        version[4] = 2;
        byte[] stage = b.clone();
        stage[5] = 9;
        assertThatThrownBy(() -> Message.fromBytes(magic, "x")).hasMessageContaining("not a secure-aggregation");
        assertThatThrownBy(() -> Message.fromBytes(version, "x")).hasMessageContaining("version 2");
        assertThatThrownBy(() -> Message.fromBytes(stage, "x")).hasMessageContaining("unknown stage 9");
    }
}
