package cluster

import (
	"context"
	"fmt"

	"civicard/cluster/replication"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Registry is the operators' door to the registry (gateway.RegistryAdmin):
// institutions, terminals and the tariff, written through the same routes
// as the grains' commands, so that an institution reaches every shard and a
// region or price list every shard after the registry.
type Registry struct {
	ledger routedLedger
}

// Registry returns the node's registry door; nil for a gateway, which has
// no ledger.
func (n *Node) Registry() *Registry {
	return n.registry
}

// Propose commits one of the operators' registry commands.
func (r *Registry) Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	switch cmd.GetKind().(type) {
	case *ledgerv1.Command_RegisterInstitution, *ledgerv1.Command_RegisterTerminal,
		*ledgerv1.Command_SetRegion, *ledgerv1.Command_SetPriceList,
		*ledgerv1.Command_AddUser, *ledgerv1.Command_RevokeUser:
	default:
		return nil, fmt.Errorf("cluster: %T is not an operator's registry command", cmd.GetKind())
	}
	return r.ledger.Propose(ctx, cmd)
}

// Tariff reads the registry's region and the price list of institutionID,
// or every one when it is "", at the registry's leader.
func (r *Registry) Tariff(ctx context.Context, institutionID string) (*ledgerv1.TariffRecords, error) {
	return ledgerReads{r.ledger.host}.Tariff(ctx, replication.RegistryGroup, institutionID, institutionID == "")
}

// Institution reads an institution's record at the registry's leader.
func (r *Registry) Institution(ctx context.Context, institutionID string) (*civicardv1.Institution, bool, error) {
	return ledgerReads{r.ledger.host}.Institution(ctx, replication.RegistryGroup, institutionID)
}
