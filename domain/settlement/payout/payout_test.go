package payout

import (
	"strings"
	"testing"
	"time"
)

func TestCheckIBAN(t *testing.T) {
	for _, tc := range []struct {
		iban string
		ok   bool
	}{
		{"PL61109010140000071219812874", true},
		{"DE89370400440532013000", true},
		{"GB82WEST12345698765432", true},
		{"PL62109010140000071219812874", false}, // check digits off by one
		{"PL6110901014000007121981287", false},  // a digit short
		{"PL61 109010140000071219812874", false},
		{"pl61109010140000071219812874", false},
		{"XX61109010140000071219812874", false},
		{"PLAB109010140000071219812874", false},
		{"", false},
	} {
		err := CheckIBAN(tc.iban)
		if (err == nil) != tc.ok {
			t.Errorf("CheckIBAN(%q) = %v, want ok %v", tc.iban, err, tc.ok)
		}
	}
}

func TestPolishIBAN(t *testing.T) {
	got, err := PolishIBAN("10901014", "0000071219812874")
	if err != nil || got != "PL61109010140000071219812874" {
		t.Fatalf("PolishIBAN = %q, %v; want PL61109010140000071219812874", got, err)
	}
	for i := range 200 {
		iban, err := PolishIBAN("10202498", strings.Repeat("0", 12)+time.Duration(i).String()[:1]+"123")
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckIBAN(iban); err != nil {
			t.Fatalf("PolishIBAN made %q: %v", iban, err)
		}
	}
	if _, err := PolishIBAN("1090101", "0000071219812874"); err == nil {
		t.Error("a 7-digit sort code was accepted")
	}
}

func TestEndToEndID(t *testing.T) {
	for _, tc := range []struct {
		cycle uint64
		inst  string
		want  string
	}{
		{7, "KAT-TRA-01", "C7-KAT-TRA-01"},
		{12, "Biblioteka Śląska/1", "C12-Biblioteka--l-ska-1"},
		{3, strings.Repeat("X", 50), "C3-" + strings.Repeat("X", 32)},
	} {
		got := EndToEndID(tc.cycle, tc.inst)
		if got != tc.want {
			t.Errorf("EndToEndID(%d, %q) = %q, want %q", tc.cycle, tc.inst, got, tc.want)
		}
		if err := checkID(got); err != nil {
			t.Errorf("EndToEndID(%d, %q) = %q is not a valid id: %v", tc.cycle, tc.inst, got, err)
		}
	}
}

func sampleBatch() Batch {
	return Batch{
		MessageID: MessageID(4),
		Created:   time.Date(2026, 11, 25, 15, 4, 5, 0, time.UTC),
		Execution: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		Currency:  "PLN",
		Debtor:    Party{Name: "Operator Karty Śląskiej", IBAN: "PL61109010140000071219812874", BIC: "WBKPPLPP"},
		Transfers: []Transfer{
			{EndToEndID: EndToEndID(4, "KAT-LIB-01"), CreditorName: "Biblioteka Śląska", CreditorIBAN: "PL27114020040000300201355387", AmountMinor: 123456, Remittance: "civicard cycle 4"},
			{EndToEndID: EndToEndID(4, "KAT-TRA-01"), CreditorName: "Tramwaje Śląskie", CreditorIBAN: "DE89370400440532013000", AmountMinor: 5},
		},
	}
}

