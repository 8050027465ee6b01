package ledger_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// queried is settled with cycle 2 closed too, cycle 1's batch recorded, a
// node listed and a group placed: something for every kind of query to
// find.
func queried(t *testing.T) *ledger.State {
	t.Helper()
	s := settled(t)
	mustApply(t, s,
		cmdClose(ledger.CycleCloseID(2), 2),
		&ledgerv1.Command{Id: ledger.SettlementRecordID(1), Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 1, Currency: "PLN", Institutions: []*civicardv1.SettlementInstitution{{
				InstitutionId: "I1", ChargedMinor: 340, FeeMinor: 5, NetMinor: 335, PayableMinor: 335,
				Shards: []*civicardv1.SettlementShardPart{{Group: "shard-0", AmountMinor: 335, FeeMinor: 5}},
			}}}}}},
		cmdAddNode("add/n1", "n1", "127.0.0.1:7110", "127.0.0.1:7210"),
		cmdPlace("place/1", "shard-0", "n1"),
		cmdAddUser("user/jk", "jk", "operator-admin", "", "token-jk"),
	)
	return s
}

// queryOf returns a query whose oneof holds field with its zero value.
func queryOf(field protoreflect.FieldDescriptor) *replicationv1.Query {
	q := &replicationv1.Query{}
	m := q.ProtoReflect()
	if field.Kind() == protoreflect.MessageKind {
		m.Set(field, m.NewField(field))
	} else {
		m.Set(field, field.Default())
	}
	return q
}

// answerCase is one read of the queried ledger and what it must say.
type answerCase struct {
	name  string
	query *replicationv1.Query
	found bool
	// kind is the field of QueryResult's oneof the answer holds ("" none).
	kind protoreflect.Name
	// settlement: the answer says the open cycle.
	settlement bool
	check      func(*replicationv1.QueryResult) error
}

