package tariffpb_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"civicard/domain/purse"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tariffpb"
	"civicard/domain/tariff/tarifftest"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// Every field of the engine's state survives the trip through the ledger's
// record and back, including through the wire encoding the ledger stores.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	states := []tariff.CardState{{}, {Bearer: true}}
	for range 500 {
		states = append(states, randomState(rng))
	}
	for i, s := range states {
		p := tariffpb.ToProto(s)
		wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back := &ledgerv1.TariffState{}
		if err := proto.Unmarshal(wire, back); err != nil {
			t.Fatal(err)
		}
		if got := tariffpb.FromProto(back, !s.Bearer); !reflect.DeepEqual(got, s) {
			t.Fatalf("state %d:\n got %+v\nwant %+v", i, got, s)
		}
	}
}

// A card never priced has no record: it starts as a fresh card of its kind.
func TestNoRecordIsAFreshCard(t *testing.T) {
	for _, bearer := range []bool{false, true} {
		if got := tariffpb.FromProto(nil, bearer); !reflect.DeepEqual(got, tariff.CardState{Bearer: bearer}) {
			t.Errorf("bearer %v: %+v", bearer, got)
		}
	}
}

// The ledger's bounds hold every state the engine may produce.
func TestLedgerBoundsHoldTheEngines(t *testing.T) {
	if tariff.EntitlementsMax > 8 || tariff.PassesMax > 8 || tariff.IncompleteMax > 8 || tariff.StaysMax > 4 || tariff.ProductLinesMax > 8 {
		t.Fatal("the engine keeps more than the ledger's tariff state allows (domain/ledger/tariff.go)")
	}
}

func randomState(rng *rand.Rand) tariff.CardState {
	str := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(1000)) }
	day := func() int32 { return rng.Int32N(30000) }
	n := func(most int) int { return rng.IntN(most + 1) }
	journey := func() tariff.Journey {
		return tariff.Journey{
			ID: str("tap/"), InstitutionID: str("I"), Product: str("P"), Line: str("L"), Stop: str("S"),
			Direction: int8(rng.IntN(3) - 1), StartUnixMs: rng.Int64N(1 << 42), FareMaxMinor: rng.Int64N(1000),
			ChargedMinor: rng.Int64N(1000), Pass: str("PASS"), Concession: str("C"),
		}
	}
	s := tariff.CardState{
		Bearer: rng.IntN(2) == 0,
		Caps:   tariff.CapCounters{Day: day(), DaySpentMinor: rng.Int64N(2000), Week: day(), WeekSpentMinor: rng.Int64N(6000)},
		Purse:  purse.Counters{Month: day(), MonthSpentMinor: rng.Int64N(20000) - 1000, Year: day(), YearTopUpMinor: rng.Int64N(240000)},
	}
	for range n(tariff.EntitlementsMax) {
		s.Entitlements = append(s.Entitlements, tariff.Entitlement{Concession: str("C"), FromDay: day(), UntilDay: day(), Issuer: str("school ")})
	}
	for range n(tariff.PassesMax) {
		p := tariff.Pass{Product: str("PASS"), InstitutionID: str("I"), FromDay: day(), UntilDay: day()}
		for range n(3) {
			p.Lines = append(p.Lines, str("T"))
		}
		s.Passes = append(s.Passes, p)
	}
	if rng.IntN(2) == 0 {
		s.Ticket = tariff.TimeTicket{Product: str("RIDE"), InstitutionID: str("I"), UntilUnixMs: rng.Int64N(1 << 42)}
	}
	if rng.IntN(2) == 0 {
		s.Journey = journey()
	}
	for range n(tariff.StaysMax) {
		s.Stays = append(s.Stays, tariff.Stay{ID: str("tap/"), InstitutionID: str("I"), Product: str("P"), StartUnixMs: rng.Int64N(1 << 42)})
	}
	for range n(tariff.IncompleteMax) {
		s.Incomplete = append(s.Incomplete, journey())
	}
	for range n(5) {
		s.Corrections = append(s.Corrections, day())
	}
	return s
}

// The test city's region and price lists (the fare engine's fixture,
// tarifftest/city.json) survive the trip through the registry's records
// and their wire encoding; the rules keep their numbers.
func TestRegistryRoundTrip(t *testing.T) {
	region, lists := tarifftest.City(t)
	wire := func(m proto.Message, into proto.Message) {
		t.Helper()
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	back := &ledgerv1.TariffRegion{}
	wire(tariffpb.RegionToProto(region), back)
	if got := tariffpb.RegionFromProto(back); !reflect.DeepEqual(got, region) {
		t.Fatalf("region:\n got %+v\nwant %+v", got, region)
	}
	for _, l := range lists {
		back := &ledgerv1.PriceList{}
		wire(tariffpb.PriceListToProto(l), back)
		if got := tariffpb.PriceListFromProto(back); !reflect.DeepEqual(got, l) {
			t.Fatalf("%s:\n got %+v\nwant %+v", l.InstitutionID, got, l)
		}
	}
	for r := tariff.RuleUnit; r <= tariff.RulePass; r++ {
		if name := ledgerv1.TariffRule(r).String(); name != "TARIFF_RULE_"+strings.ToUpper(strings.ReplaceAll(r.String(), "-", "_")) {
			t.Errorf("rule %s is %s in the ledger", r, name)
		}
	}
}
