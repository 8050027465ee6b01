package payout

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Namespace is the XML namespace of pain.001.001.09.
const Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

// Limits of the message, from the schema and the SEPA rulebook.
const (
	idCharsMax     = 35  // Max35Text: MsgId, PmtInfId, EndToEndId
	nameCharsMax   = 70  // SEPA restricts Max140Text names to 70
	ustrdCharsMax  = 140 // Max140Text
	transfersMax   = 9_999_999
	amountMinorMax = 99_999_999_999 // 999,999,999.99: the SEPA maximum of one transfer
)

// Party is the debtor: who pays (the card operator), from which account.
type Party struct {
	Name string
	IBAN string
	// BIC of the debtor's bank (BICFI); empty: omitted ("NOTPROVIDED" is
	// implied in SEPA).
	BIC string
}

// Transfer is one credit transfer: one institution's payout.
type Transfer struct {
	EndToEndID   string
	CreditorName string
	CreditorIBAN string
	AmountMinor  int64
	// Remittance is the unstructured remittance information the creditor
	// sees on its bank statement.
	Remittance string
}

// Batch is everything a payout file says.
type Batch struct {
	MessageID string
	Created   time.Time
	// Execution is the requested execution date (only its date counts).
	Execution time.Time
	Currency  string // PLN or EUR
	Debtor    Party
	Transfers []Transfer
}

// MessageID is the message (and payment information) id of cycle's batch.
func MessageID(cycle uint64) string { return fmt.Sprintf("CIVICARD-C%d", cycle) }

