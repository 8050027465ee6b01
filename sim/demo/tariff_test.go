package demo

import (
	"testing"

	"civicard/domain/tariff"
)

// TestTariff: the demo city's pricing rules are valid, and every
// institution has a price list that sells at least what its catalogue
// services are.
func TestTariff(t *testing.T) {
	region, lists := Tariff()
	engine, err := tariff.NewEngine(region)
	if err != nil {
		t.Fatal(err)
	}
	institutions, _ := buildInstitutions(catalogue())
	if len(lists) != len(institutions) {
		t.Fatalf("%d price lists for %d institutions", len(lists), len(institutions))
	}
	for i, inst := range institutions {
		l := &lists[i]
		if l.InstitutionID != inst.InstitutionId {
			t.Fatalf("price list %d is %s, want %s", i, l.InstitutionID, inst.InstitutionId)
		}
		if err := l.Validate(engine.Region()); err != nil {
			t.Error(err)
		}
		for _, s := range inst.Services {
			if p, ok := l.Product(s.Code); !ok || p.PriceMinor != s.UnitPriceMinor {
				t.Errorf("%s: %s missing or at another price", inst.InstitutionId, s.Code)
			}
		}
	}
	for _, line := range region.Network.Lines {
		found := false
		for _, l := range lists {
			if l.InstitutionID == line.InstitutionID {
				_, found = l.Product("CICO")
			}
		}
		if !found {
			t.Errorf("line %s: its operator %s does not sell CICO", line.ID, line.InstitutionID)
		}
	}
}
