package org.fedqlora.transport.grpc;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.fedqlora.UserException;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

/**
 * The certificates of a federation, made with BouncyCastle: a CA, a server certificate (SANs: the given hosts,
 * localhost and 127.0.0.1) and one client certificate per client (CN client-0, client-1, ...: the client
 * identities). Keys are ECDSA P-256, written as PKCS#8 PEM with mode 0600.
 * <pre>
 * ca.crt, ca.key                 the federation CA (keep ca.key offline; every machine gets ca.crt)
 * server.crt, server.key         for the coordinator
 * client-i.crt, client-i.key     for client i
 * </pre>
 */
public final class Certificates {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SIGNATURE = "SHA256withECDSA";

    private Certificates() {
    }

    /** A key pair and its certificate. */
    public record Issued(KeyPair keys, X509CertificateHolder cert) {
    }

    /** The common name of client {@code i} of {@code n}: client-0 .. client-(n-1), zero-padded like simulation ids. */
    public static String clientName(int i, int n) {
        return String.format("client-%0" + String.valueOf(Math.max(1, n - 1)).length() + "d", i);
    }

    /** Writes a CA, a server certificate and {@code clients} client certificates into {@code out}. */
    public static List<Path> writeFederation(Path out, int clients, List<String> hosts, Duration validity) {
        if (clients < 1) {
            throw new UserException("--clients must be at least 1, got " + clients);
        }
        try {
            Files.createDirectories(out);
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent()) {
                    throw new UserException(out + " is not empty: choose a new --out (existing keys are never "
                            + "overwritten)");
                }
            }
            List<Path> written = new ArrayList<>();
            Issued ca = ca("fedqlora federation CA", validity);
            written.add(writePem(out.resolve("ca.crt"), ca.cert(), false));
            written.add(writePem(out.resolve("ca.key"), ca.keys(), true));
            List<String> names = new ArrayList<>(hosts);
            if (!names.contains("localhost")) {
                names.add("localhost");
            }
            if (!names.contains("127.0.0.1")) {
                names.add("127.0.0.1");
            }
            Issued server = issue(ca, "fedqlora-server", names, true, validity);
            written.add(writePem(out.resolve("server.crt"), server.cert(), false));
            written.add(writePem(out.resolve("server.key"), server.keys(), true));
            for (int i = 0; i < clients; i++) {
                String cn = clientName(i, clients);
                Issued c = issue(ca, cn, List.of(), false, validity);
                written.add(writePem(out.resolve(cn + ".crt"), c.cert(), false));
                written.add(writePem(out.resolve(cn + ".key"), c.keys(), true));
            }
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write certificates to " + out + ": " + e.getMessage(), e);
        }
    }

    /** A self-signed CA certificate. */
    public static Issued ca(String name, Duration validity) {
        KeyPair keys = newKeys();
        X500Name subject = new X500Name("CN=" + name);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(subject, subject, keys, validity)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new Issued(keys, b.build(signer(keys)));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a CA certificate", e);
        }
    }

    /** A certificate signed by {@code ca}: a TLS server certificate with SANs, or a TLS client certificate. */
    public static Issued issue(Issued ca, String commonName, List<String> sans, boolean server, Duration validity) {
        KeyPair keys = newKeys();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(ca.cert().getSubject(), new X500Name("CN=" + commonName), keys,
                    validity)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true,
                            new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                            server ? KeyPurposeId.id_kp_serverAuth : KeyPurposeId.id_kp_clientAuth))
                    .addExtension(Extension.authorityKeyIdentifier, false,
                            ext.createAuthorityKeyIdentifier(ca.keys().getPublic()));
            if (!sans.isEmpty()) {
                List<GeneralName> names = new ArrayList<>();
                for (String h : sans) {
                    names.add(isIpLiteral(h) ? new GeneralName(GeneralName.iPAddress, h)
                            : new GeneralName(GeneralName.dNSName, h));
                }
                b.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(names.toArray(GeneralName[]::new)));
            }
            return new Issued(keys, b.build(signer(ca.keys())));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot issue a certificate for " + commonName, e);
        }
    }

    /** Writes a certificate or a private key (PKCS#8) as PEM; keys get mode 0600 from the start. */
    public static Path writePem(Path file, Object object, boolean secret) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(text)) {
            if (object instanceof KeyPair kp) {
                w.writeObject(new JcaPKCS8Generator(kp.getPrivate(), null));
            } else {
                w.writeObject(object);
            }
        }
        byte[] bytes = text.toString().getBytes(StandardCharsets.US_ASCII);
        try {
            if (secret) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } else {
                Files.createFile(file);
            }
        } catch (FileAlreadyExistsException e) {
            throw new UserException(file + " already exists; certificates and keys are never overwritten");
        } catch (UnsupportedOperationException e) {
            Files.createFile(file); // not a POSIX file system
        }
        Files.write(file, bytes);
        return file;
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys, Duration validity) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, keys.getPublic());
    }

    private static ContentSigner signer(KeyPair keys) {
        try {
            return new JcaContentSignerBuilder(SIGNATURE).build(keys.getPrivate());
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("no " + SIGNATURE + " signer", e);
        }
    }

    private static KeyPair newKeys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no EC P-256 key generator", e);
        }
    }

    private static boolean isIpLiteral(String h) {
        if (!h.matches("[0-9.]+") && !h.contains(":")) {
            return false;
        }
        try {
            InetAddress.getByName(h);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
