package ledger_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/cockroachdb/datadriven"
	"google.golang.org/protobuf/encoding/prototext"
)

// TestDataDriven runs the scripts in testdata/. Each opens with a comment
// saying what it covers; `go test ./ledger/ -run DataDriven -rewrite`
// refreshes the expectations (review the diff).
//
// Directives:
//
//	new [currency=PLN] [balance-max=N] [amount-max=N] [history-max=N]
//	apply            one prototext ledger.v1.Command per input line
//	card id=C        the card's state
//	history card=C [before=N] [limit=N]
//	institution id=I / terminal id=T
//	receivable id=I
//	seeded seed=N
//	tariff [institution=I] the region's and price lists' versions (all without institution)
//	totals           sums, counts and Check
//	snapshot         write, restore, compare digests, continue on the restored state
func TestDataDriven(t *testing.T) {
	// Only the scripts: testdata/fuzz holds the fuzzers' corpora.
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) { runScript(t, path) })
	}
}

func runScript(t *testing.T, path string) {
	var s *ledger.State
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "new" && s == nil {
			d.Fatalf(t, "%s before new", d.Cmd)
		}
		switch d.Cmd {
		case "new":
			cfg := ledger.Config{}
			d.MaybeScanArgs(t, "currency", &cfg.Currency)
			d.MaybeScanArgs(t, "balance-max", &cfg.BalanceMaxMinor)
			d.MaybeScanArgs(t, "amount-max", &cfg.AmountMaxMinor)
			d.MaybeScanArgs(t, "history-max", &cfg.HistoryMax)
			var err error
			if s, err = ledger.New(cfg); err != nil {
				s = nil
				return "error: " + err.Error() + "\n"
			}
			return "ok\n"

		case "apply":
			var out strings.Builder
			for line := range strings.SplitSeq(d.Input, "\n") {
				if strings.TrimSpace(line) == "" {
					continue
				}
				cmd := &ledgerv1.Command{}
				if err := prototext.Unmarshal([]byte(line), cmd); err != nil {
					d.Fatalf(t, "bad command %q: %v", line, err)
				}
				before := s.Sequence()
				res := s.Apply(cmd)
				out.WriteString(formatResult(cmd.GetId(), res, before, s.Sequence()))
				if err := s.Check(); err != nil {
					d.Fatalf(t, "after %q: %v", line, err)
				}
			}
			return out.String()

		case "card":
			var id string
			d.ScanArgs(t, "id", &id)
			c, ok := s.Card(id)
			if !ok {
				return "not found\n"
			}
			return formatCard(c) + "\n"

		case "history":
			var id string
			var before uint64
			limit := 1000
			d.ScanArgs(t, "card", &id)
			d.MaybeScanArgs(t, "before", &before)
			d.MaybeScanArgs(t, "limit", &limit)
			var out strings.Builder
			txs := s.Transactions(id, before, limit)
			for _, tx := range txs {
				fmt.Fprintf(&out, "%d %s: %s\n", tx.GetLedgerSequence(), tx.GetTransactionId(), formatTransaction(tx))
			}
			if len(txs) == 0 {
				return "none\n"
			}
			return out.String()

		case "institution":
			var id string
			d.ScanArgs(t, "id", &id)
			inst, ok := s.Institution(id)
			if !ok {
				return "not found\n"
			}
			// Formatted by hand: prototext output is unstable on purpose.
			var out strings.Builder
			fmt.Fprintf(&out, "institution %s %s name=%q town=%q\n", inst.GetInstitutionId(),
				strings.TrimPrefix(inst.GetKind().String(), "SERVICE_KIND_"), inst.GetName(), inst.GetTown())
			for _, svc := range inst.GetServices() {
				fmt.Fprintf(&out, "  service %s %d name=%q\n", svc.GetCode(), svc.GetUnitPriceMinor(), svc.GetName())
			}
			return out.String()

		case "terminal":
			var id string
			d.ScanArgs(t, "id", &id)
			term, ok := s.Terminal(id)
			if !ok {
				return "not found\n"
			}
			out := fmt.Sprintf("terminal %s of %s at %q", term.GetTerminalId(), term.GetInstitutionId(), term.GetLocation())
			if key := term.GetPublicKey(); len(key) > 0 {
				out += fmt.Sprintf(" key=%x", key)
			}
			if term.GetRevoked() {
				out += " revoked"
			}
			return out + "\n"

		case "receivable":
			var id string
			d.ScanArgs(t, "id", &id)
			return fmt.Sprintf("%d\n", s.Receivable(id))

		case "seeded":
			var seed uint64
			d.ScanArgs(t, "seed", &seed)
			return fmt.Sprintf("%t\n", s.Seeded(seed))

		case "totals":
			return formatTotals(s)

		case "tariff":
			var id string
			d.MaybeScanArgs(t, "institution", &id)
			return formatTariffRecords(s.Tariff(id, id == ""))

		case "snapshot":
			var buf bytes.Buffer
			f := s.Freeze()
			if _, err := f.WriteTo(&buf); err != nil {
				d.Fatalf(t, "write: %v", err)
			}
			restored, err := ledger.Restore(s.Config(), &buf)
			if err != nil {
				d.Fatalf(t, "restore: %v", err)
			}
			if restored.Freeze().Digest() != f.Digest() {
				return "digest differs\n"
			}
			s = restored
			return "restored, digest equal\n"
		}
		d.Fatalf(t, "unknown directive %q", d.Cmd)
		return ""
	})
}

