package ledger

import (
	"crypto/sha256"
	"unicode/utf8"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// What "the same request" means, per command kind. An idempotency key (a
// command id) names one request: a retry under it gets the first answer,
// and another request under it is a conflict, refused and not recorded
// (Apply). A retry is not byte for byte the first command: the card grain
// prices a tap again, reads the card's version again, and the gateway
// stamps its clock again. So each kind compares only what its client sent
// (the card, the terminal and its sequence, the amount of a top-up, the
// operator's reason), never what the grain or the gateway computed.
//
// A row's request projection returns a command holding those fields alone
// (under the command's id and kind); Apply keeps its SHA-256 with the
// result (Result.command_sha256).

// wholeCommand: an operator's registration and tariff commands are compared
// whole; their digests predate the projections and are kept as they were.
func wholeCommand(cmd *ledgerv1.Command) *ledgerv1.Command { return cmd }

// auditedWhole is wholeCommand for the registrations an operator made (with
// an audit); those the demo city seeds carry none and are not compared.
func auditedWhole(audited func(*ledgerv1.Command) bool) func(*ledgerv1.Command) *ledgerv1.Command {
	return func(cmd *ledgerv1.Command) *ledgerv1.Command {
		if !audited(cmd) {
			return nil
		}
		return cmd
	}
}

// who is the part of an audit that the operator sent: not its time, which
// the gateway stamps on every attempt.
func who(a *civicardv1.Audit) *civicardv1.Audit {
	if a == nil {
		return nil
	}
	return &civicardv1.Audit{Actor: a.GetActor(), Reason: a.GetReason()}
}

// chargeRequest: a tap is its card, terminal, sequence, product and
// quantity; its price, postings, tariff state, versions and institution are
// the grain's. Whether it arrives online or from a terminal's offline queue,
// and whatever time a resending terminal stamped on it, it is the same tap. A correction is its
// card and the operator's request: the engine computes its amount.
func chargeRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	c := cmd.GetCharge()
	r := &ledgerv1.Charge{CardId: c.GetCardId(), Correction: c.GetCorrection()}
	if c.GetCorrection() {
		r.Audit = who(c.GetAudit())
	} else {
		r.TerminalId, r.TerminalSequence = c.GetTerminalId(), c.GetTerminalSequence()
		r.ServiceCode, r.Quantity = c.GetServiceCode(), c.GetQuantity()
	}
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_Charge{Charge: r}}
}

// topUpRequest: a top-up is its card and amount; its time (the gateway's),
// version and tariff state are computed on each attempt.
func topUpRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	t := cmd.GetTopUp()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{
		CardId: t.GetCardId(), AmountMinor: t.GetAmountMinor(),
	}}}
}

func openCardRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	o := cmd.GetOpenCard()
	if o.GetAudit() == nil {
		return nil // the demo city's cards: seeded, not asked for
	}
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
		CardId: o.GetCardId(), Kind: o.GetKind(), HolderName: o.GetHolderName(), Audit: who(o.GetAudit()),
	}}}
}

func blockCardRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	b := cmd.GetBlockCard()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{
		CardId: b.GetCardId(), Reason: b.GetReason(), Audit: who(b.GetAudit()),
	}}}
}

func grantRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	g := cmd.GetGrantEntitlement()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_GrantEntitlement{GrantEntitlement: &ledgerv1.GrantEntitlement{
		CardId: g.GetCardId(), Entitlement: g.GetEntitlement(), Audit: who(g.GetAudit()),
	}}}
}

func revokeRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	r := cmd.GetRevokeEntitlement()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_RevokeEntitlement{RevokeEntitlement: &ledgerv1.RevokeEntitlement{
		CardId: r.GetCardId(), Concession: r.GetConcession(), Audit: who(r.GetAudit()),
	}}}
}

func replaceRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	r := cmd.GetReplaceCard()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{
		CardId: r.GetCardId(), NewCardId: r.GetNewCardId(), Audit: who(r.GetAudit()),
	}}}
}

func renewRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	r := cmd.GetRenewCard()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_RenewCard{RenewCard: &ledgerv1.RenewCard{
		CardId: r.GetCardId(), Audit: who(r.GetAudit()),
	}}}
}

func closeRequest(cmd *ledgerv1.Command) *ledgerv1.Command {
	c := cmd.GetCloseCard()
	return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_CloseCard{CloseCard: &ledgerv1.CloseCard{
		CardId: c.GetCardId(), Audit: who(c.GetAudit()),
	}}}
}

// The terminal registry's commands are small and all of them the
// operator's: compared whole.

// commandDigest is the SHA-256 of cmd's request (its row's projection), nil
// for a kind whose retries are answered whatever they say.
func commandDigest(cmd *ledgerv1.Command) []byte {
	if wire, ok := tapOrTopUpRequestWire(cmd); ok {
		sum := sha256.Sum256(wire)
		return sum[:]
	}
	kind, err := KindOf(cmd)
	if err != nil || kind.request == nil {
		return nil
	}
	req := kind.request(cmd)
	if req == nil {
		return nil
	}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		// Not marshallable (invalid UTF-8): the command is refused by its
		// checks anyway; digest what can be told apart.
		wire = []byte(err.Error())
	}
	sum := sha256.Sum256(wire)
	return sum[:]
}

// tapOrTopUpRequestWire writes the request of a tap or a top-up, the
// commands of the hot path, as the deterministic marshalling of its
// projection (chargeRequest, topUpRequest) writes it, without building and
// marshalling the projection: that doubled the time Apply takes for a tap.
// ok is false for any other command, which takes the general way.
// TestRequestWireMatchesTheProjection holds the two to the same bytes.
func tapOrTopUpRequestWire(cmd *ledgerv1.Command) (wire []byte, ok bool) {
	var inner, buf [160]byte
	var body []byte
	var field protowire.Number
	switch k := cmd.GetKind().(type) {
	case *ledgerv1.Command_Charge:
		c := k.Charge
		if c == nil || c.GetCorrection() || !utf8.ValidString(c.GetCardId()) || !utf8.ValidString(c.GetTerminalId()) || !utf8.ValidString(c.GetServiceCode()) {
			return nil, false
		}
		field = 14
		body = appendString(inner[:0], 1, c.GetCardId())
		body = appendString(body, 5, c.GetTerminalId())
		body = appendVarint(body, 6, c.GetTerminalSequence())
		body = appendString(body, 7, c.GetServiceCode())
		body = appendVarint(body, 8, uint64(c.GetQuantity()))
	case *ledgerv1.Command_TopUp:
		t := k.TopUp
		if t == nil || !utf8.ValidString(t.GetCardId()) {
			return nil, false
		}
		field = 13
		body = appendString(inner[:0], 1, t.GetCardId())
		body = appendVarint(body, 2, uint64(t.GetAmountMinor()))
	default:
		return nil, false
	}
	if !utf8.ValidString(cmd.GetId()) {
		return nil, false
	}
	wire = appendString(buf[:0], 1, cmd.GetId())
	wire = protowire.AppendTag(wire, field, protowire.BytesType)
	return protowire.AppendBytes(wire, body), true
}

// appendString and appendVarint write a proto3 field, nothing when it holds
// its zero value, as marshalling does.
func appendString(b []byte, n protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), v)
}

func appendVarint(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), v)
}
