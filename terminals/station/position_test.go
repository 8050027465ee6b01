package station

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The on-board computer announces each stop; the next tap carries it,
// signed, and a position no tap could carry is refused and changes nothing.
func TestTapsCarryTheStopTheVehicleIsAt(t *testing.T) {
	st, g := newStation(t, t.TempDir())
	srv := httptest.NewServer(st.PositionHandler())
	t.Cleanup(srv.Close)
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := put(`{"line":"T6","stop":"KAT-RYNEK","direction":1}`); code != http.StatusOK {
		t.Fatalf("PUT position: %d", code)
	}
	for _, bad := range []string{
		`{"line":"T6","stop":"KAT-RYNEK","direction":2}`,
		`{"line":"T6"}`,
		`{"line":"T6","stop":"` + strings.Repeat("S", 65) + `"}`,
		`{"line":"T6","stop":"KAT-RYNEK","speed":40}`,
		`not json`,
	} {
		if code := put(bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if o := st.Transaction(context.Background(), "R 0", card(t, "320000002990", true), time.Now()); o.Result != Accepted {
		t.Fatalf("tap: %v", o)
	}
	tap := g.settled[1]
	if tap.GetLine() != "T6" || tap.GetStop() != "KAT-RYNEK" || tap.GetDirection() != 1 {
		t.Fatalf("the tap was made at line %q stop %q direction %d, want T6 KAT-RYNEK +1", tap.GetLine(), tap.GetStop(), tap.GetDirection())
	}
}