func TestWriteValidates(t *testing.T) {
	doc, err := Write(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(doc); err != nil {
		t.Fatalf("Validate of a written file: %v\n%s", err, doc)
	}
	text := string(doc)
	for _, want := range []string{
		"<MsgId>CIVICARD-C4</MsgId>", "<CreDtTm>2026-11-25T15:04:05</CreDtTm>", "<NbOfTxs>2</NbOfTxs>",
		"<CtrlSum>1234.61</CtrlSum>", `<InstdAmt Ccy="PLN">0.05</InstdAmt>`, "<Nm>Biblioteka Slaska</Nm>",
		"<EndToEndId>C4-KAT-LIB-01</EndToEndId>", "<Dt>2026-11-26</Dt>", "<PmtMtd>TRF</PmtMtd>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("file lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<SvcLvl>") {
		t.Errorf("a PLN file carries the SEPA service level:\n%s", text)
	}
	eur := sampleBatch()
	eur.Currency = "EUR"
	doc, err = Write(eur)
	if err != nil || !strings.Contains(string(doc), "<Cd>SEPA</Cd>") {
		t.Fatalf("EUR file: %v\n%s", err, doc)
	}
}

func TestWriteRefuses(t *testing.T) {
	for name, mutate := range map[string]func(*Batch){
		"no transfers":     func(b *Batch) { b.Transfers = nil },
		"zero amount":      func(b *Batch) { b.Transfers[0].AmountMinor = 0 },
		"bad creditor":     func(b *Batch) { b.Transfers[1].CreditorIBAN = "DE89370400440532013001" },
		"bad debtor":       func(b *Batch) { b.Debtor.IBAN = "PL00" },
		"duplicate e2e id": func(b *Batch) { b.Transfers[1].EndToEndID = b.Transfers[0].EndToEndID },
		"currency":         func(b *Batch) { b.Currency = "USD" },
		"long id":          func(b *Batch) { b.MessageID = strings.Repeat("M", 36) },
	} {
		b := sampleBatch()
		mutate(&b)
		if doc, err := Write(b); err == nil {
			t.Errorf("%s: Write accepted it:\n%s", name, doc)
		}
	}
}

// handWritten is a pain.001.001.09 file written by hand from the message
// definition, not by Write.
const handWritten = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
 <CstmrCdtTrfInitn>
  <GrpHdr>
   <MsgId>MSG-2026-0001</MsgId>
   <CreDtTm>2026-11-25T10:00:00+01:00</CreDtTm>
   <NbOfTxs>2</NbOfTxs>
   <CtrlSum>300.5</CtrlSum>
   <InitgPty><Nm>Operator</Nm></InitgPty>
  </GrpHdr>
  <PmtInf>
   <PmtInfId>PMT-1</PmtInfId>
   <PmtMtd>TRF</PmtMtd>
   <NbOfTxs>2</NbOfTxs>
   <CtrlSum>300.50</CtrlSum>
   <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>
   <ReqdExctnDt><Dt>2026-11-26</Dt></ReqdExctnDt>
   <Dbtr><Nm>Operator</Nm></Dbtr>
   <DbtrAcct><Id><IBAN>PL61109010140000071219812874</IBAN></Id></DbtrAcct>
   <DbtrAgt><FinInstnId><BICFI>WBKPPLPPXXX</BICFI></FinInstnId></DbtrAgt>
   <ChrgBr>SLEV</ChrgBr>
   <CdtTrfTxInf>
    <PmtId><EndToEndId>E2E-1</EndToEndId></PmtId>
    <Amt><InstdAmt Ccy="EUR">100.25</InstdAmt></Amt>
    <Cdtr><Nm>Museum</Nm></Cdtr>
    <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
    <RmtInf><Ustrd>Cycle 1</Ustrd></RmtInf>
   </CdtTrfTxInf>
   <CdtTrfTxInf>
    <PmtId><EndToEndId>E2E-2</EndToEndId></PmtId>
    <Amt><InstdAmt Ccy="EUR">200.25</InstdAmt></Amt>
    <Cdtr><Nm>Pool</Nm></Cdtr>
    <CdtrAcct><Id><IBAN>GB82WEST12345698765432</IBAN></Id></CdtrAcct>
   </CdtTrfTxInf>
  </PmtInf>
 </CstmrCdtTrfInitn>
</Document>`

func TestValidateHandWritten(t *testing.T) {
	if err := Validate([]byte(handWritten)); err != nil {
		t.Fatalf("the valid document: %v", err)
	}
	for _, tc := range []struct{ name, old, new, wantErr string }{
		{"wrong namespace", "pain.001.001.09\"", "pain.001.001.03\"", "namespace"},
		{"NbOfTxs in header", "<NbOfTxs>2</NbOfTxs>\n   <CtrlSum>300.5", "<NbOfTxs>3</NbOfTxs>\n   <CtrlSum>300.5", "GrpHdr/NbOfTxs"},
		{"CtrlSum in PmtInf", "<CtrlSum>300.50</CtrlSum>", "<CtrlSum>300.51</CtrlSum>", "PmtInf/CtrlSum"},
		{"three decimals", "100.25</InstdAmt>", "100.250</InstdAmt>", "InstdAmt"},
		{"zero amount", ">100.25</InstdAmt>", ">0.00</InstdAmt>", "InstdAmt"},
		{"negative amount", ">100.25</InstdAmt>", ">-100.25</InstdAmt>", "InstdAmt"},
		{"currency lower case", `Ccy="EUR">100`, `Ccy="eur">100`, "Ccy"},
		{"mixed currencies", `Ccy="EUR">200`, `Ccy="PLN">200`, "in PLN"},
		{"SEPA in PLN", `Ccy="EUR"`, `Ccy="PLN"`, "SEPA"},
		{"missing currency", ` Ccy="EUR">100`, `>100`, "attribute Ccy is missing"},
		{"PmtMtd", "<PmtMtd>TRF</PmtMtd>", "<PmtMtd>CHK</PmtMtd>", "TRF"},
		{"MsgId too long", "MSG-2026-0001", strings.Repeat("M", 36), "longer than 35"},
		{"MsgId character", "MSG-2026-0001", "MSG_2026", "character set"},
		{"EndToEndId double slash", "E2E-1", "E2E//1", "//"},
		{"duplicate EndToEndId", "E2E-2", "E2E-1", "twice"},
		{"creditor IBAN", "DE89370400440532013000", "DE89370400440532013001", "check digits"},
		{"debtor IBAN", "PL61109010140000071219812874", "PL6110901014000007121981287", "28"},
		{"BIC", "WBKPPLPPXXX", "WBKP", "BIC"},
		{"no execution date", "<ReqdExctnDt><Dt>2026-11-26</Dt></ReqdExctnDt>", "", "ReqdExctnDt: missing"},
		{"bad date", "<Dt>2026-11-26</Dt>", "<Dt>2026-13-26</Dt>", "ISODate"},
		{"bad creation time", "2026-11-25T10:00:00+01:00", "25.11.2026", "ISODateTime"},
		{"out of order", "<PmtMtd>TRF</PmtMtd>\n   <NbOfTxs>2</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>\n   <PmtMtd>TRF</PmtMtd>", "PmtMtd"},
		{"unknown element", "<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>SLEV</ChrgBr><Foo/>", "Foo"},
		{"no transactions", handWritten[strings.Index(handWritten, "   <CdtTrfTxInf>"):strings.Index(handWritten, "  </PmtInf>")], "", "CdtTrfTxInf: missing"},
		{"charge bearer", "SLEV", "DEBT", "SLEV"},
		{"not XML", "</Document>", "", "well-formed"},
	} {
		doc := strings.ReplaceAll(handWritten, tc.old, tc.new)
		if doc == handWritten {
			t.Fatalf("%s: the mutation changed nothing", tc.name)
		}
		err := Validate([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Validate = %v, want an error about %q", tc.name, err, tc.wantErr)
		}
	}
}
