package tariff_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"civicard/domain/tariff"
)

// cityPath is the region and the price lists the tests price against: the
// demo city's tariff as sim/demo builds it, cut down to the institutions
// the scenarios name (all six kinds of service and every line's operator).
// The rules are tested against this file rather than the demo generator, so
// that a change to the demo city changes no expectation here; edit it by
// hand when a scenario needs another product.
const cityPath = "testdata/city.json"

// loadCity reads cityPath; a field the types do not have is an error, so
// the file cannot drift from them unnoticed.
func loadCity(t testing.TB) (tariff.Region, []tariff.PriceList) {
	t.Helper()
	b, err := os.ReadFile(cityPath)
	if err != nil {
		t.Fatal(err)
	}
	var city struct {
		Region     tariff.Region
		PriceLists []tariff.PriceList
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&city); err != nil {
		t.Fatalf("%s: %v", cityPath, err)
	}
	return city.Region, city.PriceLists
}
