package demo

import (
	"strconv"

	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Commands returns the ledger commands that load the city, in an order the
// ledger accepts from an empty start:
//
//  1. RegisterInstitution for each institution, id "demo/<seed>/inst/<institution id>"
//  2. RegisterTerminal for each terminal, id "demo/<seed>/terminal/<terminal id>"
//  3. SetRegion and SetPriceList for each institution: TariffCommands
//  4. OpenCard for each card, id "demo/<seed>/card/<card id>"
//  5. TopUp for each card with a starting balance, at time 0, id "demo/<seed>/topup/<card id>"
//  6. MarkSeeded{seed}, id "demo/<seed>/seeded"
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
	tariffCmds := TariffCommands(seed)
	out := make([]*ledgerv1.Command, 0, len(d.Institutions)+len(d.Terminals)+len(tariffCmds)+len(d.Cards)+toppedUp+1)
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
	out = append(out, tariffCmds...)
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

// tariffSetUnixMs is when the demo city's tariff is said to be set: the day
// ŚKUP started, fixed so that the commands are the same on every call.
const tariffSetUnixMs = 1_420_070_400_000 // 2015-01-01T00:00:00Z

// TariffCommands returns the commands that set the demo city's tariff
// (Tariff) through the registry, as an operator sets one: SetRegion, id
// "demo/<seed>/region", then SetPriceList for each institution in id
// order, id "demo/<seed>/pricelist/<institution id>", each with an audit
// naming the demo. They need the institutions registered first.
func TariffCommands(seed uint64) []*ledgerv1.Command {
	region, lists := Tariff()
	prefix := "demo/" + strconv.FormatUint(seed, 10) + "/"
	audit := func() *civicardv1.Audit {
		return &civicardv1.Audit{Actor: "demo", Reason: "the demo city's tariff", TimeUnixMs: tariffSetUnixMs}
	}
	out := make([]*ledgerv1.Command, 0, 1+len(lists))
	out = append(out, &ledgerv1.Command{
		Id:   prefix + "region",
		Kind: &ledgerv1.Command_SetRegion{SetRegion: &ledgerv1.SetRegion{Region: tariffpb.RegionToProto(region), Audit: audit()}},
	})
	for _, l := range lists {
		out = append(out, &ledgerv1.Command{
			Id:   prefix + "pricelist/" + l.InstitutionID,
			Kind: &ledgerv1.Command_SetPriceList{SetPriceList: &ledgerv1.SetPriceList{PriceList: tariffpb.PriceListToProto(l), Audit: audit()}},
		})
	}
	return out
}
