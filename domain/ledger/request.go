package ledger

import (
	"crypto/sha256"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

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
