package sim

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"civicard/cluster/replication"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// LedgerTapper taps straight into a Raft group on disk (replication.Group),
// as a card grain would but without HTTP and actors: the Raft-only ceiling
// that civicard's full path is measured against.
type LedgerTapper struct {
	group     *replication.Group
	fareMinor int64

	mu sync.Mutex
	// versions is the last version of each card seen, as grains cache it.
	versions map[string]uint64
}

// ceilingInstitution is the one institution the ceiling charges to.
const ceilingInstitution = "CEILING"

// NewLedgerTapper opens a one-voter group in dir with the given cards, each
// holding the maximum balance.
func NewLedgerTapper(ctx context.Context, dir string, cards []string, fareMinor int64) (*LedgerTapper, error) {
	cfg := replication.DefaultConfig()
	cfg.Dir, cfg.NodeID = dir, "ceiling"
	cfg.Logger = slog.New(slog.DiscardHandler)
	group, err := replication.OpenSingle(ctx, cfg)
	if err != nil {
		return nil, err
	}
	commands := []*ledgerv1.Command{{Id: "ceiling/inst", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
		Institution: &civicardv1.Institution{InstitutionId: ceilingInstitution, Name: "Ceiling", Kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
			Services: []*civicardv1.Service{{Code: "RIDE", Name: "Ride", UnitPriceMinor: fareMinor}}},
	}}}}
	for _, card := range cards {
		commands = append(commands,
			&ledgerv1.Command{Id: "ceiling/card/" + card, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: card, Kind: civicardv1.CardKind_CARD_KIND_BEARER}}},
			&ledgerv1.Command{Id: "ceiling/topup/" + card, Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: card, AmountMinor: cfg.Ledger.BalanceMaxMinor}}})
	}
	results, err := group.ProposeAll(ctx, commands)
	if err == nil {
		for i, res := range results {
			if res.GetStatus() != ledgerv1.Status_STATUS_OK {
				err = fmt.Errorf("sim: ceiling setup %s: %s %s", commands[i].GetId(), res.GetStatus(), res.GetError())
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sim: ceiling: %w (close: %v)", err, group.Close())
	}
	t := &LedgerTapper{group: group, fareMinor: fareMinor, versions: map[string]uint64{}}
	for _, res := range results {
		if card := res.GetCard(); card != nil {
			t.versions[card.GetCardId()] = card.GetVersion()
		}
	}
	return t, nil
}

// staleRetryMax bounds the decisions of one tap when another worker changed
// the same card meanwhile.
const staleRetryMax = 5

func (t *LedgerTapper) Tap(ctx context.Context, worker int, sequence uint64, cardID string, at time.Time) (*civicardv1.TapResponse, error) {
	for range staleRetryMax {
		t.mu.Lock()
		version := t.versions[cardID]
		t.mu.Unlock()
		res, err := t.group.Propose(ctx, &ledgerv1.Command{
			Id: fmt.Sprintf("tap/W%d/%d", worker, sequence),
			Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
				CardId: cardID, ExpectedVersion: version, AmountMinor: t.fareMinor, InstitutionId: ceilingInstitution,
				TerminalId: fmt.Sprintf("W%d", worker), TerminalSequence: sequence, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: at.UnixMilli(),
			}},
		})
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		if v := res.GetCard().GetVersion(); v > t.versions[cardID] {
			t.versions[cardID] = v
		}
		t.mu.Unlock()
		switch res.GetStatus() {
		case ledgerv1.Status_STATUS_STALE_VERSION:
			continue
		case ledgerv1.Status_STATUS_OK:
			return &civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_ACCEPTED, Balance: res.GetTransaction().GetBalanceAfter()}, nil
		case ledgerv1.Status_STATUS_DECLINED:
			return &civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_DECLINED, DeclineReason: res.GetTransaction().GetDeclineReason()}, nil
		default:
			return nil, fmt.Errorf("sim: ceiling tap: %s %s", res.GetStatus(), res.GetError())
		}
	}
	return nil, fmt.Errorf("sim: ceiling tap on %s: version kept moving", cardID)
}

// Close closes the group.
func (t *LedgerTapper) Close() error { return t.group.Close() }
