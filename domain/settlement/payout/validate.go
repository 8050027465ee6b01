package payout

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// elem is one element of the schema: its name, how often it occurs, its
// children in order (a complex type) or a check of its text (a simple one).
type elem struct {
	name     string
	min, max int
	kids     []elem
	text     func(string) error
	attrs    map[string]func(string) error
}

// schema is the part of pain.001.001.09 civicard writes: the elements it
// uses, in the schema's order, with the schema's multiplicities and
// formats, narrowed by the SEPA rulebook where it is stricter. An element
// the schema allows but civicard does not use is refused too: a file with
// one was not written by civicard.
func schema() elem {
	one := func(name string, kids ...elem) elem { return elem{name: name, min: 1, max: 1, kids: kids} }
	opt := func(name string, kids ...elem) elem { return elem{name: name, min: 0, max: 1, kids: kids} }
	leaf := func(name string, minOccurs int, text func(string) error) elem {
		return elem{name: name, min: minOccurs, max: 1, text: text}
	}
	return one("Document",
		one("CstmrCdtTrfInitn",
			one("GrpHdr",
				leaf("MsgId", 1, checkID),
				leaf("CreDtTm", 1, checkDateTime),
				leaf("NbOfTxs", 1, checkCount),
				leaf("CtrlSum", 1, checkDecimal),
				one("InitgPty", leaf("Nm", 1, checkName))),
			elem{name: "PmtInf", min: 1, max: 1, kids: []elem{
				leaf("PmtInfId", 1, checkID),
				leaf("PmtMtd", 1, func(s string) error {
					if s != "TRF" {
						return fmt.Errorf("PmtMtd %q: a credit transfer's is TRF", s)
					}
					return nil
				}),
				leaf("NbOfTxs", 1, checkCount),
				leaf("CtrlSum", 1, checkDecimal),
				opt("PmtTpInf", one("SvcLvl", leaf("Cd", 1, func(s string) error {
					if s != "SEPA" && s != "NURG" {
						return fmt.Errorf("service level %q: civicard sends SEPA or NURG", s)
					}
					return nil
				}))),
				one("ReqdExctnDt", leaf("Dt", 1, checkDate)),
				one("Dbtr", leaf("Nm", 1, checkName)),
				one("DbtrAcct", one("Id", leaf("IBAN", 1, CheckIBAN))),
				one("DbtrAgt", one("FinInstnId", leaf("BICFI", 0, checkBIC), opt("Othr", leaf("Id", 1, func(s string) error {
					if s != "NOTPROVIDED" {
						return fmt.Errorf("debtor agent id %q: only NOTPROVIDED stands in for a BIC", s)
					}
					return nil
				})))),
				leaf("ChrgBr", 1, func(s string) error {
					if s != "SLEV" {
						return fmt.Errorf("charge bearer %q: SEPA requires SLEV", s)
					}
					return nil
				}),
				{name: "CdtTrfTxInf", min: 1, max: transfersMax, kids: []elem{
					one("PmtId", leaf("EndToEndId", 1, checkID)),
					one("Amt", elem{name: "InstdAmt", min: 1, max: 1, text: checkAmount,
						attrs: map[string]func(string) error{"Ccy": CheckCurrency}}),
					one("Cdtr", leaf("Nm", 1, checkName)),
					one("CdtrAcct", one("Id", leaf("IBAN", 1, CheckIBAN))),
					opt("RmtInf", leaf("Ustrd", 1, func(s string) error { return checkText("Ustrd", s, ustrdCharsMax) })),
				}},
			}}))
}

// node is a parsed element.
type node struct {
	name  xml.Name
	attrs []xml.Attr
	text  string
	kids  []*node
}

