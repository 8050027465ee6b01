// Package tarifftest holds the tariff the fare engine's tests price
// against: city.json, the demo city's region and price lists cut down to
// the institutions the scenarios name (all six kinds of service and every
// line's operator).
//
// The rules are tested against this file rather than the demo generator
// (sim/demo), so that a change to the demo city changes no expectation of
// the domain's tests; edit it by hand when a scenario needs another
// product. sim/demo's own test holds the demo city to it, because the
// end-to-end run replays the same scenarios against `civicard up`.
package tarifftest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"testing"

	"civicard/domain/tariff"
)

//go:embed city.json
var cityJSON []byte

// City returns the region and the price lists of city.json. A field the
// types do not have is an error, so the file cannot drift from them
// unnoticed.
func City(tb testing.TB) (tariff.Region, []tariff.PriceList) {
	tb.Helper()
	var city struct {
		Region     tariff.Region
		PriceLists []tariff.PriceList
	}
	dec := json.NewDecoder(bytes.NewReader(cityJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&city); err != nil {
		tb.Fatalf("tarifftest/city.json: %v", err)
	}
	return city.Region, city.PriceLists
}
