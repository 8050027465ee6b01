package station

import (
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"

	civicardv1 "civicard/messages/civicard/v1"
)

// tariffStore is the price list of the terminal's institution as the
// gateway last gave it (GetTariff), kept on disk (tariff.json) so that a
// terminal started offline still prices its offline taps by it.
type tariffStore struct {
	file string

	mu      sync.Mutex
	version string
	tariff  *civicardv1.TerminalTariff
}

func openTariff(dir string) (*tariffStore, error) {
	t := &tariffStore{file: filepath.Join(dir, "tariff.json")}
	raw, err := os.ReadFile(t.file)
	if os.IsNotExist(err) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	var f civicardv1.GetTariffResponse
	if err := protojson.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	t.version, t.tariff = f.GetVersion(), f.GetTariff()
	return t, nil
}

// Replace stores a new tariff durably, then uses it.
func (t *tariffStore) Replace(version string, tariff *civicardv1.TerminalTariff) error {
	raw, err := protojson.Marshal(&civicardv1.GetTariffResponse{Version: version, Tariff: tariff})
	if err != nil {
		return err
	}
	if err := writeFileSync(t.file, raw); err != nil {
		return err
	}
	t.mu.Lock()
	t.version, t.tariff = version, tariff
	t.mu.Unlock()
	return nil
}

func (t *tariffStore) Version() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Products is how many products the terminal knows the price of.
func (t *tariffStore) Products() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tariff.GetProducts())
}

// price is the most a tap buying quantity of code can cost, as far as the
// terminal can tell without the card's history (a check-in: the highest
// fare; a stay: one step): what an offline tap risks. ok is false when the
// terminal does not know the product.
func (t *tariffStore) price(code string, quantity uint32) (minor int64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	products := t.tariff.GetProducts()
	for _, p := range products {
		if p.GetCode() != code && (code != "" || p != products[0]) {
			continue
		}
		minor = p.GetPrice().GetMinorUnits()
		if p.GetRule() == "unit" {
			minor *= int64(max(quantity, 1))
		}
		if ceiling := p.GetCeiling().GetMinorUnits(); ceiling > 0 {
			minor = min(minor, ceiling)
		}
		return minor, true
	}
	return 0, false
}
