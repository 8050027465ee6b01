package cluster

import (
	"context"

	"civicard/cluster/replication"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// Users reads every user of the API, by name, at the registry's leader.
func (r *Registry) Users(ctx context.Context) ([]*ledgerv1.User, error) {
	res, err := r.ledger.host.Query(ctx, replication.RegistryGroup, &replicationv1.Query{Kind: &replicationv1.Query_Users{Users: true}})
	if err != nil {
		return nil, err
	}
	return res.GetUsers().GetUsers(), nil
}

// UserByToken reads the user whose API token has the SHA-256 tokenSHA256,
// at the registry's leader; found is false when no user has it.
func (r *Registry) UserByToken(ctx context.Context, tokenSHA256 []byte) (user *ledgerv1.User, found bool, err error) {
	res, err := r.ledger.host.Query(ctx, replication.RegistryGroup, &replicationv1.Query{Kind: &replicationv1.Query_UserTokenSha256{UserTokenSha256: tokenSHA256}})
	if err != nil {
		return nil, false, err
	}
	return res.GetUser(), res.GetFound(), nil
}
