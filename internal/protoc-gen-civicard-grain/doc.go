// Command protoc-gen-civicard-grain generates the grain code of
// messages/grains/v1 (make generate runs it through buf, pinned with `go
// tool` in go.mod): for each service a client (GetXGrainClient), the
// interface a grain implements, the actor that dispatches GrainRequests to
// it, and NewXKind; for an enum named ErrorReason the ErrX and IsX helpers.
//
// # Why a generator of our own
//
// protoactor's protoc-gen-go-grain, which this replaces, keeps each
// service's grain factory in a package variable: NewXKind stores the
// factory there, and every activation of the kind, whichever cluster it
// belongs to, calls whatever factory was stored last. A node builds its
// kinds with its own dependencies (ledger, tariff, metrics), so two nodes
// in one process (a test of a small cluster, say) would have every grain
// of both run on the last node's. Here
// NewXKind captures the factory in the kind's actor producer: each kind
// reaches the dependencies it was made with, and the generated package
// holds no mutable state.
//
// The alternatives were worse to read: dispatching GrainRequests by hand in
// package actors would repeat, per method, the decoding, error mapping and
// method numbering that the client side of the same generated code
// defines, and the upstream code would still declare the global. The
// generated API is otherwise the upstream one (same names and wire
// behaviour), minus what only served the global (XFactory, GetXKind) and
// the reenterable and future method options, which civicard does not use;
// a GrainRequest with an unknown method index is answered with
// INVALID_ARGUMENT instead of being dropped, so the caller does not wait for
// its timeout.
//
// A streaming method is an error: a grain answers one request at a time.
package main
