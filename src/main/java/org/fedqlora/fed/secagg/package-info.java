/**
 * Secure aggregation (SecAgg+): the server learns the sum of the updates of the clients that finished a round and
 * nothing else about any one of them. Protocol of Bonawitz et al. 2017 ("Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning"), with the sparse neighbour graph of Bell et al. 2020 ("Secure Single-Server
 * Aggregation with (Poly)Logarithmic Overhead"); four stages ({@link org.fedqlora.fed.secagg.Stage}):
 * <ol>
 *   <li>AdvertiseKeys: each client makes two X25519 key pairs, (c_u) to encrypt shares and (s_u) for pairwise masks.</li>
 *   <li>ShareKeys: t-of-(k+1) Shamir shares (GF(2^521 − 1)) of s_u^SK and of a self-mask seed b_u go to the client
 *       itself and its k neighbours, each AES-256-GCM-encrypted under KDF(X25519(c_u, c_v)) with (session, sender,
 *       receiver) as associated data; the server relays ciphertexts it cannot read.</li>
 *   <li>MaskedInputCollection: y_u = x_u + PRG(b_u) + Σ_{v ∈ N(u)} ±PRG(s_uv) mod 2^bits, x_u the fixed-point
 *       update ({@link org.fedqlora.fed.secagg.FixedPoint}), PRG = AES-256-CTR, s_uv = KDF(X25519(s_u, s_v)).</li>
 *   <li>Unmasking: survivors send their shares of b_v for the survivors and of s_v^SK for those who dropped after
 *       sharing; the server reconstructs both and removes the masks.</li>
 * </ol>
 * The server keeps no masked input: each is checked and added into a running sum mod 2^bits as it arrives (one
 * 8 · d-byte sum per (meta, length) layout claimed, the strict majority's kept), so its memory is O(d) for d words
 * plus O(n · k) for keys and shares, not O(n · d).
 *
 * <p>Security (honest-but-curious server, static corruption): the server, together with fewer than t of any
 * client's k + 1 share holders, learns only the sum of the honest survivors' inputs, provided the honest survivors'
 * subgraph stays connected; {@link org.fedqlora.fed.secagg.SecurityBounds} bounds both failure events for given
 * (n, k, t, colluding fraction γ, dropout fraction δ). Defaults: k = 2⌈log₂ n⌉ + 2 (complete graph for n ≤ 10,
 * k = 14 for n = 50, 22 for n = 1000), t = ⌊(k + 1)/2⌋ + 1; e.g. n = 1000, γ = δ = 5 %: security failure ≤ 3e-8,
 * aborted round ≤ 8e-7. A malicious server (one that lies about who dropped, or forges messages) is out of scope:
 * there is no consistency-check round and no signature on the advertised keys; each client still refuses to reveal
 * both shares of one client in a session, to answer twice, or to unmask with fewer than t announced survivors.
 *
 * <p>{@link org.fedqlora.fed.secagg.SecAggServer} and {@link org.fedqlora.fed.secagg.SecAggClient} exchange only
 * {@link org.fedqlora.fed.secagg.Message}s (named byte payloads), so any transport can carry them
 * ({@link org.fedqlora.fed.secagg.InProcessChannel} for the simulation). The fed-layer glue:
 * {@link org.fedqlora.fed.secagg.SecureClient} wraps a client, {@link org.fedqlora.fed.secagg.SecureAggregationStrategy}
 * wraps an {@link org.fedqlora.fed.AveragingStrategy}. Depends on org.fedqlora.fed, org.fedqlora.tensor and the JDK.
 */
package org.fedqlora.fed.secagg;