// answerCases are the rows of TestAnswer, at least one per kind of
// query: each found, and, where a query names something, one that is not.
func answerCases() []answerCase {
	return []answerCase{
		{name: "card_id", query: &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: "C1"}}, found: true, kind: "card", check: func(r *replicationv1.QueryResult) error {
			if c := r.GetCard(); c.GetCardId() != "C1" || c.GetBalanceMinor() != 5000-340-700-100 {
				return fmt.Errorf("card %v", c)
			}
			return nil
		}},
		{name: "card_id unknown", query: &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: "C9"}}},
		{name: "transactions", query: &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: "C1", Limit: 2}}}, found: true, kind: "transactions", check: func(r *replicationv1.QueryResult) error {
			txns := r.GetTransactions().GetTransactions()
			if len(txns) != 2 || txns[0].GetLedgerSequence() <= txns[1].GetLedgerSequence() {
				return fmt.Errorf("%d transactions, want the newest 2 first: %v", len(txns), txns)
			}
			return nil
		}},
		{name: "transactions without a limit", query: &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: "C1"}}}, found: true, kind: "transactions", check: func(r *replicationv1.QueryResult) error {
			if n := len(r.GetTransactions().GetTransactions()); n != 0 {
				return fmt.Errorf("%d transactions, want none", n)
			}
			return nil
		}},
		// A card that does not exist has no transactions, but is not found.
		{name: "transactions of an unknown card", query: &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: "C9", Limit: 10}}}, kind: "transactions", check: func(r *replicationv1.QueryResult) error {
			if n := len(r.GetTransactions().GetTransactions()); n != 0 {
				return fmt.Errorf("%d transactions", n)
			}
			return nil
		}},
		{name: "institution_id", query: &replicationv1.Query{Kind: &replicationv1.Query_InstitutionId{InstitutionId: "I2"}}, found: true, kind: "institution", check: func(r *replicationv1.QueryResult) error {
			if id := r.GetInstitution().GetInstitutionId(); id != "I2" {
				return fmt.Errorf("institution %q", id)
			}
			return nil
		}},
		{name: "institution_id unknown", query: &replicationv1.Query{Kind: &replicationv1.Query_InstitutionId{InstitutionId: "I9"}}},
		{name: "terminal_id", query: &replicationv1.Query{Kind: &replicationv1.Query_TerminalId{TerminalId: "T1"}}, found: true, kind: "terminal", check: func(r *replicationv1.QueryResult) error {
			if tm := r.GetTerminal(); tm.GetTerminalId() != "T1" || tm.GetInstitutionId() != "I1" {
				return fmt.Errorf("terminal %v", tm)
			}
			return nil
		}},
		{name: "terminal_id unknown", query: &replicationv1.Query{Kind: &replicationv1.Query_TerminalId{TerminalId: "T9"}}},
		{name: "cycle_totals", query: &replicationv1.Query{Kind: &replicationv1.Query_CycleTotals{CycleTotals: 1}}, found: true, kind: "cycle_totals", settlement: true, check: func(r *replicationv1.QueryResult) error {
			if ct := r.GetCycleTotals(); ct.GetCycle() != 1 || len(ct.GetInstitutions()) != 2 {
				return fmt.Errorf("cycle totals %v", ct)
			}
			return nil
		}},
		{name: "cycle_totals of the open cycle", query: &replicationv1.Query{Kind: &replicationv1.Query_CycleTotals{CycleTotals: 3}}, settlement: true},
		{name: "cycle_statement", query: &replicationv1.Query{Kind: &replicationv1.Query_CycleStatement{CycleStatement: &replicationv1.CycleStatementQuery{Cycle: 2, InstitutionId: "I2"}}}, found: true, kind: "cycle_statement", settlement: true, check: func(r *replicationv1.QueryResult) error {
			lines := r.GetCycleStatement().GetLines()
			if len(lines) != 1 || lines[0].GetTransactionId() != "tap/offline" || !lines[0].GetOffline() {
				return fmt.Errorf("statement %v, want the offline tap", lines)
			}
			return nil
		}},
		{name: "cycle_statement of an open cycle", query: &replicationv1.Query{Kind: &replicationv1.Query_CycleStatement{CycleStatement: &replicationv1.CycleStatementQuery{Cycle: 3, InstitutionId: "I1"}}}, settlement: true},
		{name: "cycle_statement of an unknown institution", query: &replicationv1.Query{Kind: &replicationv1.Query_CycleStatement{CycleStatement: &replicationv1.CycleStatementQuery{Cycle: 1, InstitutionId: "I9"}}}, settlement: true},
		{name: "settlement_batch", query: &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatch{SettlementBatch: 1}}, found: true, kind: "settlement_batch", settlement: true, check: func(r *replicationv1.QueryResult) error {
			if b := r.GetSettlementBatch(); b.GetCycle() != 1 || b.GetPaid() {
				return fmt.Errorf("batch %v", b)
			}
			return nil
		}},
		{name: "settlement_batch not recorded", query: &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatch{SettlementBatch: 2}}, settlement: true},
		{name: "settlement_batches", query: &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatches{SettlementBatches: 10}}, found: true, kind: "settlement_batches", settlement: true, check: func(r *replicationv1.QueryResult) error {
			if bs := r.GetSettlementBatches().GetBatches(); len(bs) != 1 || bs[0].GetCycle() != 1 {
				return fmt.Errorf("batches %v", bs)
			}
			return nil
		}},
		{name: "settlement_batches, as many as there can be", query: &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatches{SettlementBatches: math.MaxUint32}}, found: true, kind: "settlement_batches", settlement: true, check: func(r *replicationv1.QueryResult) error {
			if n := len(r.GetSettlementBatches().GetBatches()); n != 1 {
				return fmt.Errorf("%d batches", n)
			}
			return nil
		}},
		{name: "ledger_totals", query: &replicationv1.Query{Kind: &replicationv1.Query_LedgerTotals{LedgerTotals: true}}, found: true, kind: "ledger_totals", settlement: true, check: func(r *replicationv1.QueryResult) error {
			lt := r.GetLedgerTotals()
			if lt.GetCyclesClosed() != 2 || lt.GetCards() != 3 || lt.GetLedgerSequence() == 0 ||
				lt.GetFundingMinor()+lt.GetCardsMinor()+lt.GetReceivablesMinor()+lt.GetPayoutsMinor()+lt.GetFeesMinor() != 0 {
				return fmt.Errorf("totals %v", lt)
			}
			return nil
		}},
		{name: "statement_sums", query: &replicationv1.Query{Kind: &replicationv1.Query_StatementSums{StatementSums: 1}}, found: true, kind: "statement_sums", settlement: true, check: func(r *replicationv1.QueryResult) error {
			if sums := r.GetStatementSums().GetInstitutions(); len(sums) != 2 || sums[0].GetInstitutionId() != "I1" || sums[0].GetTransactions() != 1 {
				return fmt.Errorf("sums %v", sums)
			}
			return nil
		}},
		{name: "statement_sums of the open cycle", query: &replicationv1.Query{Kind: &replicationv1.Query_StatementSums{StatementSums: 3}}, settlement: true},
		{name: "cluster_list", query: &replicationv1.Query{Kind: &replicationv1.Query_ClusterList{ClusterList: &replicationv1.ClusterListQuery{}}}, found: true, kind: "cluster_list", check: func(r *replicationv1.QueryResult) error {
			l := r.GetClusterList()
			if len(l.GetNodes()) != 1 || l.GetNodes()[0].GetName() != "n1" || len(l.GetPlacements()) != 1 || l.GetPlacements()[0].GetGroup() != "shard-0" {
				return fmt.Errorf("cluster list %v", l)
			}
			return nil
		}},
		{name: "blocked_cards", query: &replicationv1.Query{Kind: &replicationv1.Query_BlockedCards{BlockedCards: &replicationv1.BlockedCardsQuery{}}}, found: true, kind: "blocked_cards", check: func(r *replicationv1.QueryResult) error {
			if ids := r.GetBlockedCards().GetCardIds(); !slices.Equal(ids, []string{"C3"}) {
				return fmt.Errorf("blocked %v, want [C3]", ids)
			}
			return nil
		}},
		{name: "tariff", query: &replicationv1.Query{Kind: &replicationv1.Query_Tariff{Tariff: &replicationv1.TariffQuery{All: true}}}, found: true, kind: "tariff", check: func(r *replicationv1.QueryResult) error {
			if tr := r.GetTariff(); tr.GetRegion() != nil || len(tr.GetPriceLists()) != 0 {
				return fmt.Errorf("tariff %v, want none set", tr)
			}
			return nil
		}},
		{name: "users", query: &replicationv1.Query{Kind: &replicationv1.Query_Users{Users: true}}, found: true, kind: "users", check: func(r *replicationv1.QueryResult) error {
			if us := r.GetUsers().GetUsers(); len(us) != 1 || us[0].GetName() != "jk" {
				return fmt.Errorf("users %v, want jk", us)
			}
			return nil
		}},
		{name: "user_token_sha256", query: &replicationv1.Query{Kind: &replicationv1.Query_UserTokenSha256{UserTokenSha256: tokenHash("token-jk")}}, found: true, kind: "user", check: func(r *replicationv1.QueryResult) error {
			if u := r.GetUser(); u.GetName() != "jk" {
				return fmt.Errorf("user %v, want jk", u)
			}
			return nil
		}},
		{name: "user_token_sha256 unknown", query: &replicationv1.Query{Kind: &replicationv1.Query_UserTokenSha256{UserTokenSha256: tokenHash("token-nobody")}}},
	}
}

