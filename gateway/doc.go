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
//
// Who may call what is one table (roles.go): every procedure names the
// roles allowed to call it (operator admin, operator support, auditor,
// institution manager and cashier, each of those two within one
// institution, cardholder within its own card), or says that the caller is
// a terminal, checked by its own credential in the terminal's grain. One
// interceptor authenticates the bearer token, checks the row and its scope
// before any handler runs, and writes the authenticated principal into the
// request's operator field, so the audit trail names who was authenticated
// rather than who the caller said it was. A procedure without a row is
// refused. The operator token file is the first operator admin, the way in
// before any user exists. Users are registry records (users.go): their API
// tokens are checked by SHA-256 at the registry's leader on every call, so a
// revocation holds as soon as it is committed; a member without a ledger
// (`civicard gateway`) has no registry to ask and takes the operator token
// only. An irreversible change (block, replace or close a card, revoke a
// terminal or a user) needs a reason.
//
// Input is strict (strict.go): a field the schema does not know is refused,
// in JSON (a codec that keeps protojson's unknown-field error, where
// connect's own drops the field) and in binary protobuf (an interceptor
// looks for unknown fields at every depth); every text field must be
// printable UTF-8 of bounded length; a body must arrive within
// Config.BodyReadTimeout and fit Config.BodyMaxBytes; a body that cannot be
// read or decoded is the client's error (4xx), never the server's. A tap
// from an unknown terminal and one with a wrong credential get the same
// answer, so terminal ids cannot be found by trying.
//
// The operators' registry writes (AdminService: institutions, terminals,
// the region and the price lists) go to the registry through the node
// (RegistryAdmin) rather than a grain, as settlement does. A region or
// price list file is decoded and validated by the fare engine here, at the
// edge, before it is proposed (admin_registry.go): the ledger holds the
// records to their bounds but does not run the engine, so that what it
// accepts does not depend on the engine's version.
package gateway
