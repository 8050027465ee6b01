// Package gateway is civicard's only door from outside. It serves the public
// API of messages/civicard/v1 (TerminalService for terminals; CardService,
// SettlementService, TerminalRegistryService and AdminService for the back
// office and the operators) over gRPC, gRPC-Web and Connect/JSON from one
// set of handlers, plus /healthz and /metrics.
//
// The gateway checks shape and credentials, stamps operator writes with its
// clock, and turns each request into a grain call; it holds no state of its
// own. Every bad request gets a clear error (a Connect/gRPC code with a
// reason), is counted, and never reaches the ledger. Grain error reasons are
// mapped to codes in one place (status.go).
package gateway
