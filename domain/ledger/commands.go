package ledger

import (
	"errors"
	"fmt"

	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The command table: one row per field of Command's oneof (ledger.proto),
// saying which Raft groups of a cluster apply a command of that kind (its
// Route) and which handler of State applies it. Apply and the cluster's
// router both read it; neither lists the kinds again. A kind without a row
// is refused everywhere: "command of a kind the ledger does not know".
//
// To add a command kind: add its message and its field to Command's oneof
// in ledger.proto (make generate); write its handler on State, taking the
// kind's message, and rc recording first when it writes a card transaction
// (validate first, change nothing when refusing); add one row here, in the
// section it belongs to, with the constructor of its Route and, for a
// command that comes from outside, what defines the same request
// (request.go):
//
//	registry((*ledgerv1.Command).GetSetX, unrecorded((*State).setX)).withRequest(setXRequest),
//
// and, if it holds state, write that state into the snapshot and Check.
// The router needs nothing more. TestEveryCommandKindHasARow fails while a
// field of the oneof has no row.
func commandKinds() []CommandKind {
	return []CommandKind{
		// Institutions and terminals live in the registry; every shard
		// holds each institution too, with its receivable for the shard's
		// cards, so that all of a tap's transfers stay in one shard.
		everyGroup((*ledgerv1.Command).GetRegisterInstitution, unrecorded((*State).registerInstitution)).
			withRequest(auditedWhole(func(cmd *ledgerv1.Command) bool { return cmd.GetRegisterInstitution().GetAudit() != nil })),
		registry((*ledgerv1.Command).GetRegisterTerminal, unrecorded((*State).registerTerminal)).
			withRequest(auditedWhole(func(cmd *ledgerv1.Command) bool { return cmd.GetRegisterTerminal().GetAudit() != nil })),
		registry((*ledgerv1.Command).GetSetTerminalKey, unrecorded((*State).setTerminalKey)).withRequest(wholeCommand),
		registry((*ledgerv1.Command).GetRevokeTerminal, unrecorded((*State).revokeTerminal)).withRequest(wholeCommand),
		registry((*ledgerv1.Command).GetMarkSeeded, unrecorded((*State).markSeeded)),

		// A card's money and life: the shard that holds the card.
		cardShard((*ledgerv1.Command).GetOpenCard, (*State).openCard).withRequest(openCardRequest),
		cardShard((*ledgerv1.Command).GetTopUp, (*State).topUp).withRequest(topUpRequest),
		cardShard((*ledgerv1.Command).GetCharge, (*State).charge).withRequest(chargeRequest),
		cardShard((*ledgerv1.Command).GetBlockCard, (*State).blockCard).withRequest(blockCardRequest),
		cardShard((*ledgerv1.Command).GetGrantEntitlement, (*State).grantEntitlement).withRequest(grantRequest),
		cardShard((*ledgerv1.Command).GetRevokeEntitlement, (*State).revokeEntitlement).withRequest(revokeRequest),
		cardShard((*ledgerv1.Command).GetReplaceCard, (*State).replaceCard).withRequest(replaceRequest).
			withSecondCard(func(cmd *ledgerv1.Command) string { return cmd.GetReplaceCard().GetNewCardId() }),
		cardShard((*ledgerv1.Command).GetRenewCard, (*State).renewCard).withRequest(renewRequest),
		cardShard((*ledgerv1.Command).GetCloseCard, (*State).closeCard).withRequest(closeRequest),

		// Settlement: each shard closes its own cycle and posts its own
		// part of a payout; the registry keeps the batches.
		senderShard((*ledgerv1.Command).GetCycleClose, (*State).cycleClose),
		senderShard((*ledgerv1.Command).GetPayoutPost, (*State).payoutPost),
		registry((*ledgerv1.Command).GetSettlementRecord, (*State).settlementRecord),
		registry((*ledgerv1.Command).GetSettlementMarkPaid, (*State).settlementMarkPaid),

		// The tariff: the registry numbers each set (its version), then
		// every shard is given it with that version, so that a shard
		// prices its cards' taps without reading the registry.
		registryThenShards((*ledgerv1.Command).GetSetRegion, unrecorded((*State).setRegion),
			func(cmd *ledgerv1.SetRegion, version uint64) *ledgerv1.Command {
				c := proto.CloneOf(cmd)
				c.Version = version
				return &ledgerv1.Command{Kind: &ledgerv1.Command_SetRegion{SetRegion: c}}
			}).withRequest(wholeCommand),
		registryThenShards((*ledgerv1.Command).GetSetPriceList, unrecorded((*State).setPriceList),
			func(cmd *ledgerv1.SetPriceList, version uint64) *ledgerv1.Command {
				c := proto.CloneOf(cmd)
				c.Version = version
				return &ledgerv1.Command{Kind: &ledgerv1.Command_SetPriceList{SetPriceList: c}}
			}).withRequest(wholeCommand),

		// The cluster's node list and replica placement.
		registry((*ledgerv1.Command).GetAddClusterNode, unrecorded((*State).addClusterNode)),
		registry((*ledgerv1.Command).GetSetClusterNodeStatus, unrecorded((*State).setClusterNodeStatus)),
		registry((*ledgerv1.Command).GetPlaceGroup, unrecorded((*State).placeGroup)),

		// The API's users (users.go).
		registry((*ledgerv1.Command).GetAddUser, unrecorded((*State).addUser)),
		registry((*ledgerv1.Command).GetRevokeUser, unrecorded((*State).revokeUser)),
	}
}

// Route says which of a cluster's Raft groups apply a command. Each group
// runs a ledger of its own: the registry, and the shards that hold the
// cards (a single node runs the same groups).
type Route int

// The zero Route routes nowhere; every row has one of these.
const (
	_ Route = iota
	// RouteCardShard: the shard that holds the card CommandKind.CardID
	// names (and SecondCardID's, which must be the same shard).
	RouteCardShard
	// RouteRegistry: the registry alone.
	RouteRegistry
	// RouteEveryGroup: the registry and every shard, each applying it on
	// its own (idempotent by id, so a retry completes a half-done one);
	// the registry's result answers.
	RouteEveryGroup
	// RouteSenderShard: the one shard its sender names (settlement: the
	// coordinator closes a cycle in each shard, and posts a payout's part
	// where the money is). There is nothing in the command to route by.
	RouteSenderShard
	// RouteRegistryThenShards: the registry first; then, once it applied
	// the command, every shard is given CommandKind.Follow's command (the
	// same one, stamped with what the registry decided). A retry under the
	// same id gets the registry's first answer and completes what an
	// interrupted follow left undone.
	RouteRegistryThenShards
)

func (r Route) String() string {
	switch r {
	case RouteCardShard:
		return "the card's shard"
	case RouteRegistry:
		return "the registry"
	case RouteEveryGroup:
		return "the registry and every shard"
	case RouteSenderShard:
		return "a shard its sender names"
	case RouteRegistryThenShards:
		return "the registry, then every shard"
	}
	return fmt.Sprintf("Route(%d)", int(r))
}

// CommandKind is one row of the command table.
type CommandKind struct {
	// Name is the field's name in Command's oneof, as in ledger.proto.
	Name protoreflect.Name
	// Number is the field's number.
	Number protoreflect.FieldNumber
	Route  Route
	// CardID returns the card whose shard applies the command
	// (RouteCardShard; nil otherwise).
	CardID func(*ledgerv1.Command) string
	// SecondCardID, when not nil, returns another card the command writes
	// to in the same step, which must be in CardID's shard.
	SecondCardID func(*ledgerv1.Command) string
	// Follow returns what every shard is given of a command the registry
	// applied with res (RouteRegistryThenShards; nil otherwise); nil when
	// res is not a success.
	Follow func(cmd *ledgerv1.Command, res *ledgerv1.Result) *ledgerv1.Command

	// request returns the part of a command that its client sent: the
	// same id with another request is a conflict (request.go). nil, or a
	// nil answer: a retry under the id is answered whatever it says (the
	// node's and the settlement coordinator's own commands).
	request func(*ledgerv1.Command) *ledgerv1.Command

	// has reports whether cmd's oneof holds this kind's field; the table
	// finds each row's field with it.
	has func(*ledgerv1.Command) bool
	// apply runs the handler on a command that holds this kind's field
	// (not a typed nil wrapper; its message may be nil).
	apply func(s *State, rc recording, cmd *ledgerv1.Command) *ledgerv1.Result
}

var (
	// ErrNoKind: the command's oneof is empty (or a typed nil).
	ErrNoKind = errors.New("command has no kind")
	// ErrUnknownKind: the command's field has no row in the table.
	ErrUnknownKind = errors.New("command of a kind the ledger does not know")
)

// KindOf returns the row of cmd's kind, or an error wrapping ErrNoKind or
// ErrUnknownKind. It does not allocate.
func KindOf(cmd *ledgerv1.Command) (CommandKind, error) {
	field := cmd.ProtoReflect().WhichOneof(kinds.oneof)
	if field == nil {
		return CommandKind{}, ErrNoKind
	}
	if n := int(field.Number()); n < len(kinds.byNumber) {
		if i := kinds.byNumber[n]; i > 0 {
			return kinds.rows[i-1], nil
		}
	}
	return CommandKind{}, fmt.Errorf("%w: %s", ErrUnknownKind, field.Name())
}

// CommandKinds returns every row of the table, in the table's order.
func CommandKinds() []CommandKind {
	return append([]CommandKind(nil), kinds.rows...)
}

// CheckCommandTable reports a row that matches no field of Command's oneof
// or a field that two rows claim (rows without a field are left out of
// the table). A field without a row is not an error here: the table test
// walks the oneof for those.
func CheckCommandTable() error {
	return kinds.err
}

// kinds is the command table, built once from commandKinds and the
// descriptor of Command. It is read-only after that: the program's list of
// command kinds, the same for every ledger and node, not state.
var kinds = buildCommandTable(commandKinds())

type commandTable struct {
	oneof protoreflect.OneofDescriptor
	rows  []CommandKind
	// byNumber maps a oneof field number to its row's index + 1 (0: no row).
	byNumber []int
	err      error
}

// buildCommandTable finds each row's field by setting each field of the
// oneof in turn and asking the row whether it reads it: a row names its
// field only through its getter, so a name cannot disagree with it.
func buildCommandTable(rows []CommandKind) commandTable {
	oneof := (&ledgerv1.Command{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")
	t := commandTable{oneof: oneof}
	fields := oneof.Fields()
	numberMax := 0
	for i := range fields.Len() {
		numberMax = max(numberMax, int(fields.Get(i).Number()))
	}
	t.byNumber = make([]int, numberMax+1)
	var errs []error
	for _, row := range rows {
		var found protoreflect.FieldDescriptor
		for i := range fields.Len() {
			f := fields.Get(i)
			cmd := &ledgerv1.Command{}
			m := cmd.ProtoReflect()
			m.Set(f, m.NewField(f))
			if row.has(cmd) {
				found = f
				break
			}
		}
		switch {
		case found == nil:
			errs = append(errs, errors.New("a row of the command table reads no field of Command's oneof"))
			continue
		case t.byNumber[found.Number()] != 0:
			errs = append(errs, fmt.Errorf("two rows of the command table for %s", found.Name()))
			continue
		}
		row.Name, row.Number = found.Name(), found.Number()
		t.rows = append(t.rows, row)
		t.byNumber[found.Number()] = len(t.rows)
	}
	t.err = errors.Join(errs...)
	return t
}

// cardPayload is the message of a kind that names its card.
type cardPayload interface {
	proto.Message
	GetCardId() string
}

// handler applies a kind's message; rc is what it needs to write a card
// transaction.
type handler[P proto.Message] func(s *State, rc recording, cmd P) *ledgerv1.Result

// unrecorded adapts a handler that writes no card transaction.
func unrecorded[P proto.Message](apply func(s *State, cmd P) *ledgerv1.Result) handler[P] {
	return func(s *State, _ recording, cmd P) *ledgerv1.Result { return apply(s, cmd) }
}

func row[P proto.Message](route Route, get func(*ledgerv1.Command) P, apply handler[P]) CommandKind {
	return CommandKind{
		Route: route,
		// A generated getter returns a typed nil when the field is not
		// set; ProtoReflect of a nil message is not valid.
		has: func(cmd *ledgerv1.Command) bool { return get(cmd).ProtoReflect().IsValid() },
		apply: func(s *State, rc recording, cmd *ledgerv1.Command) *ledgerv1.Result {
			return apply(s, rc, get(cmd))
		},
	}
}

// registry is a row of a kind that the registry alone applies.
func registry[P proto.Message](get func(*ledgerv1.Command) P, apply handler[P]) CommandKind {
	return row(RouteRegistry, get, apply)
}

// everyGroup is a row of a kind that the registry and every shard apply.
func everyGroup[P proto.Message](get func(*ledgerv1.Command) P, apply handler[P]) CommandKind {
	return row(RouteEveryGroup, get, apply)
}

// senderShard is a row of a kind that the shard its sender names applies.
func senderShard[P proto.Message](get func(*ledgerv1.Command) P, apply handler[P]) CommandKind {
	return row(RouteSenderShard, get, apply)
}

// registryThenShards is a row of a kind that the registry applies first and
// every shard then, as follow makes it of the registry's version.
func registryThenShards[P proto.Message](get func(*ledgerv1.Command) P, apply handler[P], follow func(P, uint64) *ledgerv1.Command) CommandKind {
	k := row(RouteRegistryThenShards, get, apply)
	k.Follow = func(cmd *ledgerv1.Command, res *ledgerv1.Result) *ledgerv1.Command {
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			return nil
		}
		c := follow(get(cmd), res.GetTariffVersion())
		c.Id = cmd.GetId()
		return c
	}
	return k
}

// cardShard is a row of a kind that the shard of its card_id applies.
func cardShard[P cardPayload](get func(*ledgerv1.Command) P, apply handler[P]) CommandKind {
	k := row(RouteCardShard, get, apply)
	k.CardID = func(cmd *ledgerv1.Command) string { return get(cmd).GetCardId() }
	return k
}

// withRequest says what defines the same request of a kind.
func (k CommandKind) withRequest(request func(*ledgerv1.Command) *ledgerv1.Command) CommandKind {
	k.request = request
	return k
}

// withSecondCard names a second card the command writes to.
func (k CommandKind) withSecondCard(cardID func(*ledgerv1.Command) string) CommandKind {
	k.SecondCardID = cardID
	return k
}
