package ledger

import (
	"sort"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// State is the ledger: accounts, the entities that own them, and the results
// of every applied command. It is not safe for concurrent use; the caller
// (the Raft FSM) serialises Apply, the readers and Freeze with its own lock.
type State struct {
	cfg Config

	// sequence is the ledger sequence of the last stored result.
	// Invariant: sequence == uint64(len(log)); nothing is pruned yet.
	sequence uint64

	// fundingMinor is the funding account: top-ups are paid from it, so it
	// goes negative as money comes into the system.
	fundingMinor int64
	// cardsMinor and receivablesMinor are running sums of the card and the
	// receivable accounts, kept so conservation is checked in O(1) on every
	// transfer. Check recomputes them from the accounts.
	// Invariant: fundingMinor + cardsMinor + receivablesMinor +
	// payoutsMinor + feesMinor == 0.
	cardsMinor       int64
	receivablesMinor int64
	// payoutsMinor and feesMinor are the accounts payouts move money to:
	// what was paid out to the institutions, and the operator's fees.
	payoutsMinor int64
	feesMinor    int64

	seeds        map[uint64]struct{}
	institutions map[string]*institution
	// terminals hold records cloned at registration and never mutated.
	terminals map[string]*civicardv1.Terminal
	cards     map[string]*card

	// results is the idempotency set: the first result of every stored
	// command, by command id. A stored Result is never mutated.
	results map[string]*ledgerv1.Result
	// log holds the same results in ledger order: log[i] has sequence i+1.
	// It is append-only, so a Frozen may share its prefix.
	log []storedResult

	// Settlement (cycle.go, payout.go). postings and cycles are
	// append-only, shared with a Frozen like log.
	postings []posting
	cycles   []*ledgerv1.CycleTotals
	// batches are the settlement batches recorded here (in the registry),
	// batches[i] of cycle i+1. An element is replaced, never mutated.
	batches []*civicardv1.SettlementBatch

	// Only while Restore runs: the institutions in id order (postings name
	// them by index) and the header's settled amounts.
	restoringInstitutions []*institution
	restoringSettled      []int64
	// cluster is the node list and replica placement (nodes.go).
	cluster clusterState
	// tariff is the region and the price lists (tariff_registry.go).
	tariff tariffState
	// users are the API's users (users.go).
	users userState
	// auditChain is the audit chain (audit_chain.go), append-only like
	// log, shared with a Frozen.
	auditChain []*ledgerv1.AuditLink
}

// institution is an institution and its receivable account.
type institution struct {
	// rec is cloned at registration and never mutated.
	rec *civicardv1.Institution
	// receivableMinor may go below zero: a correction or a payout's fee can
	// take more than the institution earned since its last payout.
	// Invariant: receivableMinor == Σ its postings - settledMinor.
	receivableMinor int64
	// settledMinor is what payouts moved out of the receivable (payout and
	// fee).
	settledMinor int64
}

// card is an e-purse. It is a plain struct, not a CardState, so Freeze can
// copy it by value.
type card struct {
	id         string
	kind       civicardv1.CardKind
	status     civicardv1.CardStatus
	holderName string
	// Invariant: 0 <= balanceMinor <= cfg.BalanceMaxMinor, or up to one
	// purchase more after a refund (transfer.refund).
	balanceMinor int64
	// debtMinor is what offline taps cost beyond the balance; the funding
	// account paid it to the institutions, top-ups repay it.
	// Invariant: 0 <= debtMinor <= cfg.BalanceMaxMinor, and debtMinor > 0
	// only with balanceMinor == 0 after a top-up (repayment comes first).
	debtMinor int64
	// version increases with every change of the card's ledger state; a
	// charge names the version it was decided on.
	// Invariant: 1 <= version <= State.sequence.
	version uint64
	// history is the card's newest transactions, oldest first, at most
	// cfg.HistoryMax of them. Shared with the stored results.
	history []*civicardv1.Transaction
	// pricing is the fare engine's state of the card, nil before its first
	// priced command. Never mutated: a command replaces it whole, so
	// Freeze and the stored results may share it.
	tariff *ledgerv1.TariffState
	// expiresUnixMs: a personalised card is declined from then on; 0 none.
	expiresUnixMs int64
	// replacedBy and replaces link a replaced card and its replacement.
	replacedBy, replaces string
}

type storedResult struct {
	id     string
	result *ledgerv1.Result
}

// Totals sums the accounts and counts the records. It is kept up to date by
// Apply, so reading it is O(1).
type Totals struct {
	FundingMinor     int64
	CardsMinor       int64
	ReceivablesMinor int64
	PayoutsMinor     int64
	FeesMinor        int64
	CyclesClosed     int
	Cards            int
	Institutions     int
	Terminals        int
	Results          int
}

// New returns an empty ledger. It fails only on an invalid Config.
func New(cfg Config) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &State{
		cfg:          cfg.withDefaults(),
		seeds:        make(map[uint64]struct{}),
		institutions: make(map[string]*institution),
		terminals:    make(map[string]*civicardv1.Terminal),
		cards:        make(map[string]*card),
		results:      make(map[string]*ledgerv1.Result),
	}, nil
}

