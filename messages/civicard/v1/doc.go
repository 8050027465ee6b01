// Package civicardv1 is civicard's public API and the vocabulary it shares
// with the ledger, generated from the .proto files beside this one:
// api.proto (TerminalService, TerminalRegistryService, CardService),
// settlement.proto (SettlementService), admin.proto (AdminService) and
// types.proto (money, cards, institutions, terminals, transactions). The
// gateway serves the services (their Connect handlers and clients are in
// civicardv1connect); the grains, the ledger and the domain use the types.
//
// Every .pb.go file is generated: change a .proto file and run `make
// generate` (the generators are pinned in go.mod); `make check-generated`
// fails when the committed code is stale. This file is written by hand, so
// that `go doc` has something to say.
package civicardv1
