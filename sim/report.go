package sim

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"civicard/domain/money"
)

// RunInfo says what was run.
type RunInfo struct {
	Target     string    `json:"target"`
	Started    time.Time `json:"started"`
	Seed       uint64    `json:"seed"`
	Cards      int       `json:"cards"`
	Riders     int       `json:"riders"`
	Terminals  int       `json:"terminals"`
	Events     int       `json:"events"`
	Speed      float64   `json:"speed,omitempty"`
	Rate       float64   `json:"rate,omitempty"`
	CheckInOut bool      `json:"check_in_out"`
	Chaos      bool      `json:"chaos"`
}

// Count is a named number.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// KindRow is the taps at one kind of service.
type KindRow struct {
	Kind         string `json:"kind"`
	Taps         int    `json:"taps"`
	Accepted     int    `json:"accepted"`
	Declined     int    `json:"declined"`
	Offline      int    `json:"offline"`
	Errors       int    `json:"errors"`
	ChargedMinor int64  `json:"charged_minor"`
}

// Latency is a distribution of answer times, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Second is one second of the run.
type Second struct {
	Second int     `json:"second"`
	Done   int     `json:"done"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
}

// FaultRecord is a fault the run injected.
type FaultRecord struct {
	Fault  string `json:"fault"`
	Target string `json:"target"`
	// AtSeconds is wall time since the start; RecoveredSeconds when the
	// target served again (0: not recovered).
	AtSeconds        float64 `json:"at_s"`
	RecoveredSeconds float64 `json:"recovered_s,omitempty"`
	Note             string  `json:"note,omitempty"`
}

// DayReport is a run in numbers: the terminal, JSON and HTML reports show it.
type DayReport struct {
	Run         RunInfo `json:"run"`
	WallSeconds float64 `json:"wall_s"`
	// LagMaxSeconds is how far behind the day's schedule the run fell.
	LagMaxSeconds float64   `json:"schedule_lag_max_s"`
	Operations    int       `json:"operations"`
	Results       []Count   `json:"results"`
	ByKind        []KindRow `json:"taps_by_service_kind"`
	TapLatency    Latency   `json:"tap_latency"`
	TopUpLatency  Latency   `json:"top_up_latency"`
	// Money is what the run moved, from the ledger's records.
	Money      MoneyFlows    `json:"money"`
	Errors     []Count       `json:"errors"`
	Series     []Second      `json:"per_second"`
	Faults     []FaultRecord `json:"faults"`
	Ledger     LedgerReport  `json:"ledger"`
	Invariants []Invariant   `json:"invariants"`
	OK         bool          `json:"ok"`
}

// LedgerReport is the ledger before and after.
type LedgerReport struct {
	Before    Totals `json:"before"`
	After     Totals `json:"after"`
	Groups    int    `json:"groups"`
	Replicas  int    `json:"replicas"`
	Identical bool   `json:"replicas_identical"`
}

// BuildReport sums up a run.
func BuildReport(info RunInfo, wall time.Duration, rec *Recorder, faults []FaultRecord, ledger LedgerReport, money MoneyFlows, invariants []Invariant) *DayReport {
	done := rec.Done()
	slices.SortStableFunc(faults, func(a, b FaultRecord) int { return cmp.Compare(a.AtSeconds, b.AtSeconds) })
	r := &DayReport{Run: info, WallSeconds: wall.Seconds(), LagMaxSeconds: rec.LagMax().Seconds(), Operations: len(done), Faults: faults, Ledger: ledger, Money: money, Invariants: invariants, OK: true}
	for _, inv := range invariants {
		r.OK = r.OK && inv.OK
	}
	results := map[string]int{}
	kinds := map[string]*KindRow{}
	var taps, topUps []time.Duration
	seconds := map[int][]time.Duration{}
	errorsPerSecond := map[int]int{}
	for _, d := range done {
		results[d.Result]++
		s := int(d.At / time.Second)
		if !d.Offline {
			seconds[s] = append(seconds[s], d.Latency)
		} else if _, ok := seconds[s]; !ok {
			seconds[s] = nil
		}
		if !isAnswer(d.Result) {
			errorsPerSecond[s]++
		}
		switch d.Op {
		case OpTopUp:
			if d.Result == ResultAccepted {
				topUps = append(topUps, d.Latency)
			}
		case OpTap:
			row := kinds[d.ServiceKind]
			if row == nil {
				row = &KindRow{Kind: d.ServiceKind}
				kinds[d.ServiceKind] = row
			}
			row.Taps++
			switch {
			case d.Result == ResultAccepted || d.Result == ResultOffline:
				row.Accepted++
				row.ChargedMinor += d.AmountMinor
			case strings.HasPrefix(d.Result, "declined:"):
				row.Declined++
			default:
				row.Errors++
			}
			if d.Offline {
				row.Offline++
			} else if isAnswer(d.Result) {
				taps = append(taps, d.Latency)
			}
		}
	}
	r.Results = counts(results)
	byKind, noted := rec.Errors()
	r.Errors = counts(byKind)
	for s, n := range noted {
		errorsPerSecond[s] += n
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		r.ByKind = append(r.ByKind, *kinds[k])
	}
	r.TapLatency, r.TopUpLatency = latency(taps), latency(topUps)
	last := 0
	for s := range seconds {
		last = max(last, s)
	}
	for s := range errorsPerSecond {
		last = max(last, s)
	}
	for s := 0; s <= last && len(done) > 0; s++ {
		ls := seconds[s]
		slices.Sort(ls)
		r.Series = append(r.Series, Second{Second: s, Done: len(ls), Errors: errorsPerSecond[s],
			P50: millis(percentile(ls, 0.50)), P99: millis(percentile(ls, 0.99))})
	}
	return r
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	return out
}

func latency(ls []time.Duration) Latency {
	slices.Sort(ls)
	l := Latency{Count: len(ls), P50: millis(percentile(ls, 0.50)), P90: millis(percentile(ls, 0.90)), P99: millis(percentile(ls, 0.99))}
	if len(ls) > 0 {
		l.Max = millis(ls[len(ls)-1])
	}
	return l
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pln(minor int64) string { return money.Format(minor, "PLN") }

// WriteText writes the report for a terminal.
func (r *DayReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "civicard sim: %s, seed %d, %d cards, %d riders, %d events in %.1f s\n",
		r.Run.Target, r.Run.Seed, r.Run.Cards, r.Run.Riders, r.Run.Events, r.WallSeconds)
	fmt.Fprintf(w, "fell behind the day's schedule by at most %.1f s\n", r.LagMaxSeconds)
	fmt.Fprintf(w, "\nresults (%d operations)\n", r.Operations)
	for _, c := range r.Results {
		fmt.Fprintf(w, "  %-42s %8d\n", c.Name, c.Count)
	}
	fmt.Fprintf(w, "\ntaps by service kind (charged: as the terminals were answered)\n  %-18s %8s %8s %8s %8s %8s %14s\n", "kind", "taps", "accepted", "declined", "offline", "errors", "charged")
	for _, k := range r.ByKind {
		fmt.Fprintf(w, "  %-18s %8d %8d %8d %8d %8d %14s\n", k.Kind, k.Taps, k.Accepted, k.Declined, k.Offline, k.Errors, pln(k.ChargedMinor))
	}
	fmt.Fprintf(w, "\nlatency        %8s %8s %8s %8s %8s\n", "count", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"online taps", r.TapLatency}, {"top-ups", r.TopUpLatency}} {
		fmt.Fprintf(w, "  %-12s %8d %8.1f %8.1f %8.1f %8.1f\n", l.name, l.l.Count, l.l.P50, l.l.P90, l.l.P99, l.l.Max)
	}
	m := r.Money
	fmt.Fprintf(w, "\nmoney in: top-ups %s (of which %s repaid debt)\n", pln(m.TopUpsMinor), pln(m.DebtRepaidMinor))
	fmt.Fprintf(w, "money out: owed to institutions %s = paid by cards %s + offline taps the cards could not cover %s (now debt)\n",
		pln(m.ToInstitutionsMinor()), pln(m.PaidByCardsMinor), pln(m.OfflineShortfallMinor))
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nerrors by kind (including answers that never came and were retried or decided offline)\n")
		for _, c := range r.Errors {
			fmt.Fprintf(w, "  %-42s %8d\n", c.Name, c.Count)
		}
	}
	if len(r.Faults) > 0 {
		fmt.Fprintf(w, "\nfaults injected\n")
		for _, f := range r.Faults {
			rec := "not recovered"
			if f.RecoveredSeconds > 0 {
				rec = fmt.Sprintf("recovered at %.1f s (%.1f s)", f.RecoveredSeconds, f.RecoveredSeconds-f.AtSeconds)
			}
			fmt.Fprintf(w, "  %6.1f s  %-28s %-26s %s; %s\n", f.AtSeconds, f.Fault, f.Target, rec, f.Note)
		}
	}
	l := r.Ledger
	fmt.Fprintf(w, "\nledger: %d groups, %d replicas, identical: %v\n", l.Groups, l.Replicas, l.Identical)
	fmt.Fprintf(w, "  before  funding %s  cards %s  receivables %s\n", pln(l.Before.FundingMinor), pln(l.Before.CardsMinor), pln(l.Before.ReceivablesMinor))
	fmt.Fprintf(w, "  after   funding %s  cards %s  receivables %s\n", pln(l.After.FundingMinor), pln(l.After.CardsMinor), pln(l.After.ReceivablesMinor))
	fmt.Fprintf(w, "\ninvariants\n")
	for _, inv := range r.Invariants {
		mark := "ok  "
		if !inv.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, inv.Name, inv.Detail)
		for _, f := range inv.Failures {
			fmt.Fprintf(w, "         %s\n", f)
		}
	}
	if r.OK {
		fmt.Fprintf(w, "\nall invariants hold\n")
	} else {
		fmt.Fprintf(w, "\nINVARIANTS BROKEN\n")
	}
}

// WriteHTML writes the report as one self-contained page with inline SVG
// plots of throughput and latency per second.
func (r *DayReport) WriteHTML(w io.Writer) error {
	xs := make([]float64, len(r.Series))
	done, errs, p50, p99 := make([]float64, len(r.Series)), make([]float64, len(r.Series)), make([]float64, len(r.Series)), make([]float64, len(r.Series))
	for i, s := range r.Series {
		xs[i], done[i], errs[i], p50[i], p99[i] = float64(s.Second), float64(s.Done), float64(s.Errors), s.P50, s.P99
	}
	var faults []float64
	for _, f := range r.Faults {
		faults = append(faults, f.AtSeconds)
	}
	page := struct {
		*DayReport
		Throughput, Latency template.HTML
	}{
		DayReport:  r,
		Throughput: plotSVG("operations answered per second", "s", "ops/s", xs, []series{{"answered", "#1f77b4", done}, {"errors", "#d62728", errs}}, faults),
		Latency:    plotSVG("online answer time per second", "s", "ms", xs, []series{{"p50", "#2ca02c", p50}, {"p99", "#ff7f0e", p99}}, faults),
	}
	return reportTemplate.Execute(w, page)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{"pln": pln}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>civicard sim report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#2a7a2a}.fail{color:#b00;font-weight:bold}
svg{display:block;margin:1em 0}
</style></head><body>
<h1>civicard sim</h1>
<p>{{.Run.Target}} · seed {{.Run.Seed}} · {{.Run.Cards}} cards · {{.Run.Riders}} riders · {{.Run.Terminals}} terminals · {{.Run.Events}} events ·
{{if .Run.Rate}}{{.Run.Rate}} events/s{{else}}speed {{.Run.Speed}}×{{end}} · check-in/check-out {{.Run.CheckInOut}} · chaos {{.Run.Chaos}} · {{printf "%.1f" .WallSeconds}} s (at most {{printf "%.1f" .LagMaxSeconds}} s behind schedule) · started {{.Run.Started.Format "2006-01-02 15:04:05 MST"}}</p>
<h2 class="{{if .OK}}ok{{else}}fail{{end}}">{{if .OK}}All invariants hold{{else}}Invariants broken{{end}}</h2>
<table><tr><th>invariant</th><th></th><th>checked</th></tr>
{{range .Invariants}}<tr><td>{{.Name}}</td><td class="{{if .OK}}ok{{else}}fail{{end}}">{{if .OK}}ok{{else}}FAIL{{end}}</td><td style="text-align:left">{{.Detail}}{{range .Failures}}<br>{{.}}{{end}}</td></tr>
{{end}}</table>
{{.Throughput}}
{{.Latency}}
<h2>Results</h2>
<table><tr><th>result</th><th>operations</th></tr>{{range .Results}}<tr><td>{{.Name}}</td><td>{{.Count}}</td></tr>{{end}}</table>
<h2>Taps by service kind</h2>
<table><tr><th>kind</th><th>taps</th><th>accepted</th><th>declined</th><th>offline</th><th>errors</th><th>charged</th></tr>
{{range .ByKind}}<tr><td>{{.Kind}}</td><td>{{.Taps}}</td><td>{{.Accepted}}</td><td>{{.Declined}}</td><td>{{.Offline}}</td><td>{{.Errors}}</td><td>{{pln .ChargedMinor}}</td></tr>{{end}}</table>
<h2>Latency (ms)</h2>
<table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>
<tr><td>online taps</td><td>{{.TapLatency.Count}}</td><td>{{.TapLatency.P50}}</td><td>{{.TapLatency.P90}}</td><td>{{.TapLatency.P99}}</td><td>{{.TapLatency.Max}}</td></tr>
<tr><td>top-ups</td><td>{{.TopUpLatency.Count}}</td><td>{{.TopUpLatency.P50}}</td><td>{{.TopUpLatency.P90}}</td><td>{{.TopUpLatency.P99}}</td><td>{{.TopUpLatency.Max}}</td></tr></table>
<h2>Money</h2>
<p>In: top-ups {{pln .Money.TopUpsMinor}} (of which {{pln .Money.DebtRepaidMinor}} repaid debt) · out: owed to institutions {{pln .Money.ToInstitutionsMinor}} = paid by cards {{pln .Money.PaidByCardsMinor}} + offline taps the cards could not cover {{pln .Money.OfflineShortfallMinor}}</p>
<table><tr><th></th><th>funding</th><th>cards</th><th>receivables</th></tr>
<tr><td>before</td><td>{{pln .Ledger.Before.FundingMinor}}</td><td>{{pln .Ledger.Before.CardsMinor}}</td><td>{{pln .Ledger.Before.ReceivablesMinor}}</td></tr>
<tr><td>after</td><td>{{pln .Ledger.After.FundingMinor}}</td><td>{{pln .Ledger.After.CardsMinor}}</td><td>{{pln .Ledger.After.ReceivablesMinor}}</td></tr></table>
<p>{{.Ledger.Groups}} Raft groups, {{.Ledger.Replicas}} replicas read, identical: {{.Ledger.Identical}}</p>
{{if .Errors}}<h2>Errors by kind</h2>
<table><tr><th>error</th><th>count</th></tr>{{range .Errors}}<tr><td>{{.Name}}</td><td>{{.Count}}</td></tr>{{end}}</table>{{end}}
{{if .Faults}}<h2>Faults injected</h2>
<table><tr><th>at (s)</th><th>fault</th><th>target</th><th>recovered (s)</th><th>note</th></tr>
{{range .Faults}}<tr><td>{{printf "%.1f" .AtSeconds}}</td><td>{{.Fault}}</td><td>{{.Target}}</td><td>{{if .RecoveredSeconds}}{{printf "%.1f" .RecoveredSeconds}}{{else}}–{{end}}</td><td>{{.Note}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))
