package ledger

import (
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// The reads a query may ask for at once: a page of a card's transactions
// and a list of batches. A larger request is answered with this many.
const (
	QueryTransactionsMax = 1000
	QueryBatchesMax      = 100_000
)

var (
	// ErrNoQueryKind: the query's oneof is empty (or a typed nil).
	ErrNoQueryKind = errors.New("query has no kind")
	// ErrUnknownQueryKind: the query asks for something Answer does not
	// know.
	ErrUnknownQueryKind = errors.New("query of no known kind")
)

// queryKindOneof is Query's oneof, found once for WhichOneof.
var queryKindOneof = (&replicationv1.Query{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")

// Answer is what the ledger says to a read: the whole meaning of every
// kind of Query, so that whoever carries queries to a ledger (the Raft
// layer, at a group's leader) knows none of them. Found is false when the
// card, institution or terminal, the closed cycle, the statement or the
// batch asked for does not exist; the settlement reads also say the open
// cycle. An empty query or one of a kind Answer lacks is an error wrapping
// ErrNoQueryKind or ErrUnknownQueryKind, and reads nothing.
//
// Like the readers it calls, Answer runs under the caller's lock, and the
// messages in its result may be shared with the ledger: marshal them,
// never mutate them.
func (s *State) Answer(q *replicationv1.Query) (*replicationv1.QueryResult, error) {
	field := q.ProtoReflect().WhichOneof(queryKindOneof)
	if field == nil {
		return nil, ErrNoQueryKind
	}
	qr := new(replicationv1.QueryResult)
	switch k := q.GetKind().(type) {
	case *replicationv1.Query_CardId:
		if c, ok := s.Card(k.CardId); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_Card{Card: c}
		}
	case *replicationv1.Query_Transactions:
		cardID := k.Transactions.GetCardId()
		limit := min(int(k.Transactions.GetLimit()), QueryTransactionsMax)
		txns := s.Transactions(cardID, k.Transactions.GetBeforeSequence(), limit)
		_, found := s.Card(cardID)
		qr.Found, qr.Kind = found, &replicationv1.QueryResult_Transactions{Transactions: &replicationv1.TransactionList{Transactions: txns}}
	case *replicationv1.Query_InstitutionId:
		if i, ok := s.Institution(k.InstitutionId); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_Institution{Institution: i}
		}
	case *replicationv1.Query_TerminalId:
		if t, ok := s.Terminal(k.TerminalId); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_Terminal{Terminal: t}
		}
	case *replicationv1.Query_CycleTotals:
		qr.OpenCycle = s.OpenCycle()
		if t, ok := s.CycleTotals(k.CycleTotals); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_CycleTotals{CycleTotals: t}
		}
	case *replicationv1.Query_CycleStatement:
		qr.OpenCycle = s.OpenCycle()
		// A cycle not closed, an unknown institution or a statement over
		// StatementLinesMax: no statement to give.
		if lines, err := s.Statement(k.CycleStatement.GetCycle(), k.CycleStatement.GetInstitutionId()); err == nil {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_CycleStatement{CycleStatement: &replicationv1.CycleStatementList{Lines: lines}}
		}
	case *replicationv1.Query_SettlementBatch:
		qr.OpenCycle = s.OpenCycle()
		if b, ok := s.Batch(k.SettlementBatch); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_SettlementBatch{SettlementBatch: b}
		}
	case *replicationv1.Query_SettlementBatches:
		qr.OpenCycle = s.OpenCycle()
		limit := min(int(k.SettlementBatches), QueryBatchesMax)
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_SettlementBatches{SettlementBatches: &replicationv1.SettlementBatchList{Batches: s.Batches(limit)}}
	case *replicationv1.Query_LedgerTotals:
		qr.OpenCycle = s.OpenCycle()
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_LedgerTotals{LedgerTotals: s.LedgerTotals()}
	case *replicationv1.Query_StatementSums:
		qr.OpenCycle = s.OpenCycle()
		if sums, err := s.StatementSums(k.StatementSums); err == nil {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_StatementSums{StatementSums: sums}
		}
	case *replicationv1.Query_ClusterList:
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_ClusterList{ClusterList: &replicationv1.ClusterList{
			Nodes: s.ClusterNodes(), Placements: s.Placements(),
		}}
	case *replicationv1.Query_BlockedCards:
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_BlockedCards{BlockedCards: &replicationv1.BlockedCards{CardIds: s.BlockedCards()}}
	case *replicationv1.Query_Tariff:
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_Tariff{Tariff: s.Tariff(k.Tariff.GetInstitutionId(), k.Tariff.GetAll())}
	case *replicationv1.Query_Users:
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_Users{Users: &ledgerv1.UserList{Users: s.Users()}}
	case *replicationv1.Query_UserTokenSha256:
		if u, ok := s.UserByToken(k.UserTokenSha256); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_User{User: u}
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnknownQueryKind, field.Name())
	}
	return qr, nil
}

// LedgerTotals are the ledger's account sums and counts as an operator
// sees them, with its sequence.
func (s *State) LedgerTotals() *civicardv1.LedgerTotals {
	t := s.Totals()
	return &civicardv1.LedgerTotals{
		FundingMinor:     t.FundingMinor,
		CardsMinor:       t.CardsMinor,
		ReceivablesMinor: t.ReceivablesMinor,
		Cards:            int64(t.Cards),
		LedgerSequence:   s.Sequence(),
		PayoutsMinor:     t.PayoutsMinor,
		FeesMinor:        t.FeesMinor,
		CyclesClosed:     uint64(t.CyclesClosed),
	}
}
