package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The audit chain: every applied command that carries an audit record (an
// operator's change: a card issued, blocked, closed, an institution, a
// terminal, a price list, a user added or revoked) appends a link naming
// who, what, when and why, with the SHA-256 of the link before it. Each
// ledger (the registry and every shard) keeps its own chain, in ledger
// order, in its snapshot. Replicas build the same chain from the same log;
// a snapshot whose chain was edited is refused on restore, naming the first
// broken link, and VerifyAuditChain checks a chain read elsewhere.

// auditOf returns the audit record a command carries (nil: not audited)
// and what the command changed.
func auditOf(cmd *ledgerv1.Command, kind CommandKind) (*civicardv1.Audit, string) {
	m := cmd.ProtoReflect()
	field := m.Descriptor().Fields().ByNumber(kind.Number)
	if field == nil || field.Kind() != protoreflect.MessageKind {
		return nil, ""
	}
	body := m.Get(field).Message()
	// AddUser keeps its audit in the user record.
	if u := body.Descriptor().Fields().ByName("user"); u != nil && u.Kind() == protoreflect.MessageKind {
		body = body.Get(u).Message()
	}
	var audit *civicardv1.Audit
	for _, name := range []protoreflect.Name{"audit", "added"} {
		if fd := body.Descriptor().Fields().ByName(name); fd != nil && fd.Message() != nil && fd.Message().FullName() == "civicard.v1.Audit" && body.Has(fd) {
			audit, _ = body.Get(fd).Message().Interface().(*civicardv1.Audit)
			break
		}
	}
	if audit == nil {
		return nil, ""
	}
	for _, name := range []protoreflect.Name{"card_id", "institution_id", "terminal_id", "name"} {
		if fd := body.Descriptor().Fields().ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind && body.Has(fd) {
			return audit, body.Get(fd).String()
		}
	}
	// RegisterInstitution and RegisterTerminal hold their subject one level
	// down.
	for _, name := range []protoreflect.Name{"institution", "terminal"} {
		if fd := body.Descriptor().Fields().ByName(name); fd != nil && fd.Kind() == protoreflect.MessageKind && body.Has(fd) {
			inner := body.Get(fd).Message()
			if id := inner.Descriptor().Fields().ByName(name + "_id"); id != nil {
				return audit, inner.Get(id).String()
			}
		}
	}
	return audit, ""
}

// chainAudit appends the link of a command applied at sequence, if it
// carries an audit record.
func (s *State) chainAudit(cmd *ledgerv1.Command, kind CommandKind, sequence uint64) {
	audit, subject := auditOf(cmd, kind)
	if audit == nil {
		return
	}
	link := &ledgerv1.AuditLink{
		LedgerSequence: sequence,
		CommandId:      cmd.GetId(),
		Kind:           string(kind.Name),
		Subject:        subject,
		Audit:          proto.CloneOf(audit),
	}
	if n := len(s.auditChain); n > 0 {
		link.PrevSha256 = s.auditChain[n-1].GetSha256()
	}
	link.Sha256 = linkHash(link)
	s.auditChain = append(s.auditChain, link)
}

// linkHash is the SHA-256 of link with its own hash left out.
func linkHash(link *ledgerv1.AuditLink) []byte {
	c := proto.CloneOf(link)
	c.Sha256 = nil
	b, err := marshalOptions.Marshal(c)
	if err != nil {
		// Every string in a link was checked to be valid UTF-8 when its
		// command was applied; should marshalling fail anyway, the hash is
		// that of the error, which no stored link matches.
		b = []byte(err.Error())
	}
	h := sha256.Sum256(b)
	return h[:]
}

// AuditChain returns the ledger's audit chain, in ledger order. The links
// are shared with the ledger: never mutate them.
func (s *State) AuditChain() []*ledgerv1.AuditLink {
	return s.auditChain[:len(s.auditChain):len(s.auditChain)]
}

// BrokenLinkError names the first link of a chain that does not hold.
type BrokenLinkError struct {
	// Index is the link's place in the chain, from 0.
	Index int
	// Sequence and CommandID are what the link says of itself.
	Sequence  uint64
	CommandID string
	Why       string
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("audit link %d (ledger sequence %d, command %s) is broken: %s", e.Index, e.Sequence, clip(e.CommandID), e.Why)
}

// VerifyAuditChain checks that every link's hash is its own and names the
// link before it, and that the links are in ledger order; the error is a
// *BrokenLinkError naming the first that does not hold.
func VerifyAuditChain(links []*ledgerv1.AuditLink) error {
	var prev *ledgerv1.AuditLink
	for i, link := range links {
		if err := verifyLink(prev, link); err != "" {
			return &BrokenLinkError{Index: i, Sequence: link.GetLedgerSequence(), CommandID: link.GetCommandId(), Why: err}
		}
		prev = link
	}
	return nil
}

// verifyLink says why link does not follow prev ("" when it does).
func verifyLink(prev, link *ledgerv1.AuditLink) string {
	if !bytes.Equal(link.GetSha256(), linkHash(link)) {
		return "its hash is not that of its content"
	}
	var want []byte
	if prev != nil {
		want = prev.GetSha256()
		if link.GetLedgerSequence() <= prev.GetLedgerSequence() {
			return "not after the link before it in ledger order"
		}
	}
	if !bytes.Equal(link.GetPrevSha256(), want) {
		return "it does not name the link before it"
	}
	return ""
}

func (s *State) restoreAuditLink(link *ledgerv1.AuditLink) error {
	var prev *ledgerv1.AuditLink
	if n := len(s.auditChain); n > 0 {
		prev = s.auditChain[n-1]
	}
	if why := verifyLink(prev, link); why != "" {
		return &BrokenLinkError{Index: len(s.auditChain), Sequence: link.GetLedgerSequence(), CommandID: link.GetCommandId(), Why: why}
	}
	if link.GetLedgerSequence() > s.sequence {
		return &BrokenLinkError{Index: len(s.auditChain), Sequence: link.GetLedgerSequence(), CommandID: link.GetCommandId(), Why: "after the ledger's sequence"}
	}
	s.auditChain = append(s.auditChain, link)
	return nil
}
