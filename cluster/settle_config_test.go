package cluster

import (
	"strings"
	"testing"

	"civicard/domain/settlement/payout"
)

// There is no made-up payout debtor: closing cycles on a schedule needs
// the operator's account; closing them only on request does not.
func TestSettlementNeedsAConfiguredDebtor(t *testing.T) {
	cfg := DefaultSettlementConfig()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "no payout debtor is configured") {
		t.Fatalf("daily cycles without a debtor: %v", err)
	}
	cfg.Cycle = 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("cycles on request without a debtor: %v", err)
	}
	cfg = DefaultSettlementConfig()
	cfg.Operator = payout.Party{Name: "Operator", IBAN: "PL61109010140000071219812874"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("daily cycles with a debtor: %v", err)
	}
	cfg.Operator.IBAN = "PL61109010140000071219812875"
	if err := cfg.Validate(); err == nil {
		t.Fatal("a debtor with a bad IBAN was accepted")
	}
}
