package purse

import "testing"

func TestCheckCharge(t *testing.T) {
	l := DefaultLimits()
	tests := []struct {
		name  string
		c     Counters
		ch    Charge
		want  Reason
		spent int64
	}{
		{"small", Counters{}, Charge{AmountMinor: 340, Month: 1}, ReasonNone, 340},
		{"at the no-PIN limit", Counters{}, Charge{AmountMinor: 5000, Month: 1}, ReasonNone, 5000},
		{"over it without PIN", Counters{}, Charge{AmountMinor: 5001, Month: 1}, ReasonTransactionNoPIN, 0},
		{"over it with PIN", Counters{}, Charge{AmountMinor: 5001, PINVerified: true, Month: 1}, ReasonNone, 5001},
		{"over the PIN limit", Counters{}, Charge{AmountMinor: 20001, PINVerified: true, Month: 1}, ReasonTransactionPIN, 0},
		{"bearer at the month limit", Counters{Month: 1, MonthSpentMinor: 14000}, Charge{AmountMinor: 1000, Bearer: true, Month: 1}, ReasonNone, 15000},
		{"bearer over it", Counters{Month: 1, MonthSpentMinor: 14000}, Charge{AmountMinor: 1001, Bearer: true, Month: 1}, ReasonBearerMonth, 14000},
		{"bearer, new month", Counters{Month: 1, MonthSpentMinor: 15000}, Charge{AmountMinor: 1000, Bearer: true, Month: 2}, ReasonNone, 1000},
		{"personal has no month limit", Counters{Month: 1, MonthSpentMinor: 90000}, Charge{AmountMinor: 1000, Month: 1}, ReasonNone, 91000},
		{"a refund is never refused", Counters{Month: 1, MonthSpentMinor: 15000}, Charge{AmountMinor: -260, Bearer: true, Month: 1}, ReasonNone, 14740},
		{"a refund floors at 0", Counters{Month: 1, MonthSpentMinor: 100}, Charge{AmountMinor: -260, Month: 1}, ReasonNone, 0},
		{"the most negative refund", Counters{Month: 1, MonthSpentMinor: 100}, Charge{AmountMinor: -1 << 63, Month: 1}, ReasonNone, 0},
	}
	for _, tt := range tests {
		got, refusal := CheckCharge(l, tt.c, tt.ch)
		reason := ReasonNone
		if refusal != nil {
			reason = refusal.Reason
			if got != tt.c {
				t.Errorf("%s: a refusal changed the counters", tt.name)
			}
		}
		if reason != tt.want {
			t.Errorf("%s: reason %v, want %v", tt.name, reason, tt.want)
		}
		if refusal == nil && got.MonthSpentMinor != tt.spent {
			t.Errorf("%s: spent %d, want %d", tt.name, got.MonthSpentMinor, tt.spent)
		}
	}
}

func TestCheckTopUp(t *testing.T) {
	l := DefaultLimits()
	c, r := CheckTopUp(l, Counters{Year: 2026, YearTopUpMinor: 230000}, TopUp{AmountMinor: 10000, BalanceMinor: 0, Year: 2026})
	if r != nil || c.YearTopUpMinor != 240000 {
		t.Errorf("to the year limit: %+v %v", c, r)
	}
	if _, r = CheckTopUp(l, c, TopUp{AmountMinor: 1, Year: 2026}); r == nil || r.Reason != ReasonTopUpYear {
		t.Errorf("over the year limit: %v", r)
	}
	if c, r = CheckTopUp(l, c, TopUp{AmountMinor: 1, Year: 2027}); r != nil || c.YearTopUpMinor != 1 {
		t.Errorf("new year: %+v %v", c, r)
	}
	if _, r = CheckTopUp(l, Counters{}, TopUp{AmountMinor: 1, BalanceMinor: 20000, Year: 2026}); r == nil || r.Reason != ReasonBalanceMax {
		t.Errorf("over the balance: %v", r)
	}
	if _, r = CheckTopUp(l, Counters{}, TopUp{AmountMinor: 1 << 62, BalanceMinor: 1 << 62, Year: 2026}); r == nil || r.Reason != ReasonBalanceMax {
		t.Errorf("overflowing balance: %v", r)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Error(err)
	}
	l := DefaultLimits()
	l.TransactionPINMaxMinor = 100
	if err := l.Validate(); err == nil {
		t.Error("a PIN limit below the no-PIN limit validated")
	}
	if err := (Limits{}).Validate(); err == nil {
		t.Error("zero limits validated")
	}
}

func TestRecord(t *testing.T) {
	c := Record(Counters{Month: 1, MonthSpentMinor: 14000}, Charge{AmountMinor: 8400, Bearer: true, Month: 1})
	if c.MonthSpentMinor != 22400 {
		t.Errorf("Record over the limit: %+v", c)
	}
	if c = Record(c, Charge{AmountMinor: 100, Month: 2}); c.Month != 2 || c.MonthSpentMinor != 100 {
		t.Errorf("Record in a new month: %+v", c)
	}
}
