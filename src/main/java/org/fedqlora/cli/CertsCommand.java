package org.fedqlora.cli;

import org.fedqlora.transport.grpc.Certificates;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fedqlora certs}: the certificates of a federation (CA, server, clients) with BouncyCastle. */
@Command(name = "certs", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Make a federation CA, a server certificate and N client certificates (ECDSA P-256, PEM).",
                "Private keys are written with mode 0600; nothing existing is overwritten."},
        footer = {"", "Examples:",
                "  fedqlora certs --out pki --clients 3 --hosts coordinator.example.org,10.0.0.5",
                "",
                "Files: ca.crt (give to every machine), ca.key (keep offline), server.crt/.key (the coordinator),",
                "client-I.crt/.key (client I; its common name client-I is its identity in the federation)."})
public final class CertsCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "New or empty folder for the files.")
    Path out;
    @Option(names = "--clients", required = true, paramLabel = "N", description = "Number of client certificates.")
    int clients;
    @Option(names = "--hosts", split = ",", paramLabel = "a,b", description = "Server host names or IPs for its "
            + "certificate (localhost and 127.0.0.1 are always added).")
    List<String> hosts = new ArrayList<>();
    @Option(names = "--days", defaultValue = "365", description = "Validity in days (default 365).")
    int days;

    @Override
    public Integer call() {
        List<Path> files = Certificates.writeFederation(out, clients, hosts, Duration.ofDays(days));
        System.out.println("wrote " + files.size() + " files to " + out + " (keys with mode 0600):");
        files.forEach(f -> System.out.println("  " + f.getFileName()));
        return 0;
    }
}
