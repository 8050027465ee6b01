package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"civicard/actors"
	"civicard/cluster/nodecert"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
)

// A node's actor port refuses a client without a certificate of the
// cluster's CA, answers the remoting methods the library leaves
// unimplemented (their handlers panic) with Unimplemented, and the node
// keeps running and serving its grains.
func TestActorPortRefusesUnservedRemotingMethods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := DefaultEmbeddedConfig(t.TempDir())
	cfg.Settlement.Cycle = 0
	cfg.Logger = quietLogger()
	node, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()

	addr := node.Cluster.ActorSystem.Address()
	// Without a certificate of the cluster's CA nothing is served.
	plain, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	refused, cancelRefused := context.WithTimeout(ctx, 10*time.Second)
	defer cancelRefused()
	_, err = remote.NewRemotingClient(plain).ListProcesses(refused, &remote.ListProcessesRequest{Pattern: "*"})
	wantCode(t, "ListProcesses in the clear", err, codes.Unavailable)

	// A peer of the cluster's (the node's own certificate) is answered,
	// and not with a panic.
	src, err := nodecert.Open(cfg.DataDir, EmbeddedName)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(src.TLSConfig())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := remote.NewRemotingClient(conn)
	call, cancelCall := context.WithTimeout(ctx, 10*time.Second)
	defer cancelCall()
	_, err = client.ListProcesses(call, &remote.ListProcessesRequest{Pattern: "*"})
	wantCode(t, "ListProcesses", err, codes.Unimplemented)
	_, err = client.GetProcessDiagnostics(call, &remote.GetProcessDiagnosticsRequest{})
	wantCode(t, "GetProcessDiagnostics", err, codes.Unimplemented)
	err = conn.Invoke(call, "/grpc.health.v1.Health/Check", &remote.ListProcessesRequest{}, &remote.ListProcessesResponse{})
	wantCode(t, "an unknown service", err, codes.Unimplemented)

	// The node still serves: its grains answer a read of the ledger.
	if err := node.Ready(); err != nil {
		t.Fatalf("node not ready after the calls: %v", err)
	}
	// A card grain answers (the card is unknown: its answer is an error of
	// the grain's, not a timeout).
	_, err = grainsv1.GetCardGrainClient(node.Cluster, "0000000000000000").
		GetCard(&civicardv1.GetCardRequest{CardId: "0000000000000000"}, actors.CallOptions(ctx, 5*time.Second)...)
	var grainErr *protocluster.GrainErrorResponse
	if err != nil && !errors.As(err, &grainErr) {
		t.Fatalf("card grain after the calls: %v", err)
	}
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}