// Validate checks a pain.001.001.09 document: the structure and formats of
// the schema (as narrowed by the SEPA rulebook, see schema), and the rules
// across fields: NbOfTxs and CtrlSum of the group header and of the payment
// information equal the transactions' count and sum, every amount in one
// currency, SEPA service level only for EUR, end-to-end ids unique. The
// error names the element.
func Validate(doc []byte) error {
	root, err := parse(doc)
	if err != nil {
		return fmt.Errorf("payout: not well-formed: %w", err)
	}
	if root.name.Space != Namespace {
		return fmt.Errorf("payout: namespace %q, want %q", root.name.Space, Namespace)
	}
	if err := match(schema(), root, ""); err != nil {
		return fmt.Errorf("payout: %w", err)
	}
	var d document
	if err := xml.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("payout: %w", err)
	}
	return checkSums(d)
}

func parse(doc []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// match checks n against e: name and namespace, attributes, text or
// children in order with their multiplicities.
func match(e elem, n *node, parent string) error {
	path := parent + "/" + e.name
	if n.name.Local != e.name || n.name.Space != Namespace {
		return fmt.Errorf("%s: found <%s> in namespace %q", path, n.name.Local, n.name.Space)
	}
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
			continue
		}
		check, ok := e.attrs[a.Name.Local]
		if !ok || a.Name.Space != "" {
			return fmt.Errorf("%s: attribute %s is not allowed", path, a.Name.Local)
		}
		if err := check(a.Value); err != nil {
			return fmt.Errorf("%s@%s: %w", path, a.Name.Local, err)
		}
	}
	for name := range e.attrs {
		if !hasAttr(n, name) {
			return fmt.Errorf("%s: attribute %s is missing", path, name)
		}
	}
	if e.text != nil {
		if len(n.kids) > 0 {
			return fmt.Errorf("%s: holds elements, it is a simple value", path)
		}
		if err := e.text(n.text); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	if strings.TrimSpace(n.text) != "" {
		return fmt.Errorf("%s: holds text %q, it is a complex element", path, strings.TrimSpace(n.text))
	}
	i := 0
	for _, k := range e.kids {
		count := 0
		for i < len(n.kids) && n.kids[i].name.Local == k.name {
			if count == k.max {
				return fmt.Errorf("%s/%s: more than %d", path, k.name, k.max)
			}
			if err := match(k, n.kids[i], path); err != nil {
				return err
			}
			count++
			i++
		}
		if count < k.min {
			if i < len(n.kids) {
				return fmt.Errorf("%s/%s: missing, <%s> found in its place", path, k.name, n.kids[i].name.Local)
			}
			return fmt.Errorf("%s/%s: missing", path, k.name)
		}
	}
	if i < len(n.kids) {
		return fmt.Errorf("%s: <%s> is not allowed here (unknown or out of order)", path, n.kids[i].name.Local)
	}
	return nil
}

func hasAttr(n *node, name string) bool {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return true
		}
	}
	return false
}

// checkSums checks the rules across fields.
func checkSums(d document) error {
	p := d.Init.PmtInf
	var sum int64
	currency := ""
	seen := make(map[string]bool, len(p.Txs))
	for i, tx := range p.Txs {
		minor, err := parseMinor(tx.Amt.InstdAmt.Value)
		if err != nil {
			return fmt.Errorf("payout: transaction %d: %w", i+1, err)
		}
		sum += minor
		if currency == "" {
			currency = tx.Amt.InstdAmt.Ccy
		} else if tx.Amt.InstdAmt.Ccy != currency {
			return fmt.Errorf("payout: transaction %d is in %s, the others in %s", i+1, tx.Amt.InstdAmt.Ccy, currency)
		}
		id := tx.PmtID.EndToEndID
		if seen[id] {
			return fmt.Errorf("payout: end-to-end id %s appears twice", id)
		}
		seen[id] = true
	}
	count := strconv.Itoa(len(p.Txs))
	for _, h := range []struct{ where, nb, ctrl string }{
		{"GrpHdr", d.Init.GrpHdr.NbOfTxs, d.Init.GrpHdr.CtrlSum},
		{"PmtInf", p.NbOfTxs, p.CtrlSum},
	} {
		if h.nb != count {
			return fmt.Errorf("payout: %s/NbOfTxs is %s, the file has %s transactions", h.where, h.nb, count)
		}
		ctrl, err := parseMinor(h.ctrl)
		if err != nil {
			return fmt.Errorf("payout: %s/CtrlSum: %w", h.where, err)
		}
		if ctrl != sum {
			return fmt.Errorf("payout: %s/CtrlSum is %s, the transactions sum to %s", h.where, h.ctrl, Decimal(sum))
		}
	}
	if p.PmtTpInf != nil && p.PmtTpInf.SvcLvl.Cd == "SEPA" && currency != "EUR" {
		return fmt.Errorf("payout: SEPA service level for %s: SEPA credit transfers are in EUR", currency)
	}
	return nil
}

