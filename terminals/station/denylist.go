package station

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
)

// denylist is the blocked cards as the gateway last listed them, kept on
// disk (denylist.json) so that a terminal started offline still has it.
type denylist struct {
	file string

	mu      sync.Mutex
	version string
	ids     map[string]struct{}
}

type denylistFile struct {
	Version string   `json:"version"`
	CardIDs []string `json:"card_ids"`
}

func openDenylist(dir string) (*denylist, error) {
	d := &denylist{file: filepath.Join(dir, "denylist.json"), ids: map[string]struct{}{}}
	raw, err := os.ReadFile(d.file)
	if os.IsNotExist(err) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	var f denylistFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	d.set(f.Version, f.CardIDs)
	return d, nil
}

func (d *denylist) set(version string, ids []string) {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	d.mu.Lock()
	d.version, d.ids = version, m
	d.mu.Unlock()
}

// Replace stores a new list durably, then uses it.
func (d *denylist) Replace(version string, ids []string) error {
	raw, err := json.Marshal(denylistFile{Version: version, CardIDs: ids})
	if err != nil {
		return err
	}
	if err := writeFileSync(d.file, raw); err != nil {
		return err
	}
	d.set(version, ids)
	return nil
}

func (d *denylist) Version() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.version
}

func (d *denylist) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids)
}

func (d *denylist) Has(cardID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ids[cardID]
	return ok
}
