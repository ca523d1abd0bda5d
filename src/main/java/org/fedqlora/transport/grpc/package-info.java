/**
 * The deployment transport: the federation protocol of {@code src/main/proto/fedqlora/v1/federation.proto} over
 * gRPC with mutual TLS. {@link org.fedqlora.transport.grpc.GrpcTransport} is the server side of the
 * {@link org.fedqlora.fed.Transport} the round loop ({@link org.fedqlora.fed.Server}) drives;
 * {@link org.fedqlora.transport.grpc.FederationNode} is the client side, which dials out and runs any
 * {@link org.fedqlora.fed.Client}. Depends on fed and tensor only (never on a model family); certificates are
 * made with BouncyCastle ({@link org.fedqlora.transport.grpc.Certificates}).
 */
package org.fedqlora.transport.grpc;
