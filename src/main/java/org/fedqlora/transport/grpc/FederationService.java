package org.fedqlora.transport.grpc;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.fedqlora.transport.grpc.proto.FederationGrpc;
import org.fedqlora.transport.grpc.proto.JoinReply;
import org.fedqlora.transport.grpc.proto.JoinRequest;
import org.fedqlora.transport.grpc.proto.LeaveReply;
import org.fedqlora.transport.grpc.proto.LeaveRequest;
import org.fedqlora.transport.grpc.proto.PullRequest;
import org.fedqlora.transport.grpc.proto.PushReply;
import org.fedqlora.transport.grpc.proto.ResultChunk;
import org.fedqlora.transport.grpc.proto.TaskChunk;

/** The gRPC service: translates each call into {@link Sessions}, with the caller's certificate name. */
final class FederationService extends FederationGrpc.FederationImplBase {
    private final Sessions sessions;

    FederationService(Sessions sessions) {
        this.sessions = sessions;
    }

    @Override
    public void join(JoinRequest request, StreamObserver<JoinReply> reply) {
        reply.onNext(sessions.join(request, PeerIdentity.commonName()));
        reply.onCompleted();
    }

    @Override
    public void pullTask(PullRequest request, StreamObserver<TaskChunk> reply) {
        sessions.pull(request, (ServerCallStreamObserver<TaskChunk>) reply, PeerIdentity.commonName());
    }

    @Override
    public StreamObserver<ResultChunk> pushResult(StreamObserver<PushReply> reply) {
        return sessions.push((ServerCallStreamObserver<PushReply>) reply, PeerIdentity.commonName());
    }

    @Override
    public void leave(LeaveRequest request, StreamObserver<LeaveReply> reply) {
        sessions.leave(request, PeerIdentity.commonName());
        reply.onNext(LeaveReply.getDefaultInstance());
        reply.onCompleted();
    }
}
