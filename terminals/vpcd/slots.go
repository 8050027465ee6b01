package vpcd

import (
	"fmt"
	"net"
	"strings"
)

// ReadersEnv names the environment variable in which scripts/pcscd.sh lists
// the virtual readers it configured, for the tests it runs:
// "NAME=PORT;NAME=PORT..." with each reader's PC/SC name and the loopback
// port its virtual card connects to.
const ReadersEnv = "CIVICARD_VPCD_READERS"

// Slot is one virtual reader: its PC/SC name and where its card connects.
type Slot struct {
	Name string
	Addr string
}

// ParseSlots reads a ReadersEnv value.
func ParseSlots(value string) ([]Slot, error) {
	var slots []Slot
	for entry := range strings.SplitSeq(value, ";") {
		if entry == "" {
			continue
		}
		name, port, ok := strings.Cut(entry, "=")
		if !ok || name == "" || port == "" {
			return nil, fmt.Errorf("vpcd: reader entry %q: want NAME=PORT", entry)
		}
		slots = append(slots, Slot{Name: name, Addr: net.JoinHostPort("127.0.0.1", port)})
	}
	return slots, nil
}