var (
	// The formats of the schema's simple types; compiled once, read only.
	decimalPattern  = regexp.MustCompile(`^[0-9]{1,18}(\.[0-9]{1,2})?$`)
	bicPattern      = regexp.MustCompile(`^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

func checkID(s string) error {
	if err := checkText("id", s, idCharsMax); err != nil {
		return err
	}
	switch {
	case strings.Contains(s, " "):
		return fmt.Errorf("id %q contains a space", s)
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//"):
		return fmt.Errorf("id %q: SEPA forbids a leading or trailing / and //", s)
	}
	return nil
}

func checkName(s string) error { return checkText("name", s, nameCharsMax) }

// checkText holds text to 1..charsMax characters of the SEPA set.
func checkText(what, s string, charsMax int) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > charsMax {
		return fmt.Errorf("%s %q is longer than %d characters", what, s, charsMax)
	}
	for i := 0; i < len(s); i++ {
		if !isTextChar(s[i]) {
			return fmt.Errorf("%s %q: character %q is outside the SEPA character set", what, s, s[i])
		}
	}
	return nil
}

func checkDateTime(s string) error {
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"} {
		if _, err := time.Parse(layout, s); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%q is not an ISODateTime", s)
}

func checkDate(s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not an ISODate", s)
	}
	return nil
}

// checkCount is Max15NumericText.
func checkCount(s string) error {
	if len(s) < 1 || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return fmt.Errorf("%q is not a count (1 to 15 digits)", s)
	}
	return nil
}

// checkDecimal is DecimalNumber as SEPA narrows it: at most two decimals.
func checkDecimal(s string) error {
	if !decimalPattern.MatchString(s) {
		return fmt.Errorf("%q is not a decimal with at most 2 decimals", s)
	}
	return nil
}

// checkAmount is an instructed amount: above zero, at most 2 decimals, at
// most the SEPA maximum.
func checkAmount(s string) error {
	minor, err := parseMinor(s)
	if err != nil {
		return err
	}
	if minor <= 0 || minor > amountMinorMax {
		return fmt.Errorf("amount %s outside [0.01, %s]", s, Decimal(amountMinorMax))
	}
	return nil
}

// CheckCurrency says whether civicard writes payout files in currency s:
// PLN (a domestic transfer) or EUR (SEPA).
func CheckCurrency(s string) error {
	if !currencyPattern.MatchString(s) {
		return fmt.Errorf("%q is not an ISO 4217 code", s)
	}
	if s != "EUR" && s != "PLN" {
		return fmt.Errorf("currency %s: civicard pays in PLN or EUR", s)
	}
	return nil
}

func checkBIC(s string) error {
	if !bicPattern.MatchString(s) {
		return fmt.Errorf("%q is not a BIC", s)
	}
	return nil
}

// parseMinor reads a decimal amount into minor units, exactly.
func parseMinor(s string) (int64, error) {
	if err := checkDecimal(s); err != nil {
		return 0, err
	}
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<62)/100 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}
