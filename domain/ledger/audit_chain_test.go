package ledger_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
)

// rewriteSnapshot decodes a snapshot's records, lets edit change them, and
// encodes them again (the header's record count follows).
func rewriteSnapshot(t *testing.T, data []byte, edit func([]*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord) []byte {
	t.Helper()
	var recs []*ledgerv1.SnapshotRecord
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		rec := &ledgerv1.SnapshotRecord{}
		if err := protodelim.UnmarshalFrom(br, rec); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	recs = edit(recs)
	recs[0].GetHeader().RecordCount = uint64(len(recs) - 1)
	var out bytes.Buffer
	for _, rec := range recs {
		if _, err := protodelim.MarshalTo(&out, rec); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// Every audited change is a link of the chain, in ledger order; the chain
// survives a snapshot; editing, dropping or reordering a stored link is
// found, and the first broken link named.
func TestAuditChain(t *testing.T) {
	s := populatedLife(t)
	mustApply(t, s, cmdAddUser("u/1", "jk", "operator-admin", "", "token-jk"), cmdRevokeUser("r/1", "jk"))
	chain := s.AuditChain()
	var kinds []string
	for _, l := range chain {
		kinds = append(kinds, l.GetKind()+" "+l.GetSubject())
	}
	want := "open_card C6,grant_entitlement C6,replace_card C4,close_card C5,add_user jk,revoke_user jk"
	if got := strings.Join(kinds, ","); !strings.HasSuffix(got, want) {
		t.Fatalf("chain %s, want it to end with %s", got, want)
	}
	if err := ledger.VerifyAuditChain(chain); err != nil {
		t.Fatal(err)
	}
	if chain[1].GetPrevSha256() == nil || !bytes.Equal(chain[1].GetPrevSha256(), chain[0].GetSha256()) {
		t.Fatal("the second link does not name the first")
	}

	data := snapshotBytes(t, s)
	r, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if digest(r) != digest(s) || len(r.AuditChain()) != len(chain) {
		t.Fatal("the chain did not survive the snapshot")
	}
	// The restored ledger goes on from the restored chain.
	mustApply(t, r, cmdAddUser("u/2", "ewa", "auditor", "", "token-ewa"))
	if err := ledger.VerifyAuditChain(r.AuditChain()); err != nil {
		t.Fatal(err)
	}

	const target = 2 // the third link
	for _, tc := range []struct {
		name string
		edit func(links []*ledgerv1.SnapshotRecord)
		want int
	}{
		{"reason edited", func(links []*ledgerv1.SnapshotRecord) {
			links[target].GetAuditLink().GetAudit().Reason = "nothing happened"
		}, target},
		{"actor edited, hash recomputed", func(links []*ledgerv1.SnapshotRecord) {
			l := links[target].GetAuditLink()
			l.GetAudit().Actor = "operator/mayor-of-katowice"
			// Whoever edits can recompute the link's own hash, but not the
			// next link's reference to it.
			l.Sha256 = relink(l)
		}, target + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := rewriteSnapshot(t, data, func(recs []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
				var links []*ledgerv1.SnapshotRecord
				for _, rec := range recs {
					if rec.GetAuditLink() != nil {
						links = append(links, rec)
					}
				}
				tc.edit(links)
				return recs
			})
			_, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(tampered))
			var broken *ledger.BrokenLinkError
			if !errors.As(err, &broken) || broken.Index != tc.want {
				t.Fatalf("restore: %v, want link %d broken", err, tc.want)
			}
			// The same, from the links alone.
			var chainCopy []*ledgerv1.AuditLink
			for _, l := range chain {
				chainCopy = append(chainCopy, proto.CloneOf(l))
			}
			tc.edit(wrap(chainCopy))
			if err := ledger.VerifyAuditChain(chainCopy); !errors.As(err, &broken) || broken.Index != tc.want {
				t.Fatalf("verify: %v, want link %d broken", err, tc.want)
			}
		})
	}
	// A dropped link breaks the one after it.
	dropped := append(append([]*ledgerv1.AuditLink(nil), chain[:target]...), chain[target+1:]...)
	var broken *ledger.BrokenLinkError
	if err := ledger.VerifyAuditChain(dropped); !errors.As(err, &broken) || broken.Index != target {
		t.Fatalf("dropped link: %v", err)
	}
}

// wrap puts links in snapshot records, sharing them, so one edit serves
// both the snapshot and the bare chain.
func wrap(links []*ledgerv1.AuditLink) []*ledgerv1.SnapshotRecord {
	out := make([]*ledgerv1.SnapshotRecord, len(links))
	for i, l := range links {
		out[i] = &ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_AuditLink{AuditLink: l}}
	}
	return out
}

// relink recomputes a link's own hash the way the ledger does.
func relink(l *ledgerv1.AuditLink) []byte {
	c := proto.CloneOf(l)
	c.Sha256 = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return h[:]
}
