package demo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"civicard/domain/tariff"
)

// TestTariffMatchesFareFixture: the fare engine's scenarios are decided
// against a copy of this city's tariff (domain/tariff/testdata/city.json),
// and the end-to-end test replays the same scenarios against `civicard up`,
// which prices with Tariff. So the copy must be Tariff, for the region and
// every institution it holds: otherwise the two tests would expect
// different prices for the same tap. Change both together.
func TestTariffMatchesFareFixture(t *testing.T) {
	path := filepath.Join("..", "..", "domain", "tariff", "testdata", "city.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Region     tariff.Region
		PriceLists []tariff.PriceList
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fixture); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	region, lists := Tariff()
	if !reflect.DeepEqual(fixture.Region, region) {
		t.Errorf("%s: the region differs from Tariff's", path)
	}
	byID := map[string]tariff.PriceList{}
	for _, l := range lists {
		byID[l.InstitutionID] = l
	}
	if len(fixture.PriceLists) == 0 {
		t.Fatalf("%s holds no price list", path)
	}
	for _, l := range fixture.PriceLists {
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
