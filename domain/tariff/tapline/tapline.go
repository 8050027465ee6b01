package tapline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Usage is the tap line's syntax.
const Usage = "tap HH:MM INSTITUTION [PRODUCT] [pin] [offline] [line=L] [stop=S] [dir=-1|0|1] [qty=N]"

// Tap is the arguments of one tap line.
type Tap struct {
	// At is the local time of day as written, HH:MM.
	At          string
	Institution string
	// Product is empty for the institution's default product.
	Product     string
	Line, Stop  string
	Direction   int8
	Quantity    uint32
	PINVerified bool
	Offline     bool
}

// ParseTap reads the arguments after "tap". An argument it does not know
// is an error, not ignored: a typo must not pass as a tap without it.
func ParseTap(args []string) (Tap, error) {
	if len(args) < 2 {
		return Tap{}, errors.New(Usage)
	}
	tap := Tap{At: args[0], Institution: args[1]}
	for _, a := range args[2:] {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok && a == "pin":
			tap.PINVerified = true
		case !ok && a == "offline":
			tap.Offline = true
		case !ok && tap.Product == "":
			tap.Product = a
		case k == "line" && ok:
			tap.Line = v
		case k == "stop" && ok:
			tap.Stop = v
		case k == "dir" && ok:
			n, err := strconv.ParseInt(v, 10, 8)
			if err != nil || n < -1 || n > 1 {
				return Tap{}, fmt.Errorf("tap: dir=%s is not -1, 0 or 1", v)
			}
			tap.Direction = int8(n)
		case k == "qty" && ok:
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return Tap{}, fmt.Errorf("tap: qty=%s is not a count", v)
			}
			tap.Quantity = uint32(n)
		default:
			return Tap{}, fmt.Errorf("tap: unknown argument %q (%s)", a, Usage)
		}
	}
	return tap, nil
}

// Head names the tap in a scenario's output: its name, time, institution,
// product and place, e.g. "t2 07:40 CHO-TRA-01 CICO T6@Brynów".
func (t Tap) Head(name string) string {
	what := t.Institution
	if t.Product != "" {
		what += " " + t.Product
	}
	if t.Stop != "" {
		what += " " + t.Line + "@" + t.Stop
	}
	return fmt.Sprintf("%s %s %s", name, t.At, what)
}
