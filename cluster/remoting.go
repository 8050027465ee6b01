package cluster

import (
	"context"
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// remotingReceiveMethod is the one gRPC method of protoactor's remoting
// service that carries actor messages between members: every grain call,
// gossip and activation goes through it.
const remotingReceiveMethod = "/remote.Remoting/Receive"

// remotingServerOptions guard the actor port. With tlsCfg (the node's
// certificate, certs.go) the port is mutual TLS like the Raft port: a peer
// without a certificate of the cluster's CA is refused in the handshake.
//
// The interceptors: protoactor serves, beside
// Receive, the unary methods ListProcesses and GetProcessDiagnostics, whose
// handlers are `panic("implement me")`: a gRPC server does not recover a
// handler's panic, so one call from anyone who reaches the port would end
// the node. civicard calls neither, so every unary call is refused, and a
// stream is served only if it is Receive. Other services and methods are
// refused by gRPC itself (Unimplemented) before any handler runs.
func remotingServerOptions(tlsCfg *tls.Config) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.UnaryInterceptor(refuseUnaryRemoting),
		grpc.StreamInterceptor(onlyRemotingReceive),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	return opts
}

// remotingDialOptions are how the member dials the others' actor ports:
// with the node's certificate, or (without tlsCfg) in the clear, the
// library's default.
func remotingDialOptions(tlsCfg *tls.Config) []grpc.DialOption {
	if tlsCfg == nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg))}
}

func refuseUnaryRemoting(_ context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	return nil, status.Errorf(codes.Unimplemented, "%s is not served by a civicard node", info.FullMethod)
}

func onlyRemotingReceive(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != remotingReceiveMethod {
		return status.Errorf(codes.Unimplemented, "%s is not served by a civicard node", info.FullMethod)
	}
	return handler(srv, ss)
}