// EndToEndID is the end-to-end id of institutionID's payout in cycle's
// batch: the cycle and the institution id in the allowed characters, cut to
// 35 characters.
func EndToEndID(cycle uint64, institutionID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "C%d-", cycle)
	for _, r := range institutionID {
		if b.Len() >= idCharsMax {
			break
		}
		if r < 128 && isIDChar(byte(r)) && r != '/' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// The document, element by element, in the schema's order.
type document struct {
	XMLName xml.Name `xml:"Document"`
	Xmlns   string   `xml:"xmlns,attr"`
	Init    initn    `xml:"CstmrCdtTrfInitn"`
}

type initn struct {
	GrpHdr groupHeader `xml:"GrpHdr"`
	PmtInf pmtInf      `xml:"PmtInf"`
}

type groupHeader struct {
	MsgID    string `xml:"MsgId"`
	CreDtTm  string `xml:"CreDtTm"`
	NbOfTxs  string `xml:"NbOfTxs"`
	CtrlSum  string `xml:"CtrlSum"`
	InitgPty name   `xml:"InitgPty"`
}

type name struct {
	Nm string `xml:"Nm"`
}

type pmtInf struct {
	PmtInfID    string     `xml:"PmtInfId"`
	PmtMtd      string     `xml:"PmtMtd"`
	NbOfTxs     string     `xml:"NbOfTxs"`
	CtrlSum     string     `xml:"CtrlSum"`
	PmtTpInf    *pmtTpInf  `xml:"PmtTpInf,omitempty"`
	ReqdExctnDt date       `xml:"ReqdExctnDt"`
	Dbtr        name       `xml:"Dbtr"`
	DbtrAcct    account    `xml:"DbtrAcct"`
	DbtrAgt     agent      `xml:"DbtrAgt"`
	ChrgBr      string     `xml:"ChrgBr"`
	Txs         []creditTx `xml:"CdtTrfTxInf"`
}

type pmtTpInf struct {
	SvcLvl code `xml:"SvcLvl"`
}

type code struct {
	Cd string `xml:"Cd"`
}

type date struct {
	Dt string `xml:"Dt"`
}

type account struct {
	ID ibanID `xml:"Id"`
}

type ibanID struct {
	IBAN string `xml:"IBAN"`
}

type agent struct {
	FinInstnID finInstn `xml:"FinInstnId"`
}

type finInstn struct {
	BICFI string      `xml:"BICFI,omitempty"`
	Othr  *otherFinID `xml:"Othr,omitempty"`
}

type otherFinID struct {
	ID string `xml:"Id"`
}

type creditTx struct {
	PmtID    pmtID   `xml:"PmtId"`
	Amt      amount  `xml:"Amt"`
	Cdtr     name    `xml:"Cdtr"`
	CdtrAcct account `xml:"CdtrAcct"`
	RmtInf   *rmtInf `xml:"RmtInf,omitempty"`
}

type pmtID struct {
	EndToEndID string `xml:"EndToEndId"`
}

type amount struct {
	InstdAmt instdAmt `xml:"InstdAmt"`
}

type instdAmt struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type rmtInf struct {
	Ustrd string `xml:"Ustrd"`
}

// Write renders the batch as a pain.001.001.09 document and validates it:
// a batch that would make an invalid file is refused, with the reason.
func Write(b Batch) ([]byte, error) {
	if len(b.Transfers) == 0 {
		return nil, errors.New("payout: a file needs at least one transfer")
	}
	var sum int64
	for _, t := range b.Transfers {
		if t.AmountMinor <= 0 || t.AmountMinor > amountMinorMax {
			return nil, fmt.Errorf("payout: transfer %s: amount %d outside [1, %d]", t.EndToEndID, t.AmountMinor, int64(amountMinorMax))
		}
		sum += t.AmountMinor // at most 9,999,999 * 10^11 < 2^63
	}
	count := fmt.Sprint(len(b.Transfers))
	p := pmtInf{
		PmtInfID:    b.MessageID,
		PmtMtd:      "TRF",
		NbOfTxs:     count,
		CtrlSum:     Decimal(sum),
		ReqdExctnDt: date{Dt: b.Execution.UTC().Format(time.DateOnly)},
		Dbtr:        name{Nm: sepaText(b.Debtor.Name, nameCharsMax)},
		DbtrAcct:    account{ID: ibanID{IBAN: b.Debtor.IBAN}},
		ChrgBr:      "SLEV",
	}
	if b.Currency == "EUR" {
		// The SEPA scheme is for euro; a PLN transfer goes as a domestic
		// one, with no service level.
		p.PmtTpInf = &pmtTpInf{SvcLvl: code{Cd: "SEPA"}}
	}
	if b.Debtor.BIC != "" {
		p.DbtrAgt.FinInstnID.BICFI = b.Debtor.BIC
	} else {
		p.DbtrAgt.FinInstnID.Othr = &otherFinID{ID: "NOTPROVIDED"}
	}
	for _, t := range b.Transfers {
		tx := creditTx{
			PmtID:    pmtID{EndToEndID: t.EndToEndID},
			Amt:      amount{InstdAmt: instdAmt{Ccy: b.Currency, Value: Decimal(t.AmountMinor)}},
			Cdtr:     name{Nm: sepaText(t.CreditorName, nameCharsMax)},
			CdtrAcct: account{ID: ibanID{IBAN: t.CreditorIBAN}},
		}
		if t.Remittance != "" {
			tx.RmtInf = &rmtInf{Ustrd: sepaText(t.Remittance, ustrdCharsMax)}
		}
		p.Txs = append(p.Txs, tx)
	}
	doc := document{Xmlns: Namespace, Init: initn{
		GrpHdr: groupHeader{
			MsgID:    b.MessageID,
			CreDtTm:  b.Created.UTC().Format("2006-01-02T15:04:05"),
			NbOfTxs:  count,
			CtrlSum:  Decimal(sum),
			InitgPty: name{Nm: sepaText(b.Debtor.Name, nameCharsMax)},
		},
		PmtInf: p,
	}}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	enc := xml.NewEncoder(&out)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("payout: %w", err)
	}
	out.WriteByte('\n')
	if err := Validate(out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Decimal writes minor units as a decimal amount with two places.
func Decimal(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// sepaText maps text to the SEPA character set (Polish letters to their
// base letters, anything else to a space) and cuts it to charsMax.
func sepaText(s string, charsMax int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= charsMax {
			break
		}
		if mapped, ok := polishLetter(r); ok {
			r = mapped
		}
		if r < 128 && isTextChar(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

func polishLetter(r rune) (rune, bool) {
	const from, to = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"
	i := 0
	for _, f := range from {
		if f == r {
			return rune(to[i]), true
		}
		i++
	}
	return r, false
}

// isTextChar reports whether c is in the SEPA (EPC) basic Latin set.
func isTextChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("/-?:().,'+ ", c) >= 0
}

// isIDChar reports whether c may appear in an id (the set without space).
func isIDChar(c byte) bool { return c != ' ' && isTextChar(c) }
