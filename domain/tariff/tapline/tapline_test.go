package tapline

import (
	"strings"
	"testing"
)

func TestParseTap(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    Tap
		head    string
		wantErr string
	}{
		{line: "07:10 CHO-TRA-01", want: Tap{At: "07:10", Institution: "CHO-TRA-01"}, head: "t1 07:10 CHO-TRA-01"},
		{
			line: "07:40 CHO-TRA-01 CICO line=T6 stop=Brynów dir=-1 pin offline qty=2",
			want: Tap{At: "07:40", Institution: "CHO-TRA-01", Product: "CICO", Line: "T6", Stop: "Brynów", Direction: -1, Quantity: 2, PINVerified: true, Offline: true},
			head: "t1 07:40 CHO-TRA-01 CICO T6@Brynów",
		},
		{line: "07:10", wantErr: "tap HH:MM INSTITUTION"},
		{line: "07:10 CHO-TRA-01 CICO EXTRA", wantErr: `unknown argument "EXTRA"`},
		{line: "07:10 CHO-TRA-01 lines=T6", wantErr: `unknown argument "lines=T6"`},
		{line: "07:10 CHO-TRA-01 dir=2", wantErr: "dir=2 is not"},
		{line: "07:10 CHO-TRA-01 dir=up", wantErr: "dir=up is not"},
		{line: "07:10 CHO-TRA-01 qty=-1", wantErr: "qty=-1 is not a count"},
		{line: "07:10 CHO-TRA-01 pin=1", wantErr: `unknown argument "pin=1"`},
	} {
		got, err := ParseTap(strings.Fields(tc.line))
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTap(%q) = %+v, %v; want an error with %q", tc.line, got, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("ParseTap(%q): %v", tc.line, err)
		case got != tc.want:
			t.Errorf("ParseTap(%q) = %+v, want %+v", tc.line, got, tc.want)
		case got.Head("t1") != tc.head:
			t.Errorf("Head = %q, want %q", got.Head("t1"), tc.head)
		}
	}
}
