package demo

import (
	"reflect"
	"testing"

	"civicard/domain/tariff"
	"civicard/domain/tariff/tarifftest"
)

// TestTariffMatchesFareFixture: the fare engine's scenarios are decided
// against a copy of this city's tariff (domain/tariff/tarifftest/city.json),
// and the end-to-end test replays the same scenarios against `civicard up`,
// which prices with Tariff. So the copy must be Tariff, for the region and
// every institution it holds: otherwise the two tests would expect
// different prices for the same tap. Change both together.
func TestTariffMatchesFareFixture(t *testing.T) {
	const path = "domain/tariff/tarifftest/city.json"
	fixtureRegion, fixtureLists := tarifftest.City(t)
	region, lists := Tariff()
	if !reflect.DeepEqual(fixtureRegion, region) {
		t.Errorf("%s: the region differs from Tariff's", path)
	}
	byID := map[string]tariff.PriceList{}
	for _, l := range lists {
		byID[l.InstitutionID] = l
	}
	if len(fixtureLists) == 0 {
		t.Fatalf("%s holds no price list", path)
	}
	for _, l := range fixtureLists {
		want, ok := byID[l.InstitutionID]
		if !ok {
			t.Errorf("%s: %s is not an institution of the demo city", path, l.InstitutionID)
			continue
		}
		if !reflect.DeepEqual(l, want) {
			t.Errorf("%s: the price list of %s differs from Tariff's", path, l.InstitutionID)
		}
	}
}
