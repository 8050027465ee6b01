package cluster

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
)

// FuzzDecodeHealth: whatever another host answers a membership poll with
// is a member with an id, an address and a port that can be dialled, or
// an error; never a panic, and never more than healthAnswerBytesMax read.
func FuzzDecodeHealth(f *testing.F) {
	for _, n := range []automanaged.NodeModel{
		*automanaged.NewNode("civicard", "node-1", "127.0.0.1", 6001, 6002, []string{"card", "terminal", "institution"}),
		{ID: "n1", Address: "127.0.0.1", Port: 1},
		{ID: "n1", Address: "127.0.0.1", Port: 70000},
		{ID: "n1", Address: "127.0.0.1", Port: -1},
		{Address: "127.0.0.1", Port: 6001},
		{ID: "n1", Port: 6001},
	} {
		data, err := json.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"id":"n1","address":"h","port":6001,"kinds":null}`))
	f.Add([]byte(`{"id":"n1","port":1e3}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := decodeHealth(bytes.NewReader(data))
		if err != nil {
			if n != nil {
				t.Fatalf("refused with %v, and decoded %v", err, n)
			}
			return
		}
		if n.ID == "" || n.Address == "" || n.Port < 1 || n.Port > 65535 {
			t.Fatalf("accepted member %+v", n)
		}
		again, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeHealth(bytes.NewReader(again))
		if err != nil || !reflect.DeepEqual(back, n) {
			t.Fatalf("re-encoded member %s decodes to %+v, %v; want %+v", again, back, err, n)
		}
	})
}

// An answer over healthAnswerBytesMax is not read to its end.
func TestDecodeHealthRefusesALongAnswer(t *testing.T) {
	long := `{"id":"n1","address":"127.0.0.1","port":6001,"kinds":["` + strings.Repeat("k", healthAnswerBytesMax) + `"]}`
	if n, err := decodeHealth(strings.NewReader(long)); err == nil {
		t.Fatalf("an answer of %d bytes decoded to member %q", len(long), n.ID)
	}
}
