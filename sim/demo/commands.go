package demo

import (
	"strconv"

	ledgerv1 "civicard/messages/ledger/v1"
)

// Commands returns the ledger commands that load the city, in an order the
// ledger accepts from an empty start:
//
//  1. RegisterInstitution for each institution, id "demo/<seed>/inst/<institution id>"
//  2. RegisterTerminal for each terminal, id "demo/<seed>/terminal/<terminal id>"
//  3. OpenCard for each card, id "demo/<seed>/card/<card id>"
//  4. TopUp for each card with a starting balance, at time 0, id "demo/<seed>/topup/<card id>"
//  5. MarkSeeded{seed}, id "demo/<seed>/seeded"
//
// seed must be the Config.Seed the dataset was generated from: it goes into
// every id and into MarkSeeded. The ids are unique and the same on every
// call, so a loader that failed part-way sends the same commands again and
// the ledger answers those it already applied with their first results. The
// commands share the dataset's Institution and Terminal messages.
func (d *Dataset) Commands(seed uint64) []*ledgerv1.Command {
	if d == nil {
		return nil
	}
	toppedUp := 0
	for _, c := range d.Cards {
		if c.BalanceMinor > 0 {
			toppedUp++
		}
	}
	prefix := "demo/" + strconv.FormatUint(seed, 10) + "/"
	out := make([]*ledgerv1.Command, 0, len(d.Institutions)+len(d.Terminals)+len(d.Cards)+toppedUp+1)
	for _, inst := range d.Institutions {
		out = append(out, &ledgerv1.Command{
			Id:   prefix + "inst/" + inst.GetInstitutionId(),
			Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{Institution: inst}},
		})
	}
	for _, t := range d.Terminals {
		out = append(out, &ledgerv1.Command{
			Id:   prefix + "terminal/" + t.Terminal.GetTerminalId(),
			Kind: &ledgerv1.Command_RegisterTerminal{RegisterTerminal: &ledgerv1.RegisterTerminal{Terminal: t.Terminal}},
		})
	}
	for _, c := range d.Cards {
		out = append(out, &ledgerv1.Command{
			Id: prefix + "card/" + c.CardID,
			Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
				CardId:     c.CardID,
				Kind:       c.Kind,
				HolderName: c.HolderName,
			}},
		})
	}
	for _, c := range d.Cards {
		if c.BalanceMinor <= 0 {
			continue
		}
		out = append(out, &ledgerv1.Command{
			Id: prefix + "topup/" + c.CardID,
			Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{
				CardId:      c.CardID,
				AmountMinor: c.BalanceMinor,
				TimeUnixMs:  0,
			}},
		})
	}
	out = append(out, &ledgerv1.Command{
		Id:   prefix + "seeded",
		Kind: &ledgerv1.Command_MarkSeeded{MarkSeeded: &ledgerv1.MarkSeeded{Seed: seed}},
	})
	return out
}