// formatResult prints one result: a headline, then the card, the transaction
// and the error, each on its own line.
func formatResult(id string, res *ledgerv1.Result, seqBefore, seqAfter uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", id, strings.TrimPrefix(res.GetStatus().String(), "STATUS_"))
	if r := res.GetRejectReason(); r != ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		fmt.Fprintf(&b, " %s", strings.TrimPrefix(r.String(), "REJECT_REASON_"))
	}
	switch {
	case res.GetReplayed():
		b.WriteString(" (replayed)")
	case seqAfter == seqBefore:
		b.WriteString(" (not recorded)")
	default:
		fmt.Fprintf(&b, " seq=%d", seqAfter)
	}
	b.WriteString("\n")
	if c := res.GetCard(); c != nil {
		fmt.Fprintf(&b, "  %s\n", formatCard(c))
	}
	if tx := res.GetTransaction(); tx != nil {
		fmt.Fprintf(&b, "  tx %s", formatTransaction(tx))
		// The transaction's identity is derived, not chosen: flag any slip.
		if tx.GetTransactionId() != id {
			fmt.Fprintf(&b, " WRONG-ID=%q", tx.GetTransactionId())
		}
		if !res.GetReplayed() && tx.GetLedgerSequence() != seqAfter {
			fmt.Fprintf(&b, " WRONG-SEQ=%d", tx.GetLedgerSequence())
		}
		b.WriteString("\n")
	}
	if c := res.GetRelatedCard(); c != nil {
		fmt.Fprintf(&b, "  related %s\n", formatCard(c))
	}
	if tx := res.GetRelatedTransaction(); tx != nil {
		fmt.Fprintf(&b, "  related tx %s\n", formatTransaction(tx))
	}
	if v := res.GetTariffVersion(); v != 0 {
		fmt.Fprintf(&b, "  tariff version %d\n", v)
	}
	if e := res.GetError(); e != "" {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	return b.String()
}

// formatTariffRecords prints the region and each price list: version, who
// set it and why, and what it holds, briefly.
func formatTariffRecords(t *ledgerv1.TariffRecords) string {
	var b strings.Builder
	audit := func(a *civicardv1.Audit) string {
		return fmt.Sprintf("by %s at %d (%q)", a.GetActor(), a.GetTimeUnixMs(), a.GetReason())
	}
	if r := t.GetRegion(); r != nil {
		var lines []string
		for _, l := range r.GetRegion().GetLines() {
			lines = append(lines, l.GetId())
		}
		var bands []string
		for _, band := range r.GetRegion().GetBands() {
			bands = append(bands, fmt.Sprintf("%dm:%d", band.GetUpToMetres(), band.GetPriceMinor()))
		}
		fmt.Fprintf(&b, "region v%d %s: lines=%s bands=%s balance-max=%d\n", r.GetVersion(), audit(r.GetAudit()),
			strings.Join(lines, ","), strings.Join(bands, ","), r.GetRegion().GetPurse().GetBalanceMaxMinor())
	} else {
		b.WriteString("no region\n")
	}
	for _, rec := range t.GetPriceLists() {
		l := rec.GetPriceList()
		fmt.Fprintf(&b, "price list %s %s v%d %s:", l.GetInstitutionId(), strings.TrimPrefix(l.GetKind().String(), "SERVICE_KIND_"), rec.GetVersion(), audit(rec.GetAudit()))
		for _, p := range l.GetProducts() {
			fmt.Fprintf(&b, " %s=%s:%d", p.GetCode(), strings.ToLower(strings.TrimPrefix(p.GetRule().String(), "TARIFF_RULE_")), p.GetPriceMinor())
		}
		b.WriteString("\n")
	}
	return b.String()
}

func formatCard(c *ledgerv1.CardState) string {
	s := fmt.Sprintf("card %s %s %s balance=%d v%d",
		c.GetCardId(),
		strings.TrimPrefix(c.GetKind().String(), "CARD_KIND_"),
		strings.TrimPrefix(c.GetStatus().String(), "CARD_STATUS_"),
		c.GetBalanceMinor(), c.GetVersion())
	if c.GetHolderName() != "" {
		s += fmt.Sprintf(" holder=%q", c.GetHolderName())
	}
	if c.GetDebtMinor() != 0 {
		s += fmt.Sprintf(" debt=%d", c.GetDebtMinor())
	}
	if v := c.GetExpiresUnixMs(); v != 0 {
		s += fmt.Sprintf(" expires=%d", v)
	}
	if v := c.GetReplacedBy(); v != "" {
		s += " replaced-by=" + v
	}
	if v := c.GetReplaces(); v != "" {
		s += " replaces=" + v
	}
	if p := c.GetTariff(); p != nil {
		s += " tariff={" + formatTariff(p) + "}"
	}
	return s
}

