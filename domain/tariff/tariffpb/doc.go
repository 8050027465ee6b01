// Package tariffpb converts the fare engine's values to the ledger's records
// of them and back: a card's tariff state (tariff.CardState to and from
// ledgerv1.TariffState) and a decision's entries (ledgerv1.Posting). It is
// the one place that knows both: the ledger stores the state without
// importing the engine, and the engine keeps it in plain Go values, without
// the ledger's messages (of messages/ it uses only the API's ServiceKind).
// The two states are field for field the same, so a state survives the
// round trip unchanged.
package tariffpb
