package org.fedqlora.fed.secagg;

/**
 * The steps of one secure-aggregation round, in order. A server request and the client's reply carry the same stage.
 * <pre>
 * SETUP           server → client: "config" (the round's {@link SecAggConfig})
 *                 client → server: "c_pk", "s_pk"          its two fresh X25519 public keys (AdvertiseKeys)
 * SHARE_KEYS      server → client: "c_pk/ID", "s_pk/ID"    the public keys of its neighbours that advertised
 *                 client → server: "share/ID"             per neighbour: AES-GCM(Shamir shares of b_u and s_u)
 * MASKED_INPUT    server → client: "share/ID"             the ciphertexts its neighbours sent it
 *                 client → server: "masked", "meta"       y_u = x_u + PRG(b_u) + Σ ±PRG(s_uv) mod 2^k, public layout
 * UNMASK          server → client: "survivors", "dropped", "survivor_count"
 *                 client → server: "b/ID", "s/ID"         its shares of b for survivors, of s_sk for the dropped
 * </pre>
 */
public enum Stage {
    SETUP, SHARE_KEYS, MASKED_INPUT, UNMASK
}
