package org.fedqlora.transport.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;

/**
 * Puts the common name of the caller's verified TLS client certificate into the call's context (null without
 * TLS). The TLS layer has already refused callers without a certificate of the federation CA.
 */
final class PeerIdentity implements ServerInterceptor {
    private static final Context.Key<String> COMMON_NAME = Context.key("fedqlora-peer-cn");

    static String commonName() {
        return COMMON_NAME.get();
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                                                       ServerCallHandler<Q, A> next) {
        SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        String cn = null;
        if (ssl != null) {
            try {
                Certificate[] chain = ssl.getPeerCertificates();
                if (chain.length > 0 && chain[0] instanceof X509Certificate x) {
                    cn = commonName(x);
                }
            } catch (SSLPeerUnverifiedException e) {
                cn = null;
            }
        }
        return Contexts.interceptCall(Context.current().withValue(COMMON_NAME, cn), call, headers, next);
    }

    /** The CN of a certificate's subject (the client identity), or the whole subject if it has none. */
    static String commonName(X509Certificate cert) {
        X500Name name = new X500Name(cert.getSubjectX500Principal().getName());
        RDN[] cns = name.getRDNs(BCStyle.CN);
        return cns.length == 0 ? name.toString() : IETFUtils.valueToString(cns[0].getFirst().getValue());
    }
}