// formatTariff prints what a tariff state holds, briefly.
func formatTariff(p *ledgerv1.TariffState) string {
	var parts []string
	if p.GetBearer() {
		parts = append(parts, "bearer")
	}
	for _, e := range p.GetEntitlements() {
		parts = append(parts, fmt.Sprintf("%s:%d..%d", e.GetConcession(), e.GetFromDay(), e.GetUntilDay()))
	}
	for _, ps := range p.GetPasses() {
		parts = append(parts, "pass:"+ps.GetProduct())
	}
	if j := p.GetJourney(); j != nil {
		parts = append(parts, fmt.Sprintf("journey:%s@%s/%d", j.GetLine(), j.GetStop(), j.GetChargedMinor()))
	}
	for _, j := range p.GetIncomplete() {
		parts = append(parts, "incomplete:"+j.GetId())
	}
	if c := p.GetCaps(); c.GetDaySpentMinor() != 0 {
		parts = append(parts, fmt.Sprintf("day-spent:%d", c.GetDaySpentMinor()))
	}
	if u := p.GetPurse(); u.GetMonthSpentMinor() != 0 || u.GetYearTopUpMinor() != 0 {
		parts = append(parts, fmt.Sprintf("month-spent:%d year-topup:%d", u.GetMonthSpentMinor(), u.GetYearTopUpMinor()))
	}
	return strings.Join(parts, " ")
}

func formatTransaction(tx *civicardv1.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s amount=%s after=%s",
		strings.TrimPrefix(tx.GetKind().String(), "TRANSACTION_KIND_"),
		formatMoney(tx.GetAmount(), true), formatMoney(tx.GetBalanceAfter(), false))
	if v := tx.GetDeclineReason(); v != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		fmt.Fprintf(&b, " decline=%s", strings.TrimPrefix(v.String(), "DECLINE_REASON_"))
	}
	if v := tx.GetInstitutionId(); v != "" {
		fmt.Fprintf(&b, " inst=%s", v)
	}
	if v := tx.GetTerminalId(); v != "" {
		fmt.Fprintf(&b, " term=%s", v)
	}
	if v := tx.GetTerminalSequence(); v != 0 {
		fmt.Fprintf(&b, " tseq=%d", v)
	}
	if v := tx.GetServiceCode(); v != "" {
		fmt.Fprintf(&b, " service=%s", v)
	}
	if v := tx.GetQuantity(); v != 0 {
		fmt.Fprintf(&b, " qty=%d", v)
	}
	if tx.GetOffline() {
		b.WriteString(" offline")
	}
	if v := tx.GetDebtAfter(); v != nil {
		fmt.Fprintf(&b, " debt-after=%d", v.GetMinorUnits())
	}
	if v := tx.GetTimeUnixMs(); v != 0 {
		fmt.Fprintf(&b, " time=%d", v)
	}
	if v := tx.GetNote(); v != "" {
		fmt.Fprintf(&b, " note=%q", v)
	}
	if v := tx.GetRefused(); v != nil {
		fmt.Fprintf(&b, " refused=%d", v.GetMinorUnits())
	}
	if v := tx.GetDeclineDetail(); v != "" {
		fmt.Fprintf(&b, " detail=%q", v)
	}
	if v := tx.GetTariffVersion(); v != "" {
		fmt.Fprintf(&b, " tariff=%s", v)
	}
	for _, e := range tx.GetEntries() {
		fmt.Fprintf(&b, " [%s %s %s %q]", e.GetInstitutionId(), e.GetProduct(), formatMoney(e.GetAmount(), true), e.GetWhat())
	}
	if a := tx.GetAudit(); a != nil {
		fmt.Fprintf(&b, " audit=%s/%q/%d", a.GetActor(), a.GetReason(), a.GetTimeUnixMs())
	}
	if v := tx.GetRelatedCardId(); v != "" {
		fmt.Fprintf(&b, " related=%s", v)
	}
	return b.String()
}

// formatMoney prints minor units and the currency only when it is not PLN,
// so the common case stays short.
func formatMoney(m *civicardv1.Money, signed bool) string {
	s := fmt.Sprintf("%d", m.GetMinorUnits())
	if signed && m.GetMinorUnits() > 0 {
		s = "+" + s
	}
	if m.GetCurrency() != "PLN" {
		s += " " + m.GetCurrency()
	}
	return s
}

func formatTotals(s *ledger.State) string {
	tt := s.Totals()
	check := "ok"
	if err := s.Check(); err != nil {
		check = err.Error()
	}
	return fmt.Sprintf("funding=%d cards=%d receivables=%d\ncards=%d institutions=%d terminals=%d results=%d sequence=%d\ncheck: %s\n",
		tt.FundingMinor, tt.CardsMinor, tt.ReceivablesMinor,
		tt.Cards, tt.Institutions, tt.Terminals, tt.Results, s.Sequence(), check)
}
