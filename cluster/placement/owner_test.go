package placement

import (
	"fmt"
	"testing"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"civicard/domain/cardno"
)

// cardIdentities are the first n card numbers of the demo city's shape.
func cardIdentities(t testing.TB, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		id, err := cardno.Make(32_000_000_000 + uint64(i)*37)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func loopbackMembers(n int) []string {
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf("127.0.0.1:%d", 8101+i)
	}
	return members
}

// share returns the largest share of identities one member owns, as a
// multiple of the fair share.
func share(ids, members []string, owner func(string) string) float64 {
	counts := map[string]int{}
	for _, id := range ids {
		counts[owner(id)]++
	}
	most := 0
	for _, c := range counts {
		most = max(most, c)
	}
	return float64(most) / (float64(len(ids)) / float64(len(members)))
}

// Grains spread evenly over 3 to 5 members with addresses that differ in one
// digit; the library's own rendezvous is shown beside for the record.
func TestOwnerSpreadsEvenly(t *testing.T) {
	ids := cardIdentities(t, 150_000)
	for n := 2; n <= 5; n++ {
		members := loopbackMembers(n)
		ours := share(ids, members, func(id string) string { return Owner("Card/"+id, members) })

		rdv := protocluster.NewRendezvous()
		var ms protocluster.Members
		for i := range n {
			ms = append(ms, &protocluster.Member{Host: "127.0.0.1", Port: int32(8101 + i), Id: fmt.Sprint(i), Kinds: []string{"Card"}})
		}
		rdv.UpdateMembers(ms)
		library := share(ids, members, func(id string) string { return rdv.GetByIdentity("Card/" + id) })

		t.Logf("%d members: busiest holds %.3fx its fair share (library rendezvous: %.3fx)", n, ours, library)
		if ours > 1.05 {
			t.Errorf("%d members: busiest holds %.3fx its fair share, want at most 1.05x", n, ours)
		}
	}
}

// Adding a member moves only the identities it wins; removing one moves
// only the identities it held.
func TestOwnerMovesOnlyWhatItMust(t *testing.T) {
	ids := cardIdentities(t, 30_000)
	three, four := loopbackMembers(3), loopbackMembers(4)
	moved := 0
	for _, id := range ids {
		before, after := Owner(id, three), Owner(id, four)
		if before != after {
			if after != four[3] {
				t.Fatalf("%s moved from %s to %s, not to the new member", id, before, after)
			}
			moved++
		}
	}
	if fraction := float64(moved) / float64(len(ids)); fraction < 0.2 || fraction > 0.3 {
		t.Errorf("%.3f of identities moved to the 4th member, want about 1/4", fraction)
	}
}

func TestOwnerIsDeterministic(t *testing.T) {
	members := loopbackMembers(3)
	if Owner("Card/1", members) != Owner("Card/1", []string{members[2], members[0], members[1]}) {
		t.Fatal("owner depends on member order")
	}
	if Owner("Card/1", nil) != "" {
		t.Fatal("owner without members")
	}
}

func BenchmarkOwner5(b *testing.B) {
	members := loopbackMembers(5)
	for b.Loop() {
		Owner("Card/320000002990", members)
	}
}