// Config returns the configuration in force, defaults filled in.
func (s *State) Config() Config { return s.cfg }

// Card returns a copy of the card's ledger state.
func (s *State) Card(id string) (*ledgerv1.CardState, bool) {
	c, ok := s.cards[id]
	if !ok {
		return nil, false
	}
	return c.state(), true
}

// Institution returns a copy of the institution as registered.
func (s *State) Institution(id string) (*civicardv1.Institution, bool) {
	inst, ok := s.institutions[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(inst.rec).(*civicardv1.Institution), true
}

// BlockedCards returns the ids of the blocked and the closed cards, sorted:
// the terminals' denylist. It walks every card: call it rarely (terminals
// refresh their denylist by version).
func (s *State) BlockedCards() []string {
	var out []string
	for id, c := range s.cards {
		if c.status == civicardv1.CardStatus_CARD_STATUS_BLOCKED || c.status == civicardv1.CardStatus_CARD_STATUS_CLOSED {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Terminal returns a copy of the terminal as registered.
func (s *State) Terminal(id string) (*civicardv1.Terminal, bool) {
	t, ok := s.terminals[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(t).(*civicardv1.Terminal), true
}

// Transactions lists up to limit of the card's kept transactions, newest
// first, starting below beforeSequence (0: from the newest). To page, pass
// the ledger_sequence of the last one listed.
//
// The Transactions are shared with the stored results and must not be
// mutated; the slice is the caller's.
func (s *State) Transactions(cardID string, beforeSequence uint64, limit int) []*civicardv1.Transaction {
	c, ok := s.cards[cardID]
	if !ok || limit <= 0 {
		return nil
	}
	end := len(c.history)
	if beforeSequence != 0 {
		end = sort.Search(len(c.history), func(i int) bool {
			return c.history[i].GetLedgerSequence() >= beforeSequence
		})
	}
	n := min(limit, end)
	out := make([]*civicardv1.Transaction, 0, n)
	for i := end - 1; i >= end-n; i-- {
		out = append(out, c.history[i])
	}
	return out
}

// Seeded reports whether MarkSeeded recorded the seed.
func (s *State) Seeded(seed uint64) bool {
	_, ok := s.seeds[seed]
	return ok
}

// Sequence returns the ledger sequence of the last stored result (0: none).
func (s *State) Sequence() uint64 { return s.sequence }

// Totals returns the account sums and record counts.
func (s *State) Totals() Totals {
	return Totals{
		FundingMinor:     s.fundingMinor,
		CardsMinor:       s.cardsMinor,
		ReceivablesMinor: s.receivablesMinor,
		PayoutsMinor:     s.payoutsMinor,
		FeesMinor:        s.feesMinor,
		CyclesClosed:     len(s.cycles),
		Cards:            len(s.cards),
		Institutions:     len(s.institutions),
		Terminals:        len(s.terminals),
		Results:          len(s.results),
	}
}

// Receivable returns what the ledger owes the institution (0 if unknown).
func (s *State) Receivable(institutionID string) int64 {
	if inst, ok := s.institutions[institutionID]; ok {
		return inst.receivableMinor
	}
	return 0
}

// state returns a fresh CardState; callers may keep it.
func (c *card) state() *ledgerv1.CardState {
	return &ledgerv1.CardState{
		CardId:        c.id,
		Kind:          c.kind,
		Status:        c.status,
		BalanceMinor:  c.balanceMinor,
		Version:       c.version,
		HolderName:    c.holderName,
		DebtMinor:     c.debtMinor,
		Tariff:        c.tariff,
		ExpiresUnixMs: c.expiresUnixMs,
		ReplacedBy:    c.replacedBy,
		Replaces:      c.replaces,
	}
}

// appendHistory appends tx to the card's list, dropping the oldest beyond historyMax. The
// front is resliced away and append reallocates now and then, so the cost
// stays amortised O(1) and the memory below 2*historyMax pointers.
func (c *card) appendHistory(tx *civicardv1.Transaction, historyMax int) {
	if len(c.history) >= historyMax {
		c.history = c.history[len(c.history)-historyMax+1:]
	}
	c.history = append(c.history, tx)
}
