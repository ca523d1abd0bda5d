package org.fedqlora.transport.grpc;

/** Constants of the federation protocol (see federation.proto, which is the contract). */
public final class Protocol {
    /** The protocol version of this build; a peer with another one is refused at Join. */
    public static final int VERSION = 1;
    /** Default size of one data chunk: 1 MiB. */
    public static final int DEFAULT_CHUNK_BYTES = 1 << 20;
    /** Default limit on one upload (sum of encoded tensor bytes): 1 GiB. */
    public static final long DEFAULT_MAX_UPDATE_BYTES = 1L << 30;
    /** Default long-poll: the server answers IDLE after this many milliseconds without work. */
    public static final int DEFAULT_POLL_MS = 10_000;
    /** gRPC message limit used on both sides; chunks keep every message far below it. */
    public static final int MAX_MESSAGE_BYTES = 16 << 20;
    /** The software string sent at Join. */
    public static final String SOFTWARE = "fedqlora 0.1.0";

    private Protocol() {
    }
}