// Every read of the table: found or not, the answer's kind, the open
// cycle on settlement reads only, and what it says.
func TestAnswer(t *testing.T) {
	s := queried(t)
	for _, tc := range answerCases() {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Answer(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if r.GetFound() != tc.found {
				t.Errorf("found %v, want %v", r.GetFound(), tc.found)
			}
			var kind protoreflect.Name
			if f := r.ProtoReflect().WhichOneof(r.ProtoReflect().Descriptor().Oneofs().ByName("kind")); f != nil {
				kind = f.Name()
			}
			if kind != tc.kind {
				t.Fatalf("answer of kind %q, want %q", kind, tc.kind)
			}
			if want := map[bool]uint64{true: 3}[tc.settlement]; r.GetOpenCycle() != want {
				t.Errorf("open cycle %d, want %d", r.GetOpenCycle(), want)
			}
			if tc.check != nil {
				if err := tc.check(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// Every field of Query's oneof, as the generated descriptor has it, is
// answered, and has a row in TestAnswer's table that finds something. A
// kind that Answer lacks fails here.
func TestEveryQueryKindIsAnswered(t *testing.T) {
	s := queried(t)
	fields := (&replicationv1.Query{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	for i := range fields.Len() {
		field := fields.Get(i)
		t.Run(string(field.Name()), func(t *testing.T) {
			if _, err := s.Answer(queryOf(field)); err != nil {
				t.Fatalf("Answer: %v", err)
			}
			if !slices.ContainsFunc(answerCases(), func(tc answerCase) bool {
				return tc.found && tc.query.ProtoReflect().WhichOneof(field.ContainingOneof()) == field
			}) {
				t.Error("TestAnswer has no row that finds this kind")
			}
		})
	}
}

// An empty query, or one whose oneof holds a typed nil, asks nothing.
func TestAnswerWithoutKind(t *testing.T) {
	s := queried(t)
	for name, q := range map[string]*replicationv1.Query{
		"nil":       nil,
		"empty":     {},
		"typed nil": {Kind: (*replicationv1.Query_CardId)(nil)},
	} {
		if r, err := s.Answer(q); !errors.Is(err, ledger.ErrNoQueryKind) || r != nil {
			t.Errorf("%s: %v, %v; want ErrNoQueryKind", name, r, err)
		}
	}
}

// A page of transactions is at most QueryTransactionsMax long, however
// many the query asks for and the card keeps.
func TestAnswerTransactionsMax(t *testing.T) {
	cfg := ledger.DefaultConfig()
	cfg.HistoryMax = ledger.QueryTransactionsMax + 10
	s := newState(t, cfg)
	mustApply(t, s, cmdOpen("open/C1", "C1"))
	for i := range ledger.QueryTransactionsMax + 5 {
		mustApply(t, s, cmdTopUp(fmt.Sprintf("top/%d", i), "C1", 1))
	}
	r, err := s.Answer(&replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: "C1", Limit: math.MaxUint32}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.GetTransactions().GetTransactions()); n != ledger.QueryTransactionsMax {
		t.Fatalf("%d transactions, want %d", n, ledger.QueryTransactionsMax)
	}
}

// The operator's totals are the ledger's sums, with its sequence.
func TestLedgerTotals(t *testing.T) {
	s := queried(t)
	sums := s.Totals()
	want := &civicardv1.LedgerTotals{
		FundingMinor: sums.FundingMinor, CardsMinor: sums.CardsMinor, ReceivablesMinor: sums.ReceivablesMinor,
		PayoutsMinor: sums.PayoutsMinor, FeesMinor: sums.FeesMinor,
		Cards: int64(sums.Cards), CyclesClosed: uint64(sums.CyclesClosed), LedgerSequence: s.Sequence(),
	}
	if got := s.LedgerTotals(); !proto.Equal(got, want) {
		t.Fatalf("LedgerTotals %v, want %v", got, want)
	}
}
