package tariff

import (
	"errors"
	"fmt"

	"civicard/domain/purse"
)

// ErrRegion is wrapped by the errors of Region.Validate.
var ErrRegion = errors.New("tariff: invalid region")

// Region is the common pricing policy of the whole card system: what every
// institution's price list is priced under. Concessions are defined here
// once; the transport network and its fare bands, the fare caps, the rules
// for unfinished journeys and the e-purse limits likewise. An institution
// only chooses which of its products honour which concession.
type Region struct {
	Concessions []Concession
	Network     Network
	Capping     Capping
	Journeys    JourneyRules
	Purse       purse.Limits
	// Limits bound one purchase (units, amount), as for Price.
	Limits Limits
}

// Concession is a right to a reduced price, defined once for the region.
type Concession struct {
	// Code, e.g. "STUDENT", "SENIOR70", "DISABLED", "LARGE-FAMILY".
	Code string
	Name string
	// PercentOff is the reduction: 51 for a student's ulga, 100 for free.
	PercentOff uint32
}

// Network is the transport network of the region: lines of stops with
// their distance from the first stop, and the fare table by distance.
type Network struct {
	Lines []Line
	// Bands in increasing UpToMetres: a ride of d metres costs the price of
	// the first band with d <= UpToMetres. The last band must cover the
	// longest line.
	Bands []Band
}

// Line is a route as a passenger rides it.
type Line struct {
	// ID as the vehicle's validator reports it, e.g. "T6" (tram 6).
	ID   string
	Name string
	// InstitutionID of the operator that is paid for rides on it.
	InstitutionID string
	// Stops in order; Metres strictly increasing from 0.
	Stops []Stop
}

// Stop is a stop of a line.
type Stop struct {
	// ID is unique in the region: two lines sharing a stop name it alike,
	// which is what lets a tap on one line prove where a journey on the
	// other ended.
	ID     string
	Name   string
	Metres uint32
}

// Band is one row of the fare table.
type Band struct {
	UpToMetres uint32
	PriceMinor int64
}

// Capping bounds what a card pays for capped products (transport fares) in
// a local day and an ISO week. The caps are reduced by the best concession
// the card holds among those Concessions lists, so a student's cap is a
// student's price. A cap of 0 is no cap.
type Capping struct {
	DailyMinor  int64
	WeeklyMinor int64
	Concessions []string
}

// JourneyRules decide what happens to a check-in that is never checked out.
type JourneyRules struct {
	// OpenMinutesMax: a tap on the same line later than this after the
	// check-in is a new check-in, not a check-out. Default 120.
	OpenMinutesMax uint32
	// AutoCorrect: when the next transport tap is at a stop of the
	// unfinished journey's line within AutoCorrectMinutes of its check-in,
	// the journey is priced as if checked out there, and the difference
	// refunded.
	AutoCorrect        bool
	AutoCorrectMinutes uint32
	// RequestDaysMax: how long after the check-in a holder may ask for a
	// correction (CardService.RequestCorrection).
	RequestDaysMax uint32
	// RequestsPer30DaysMax: how many requested corrections a card is
	// granted in 30 days; a request beyond is refused.
	RequestsPer30DaysMax uint32
}

// Bounds of a region.
const (
	ConcessionsMax   = 32
	LinesMax         = 256
	StopsPerLineMax  = 128
	BandsMax         = 32
	lineMetresMax    = 500_000 // 500 km
	requestDaysLimit = 366
	requestsLimit    = 31
)

// DefaultJourneyRules: a journey is open for two hours; the next tap within
// three hours at a stop of the line corrects it; a holder may ask for
// correction within 14 days, twice in 30 days.
func DefaultJourneyRules() JourneyRules {
	return JourneyRules{OpenMinutesMax: 120, AutoCorrect: true, AutoCorrectMinutes: 180, RequestDaysMax: 14, RequestsPer30DaysMax: 2}
}

// Validate rejects a region that cannot work, every problem in one error.
func (r *Region) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrRegion, fmt.Sprintf(format, args...)))
	}
	if err := r.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := r.Purse.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(r.Concessions) > ConcessionsMax {
		bad("%d concessions, at most %d", len(r.Concessions), ConcessionsMax)
	}
	seen := map[string]bool{}
	for _, c := range r.Concessions {
		if c.Code == "" || len(c.Code) > codeBytesMax || seen[c.Code] {
			bad("concession code %q empty, too long or twice", c.Code)
		}
		seen[c.Code] = true
		if c.PercentOff < 1 || c.PercentOff > 100 {
			bad("concession %s: %d%% off outside [1, 100]", c.Code, c.PercentOff)
		}
	}
	n := &r.Network
	if len(n.Lines) > LinesMax {
		bad("%d lines, at most %d", len(n.Lines), LinesMax)
	}
	if len(n.Bands) == 0 || len(n.Bands) > BandsMax {
		bad("%d fare bands, want 1 to %d", len(n.Bands), BandsMax)
	}
	for i, b := range n.Bands {
		if b.PriceMinor < 1 || b.PriceMinor > priceMaxMinor {
			bad("band %d: price %d outside [1, %d]", i, b.PriceMinor, priceMaxMinor)
		}
		if i > 0 && (b.UpToMetres <= n.Bands[i-1].UpToMetres || b.PriceMinor < n.Bands[i-1].PriceMinor) {
			bad("band %d: distances must increase and prices not fall", i)
		}
	}
	lines := map[string]bool{}
	stopNames := map[string]string{}
	for _, l := range n.Lines {
		if l.ID == "" || len(l.ID) > codeBytesMax || lines[l.ID] {
			bad("line id %q empty, too long or twice", l.ID)
		}
		lines[l.ID] = true
		if l.InstitutionID == "" {
			bad("line %s: no operator", l.ID)
		}
		if len(l.Stops) < 2 || len(l.Stops) > StopsPerLineMax {
			bad("line %s: %d stops, want 2 to %d", l.ID, len(l.Stops), StopsPerLineMax)
			continue
		}
		if l.Stops[0].Metres != 0 {
			bad("line %s: the first stop is not at 0 m", l.ID)
		}
		onLine := map[string]bool{}
		for i, s := range l.Stops {
			if s.ID == "" || len(s.ID) > codeBytesMax || onLine[s.ID] {
				bad("line %s: stop id %q empty, too long or twice", l.ID, s.ID)
			}
			onLine[s.ID] = true
			if name, ok := stopNames[s.ID]; ok && name != s.Name {
				bad("stop %s is named %q and %q", s.ID, name, s.Name)
			}
			stopNames[s.ID] = s.Name
			if i > 0 && s.Metres <= l.Stops[i-1].Metres {
				bad("line %s: stop %s not farther than the one before", l.ID, s.ID)
			}
			if s.Metres > lineMetresMax {
				bad("line %s: stop %s beyond %d m", l.ID, s.ID, lineMetresMax)
			}
		}
		if len(n.Bands) > 0 && l.Stops[len(l.Stops)-1].Metres > n.Bands[len(n.Bands)-1].UpToMetres {
			bad("line %s is longer than the last fare band", l.ID)
		}
	}
	c := r.Capping
	if c.DailyMinor < 0 || c.WeeklyMinor < 0 || c.DailyMinor > priceMaxMinor || c.WeeklyMinor > priceMaxMinor {
		bad("caps %d/%d outside [0, %d]", c.DailyMinor, c.WeeklyMinor, priceMaxMinor)
	}
	if c.DailyMinor > 0 && c.WeeklyMinor > 0 && c.WeeklyMinor < c.DailyMinor {
		bad("weekly cap %d below the daily cap %d", c.WeeklyMinor, c.DailyMinor)
	}
	for _, code := range c.Concessions {
		if !seen[code] {
			bad("capping honours unknown concession %q", code)
		}
	}
	j := r.Journeys
	if j.OpenMinutesMax < 1 || j.OpenMinutesMax > minutesMax {
		bad("OpenMinutesMax %d outside [1, %d]", j.OpenMinutesMax, minutesMax)
	}
	if j.AutoCorrect && (j.AutoCorrectMinutes < j.OpenMinutesMax || j.AutoCorrectMinutes > minutesMax) {
		bad("AutoCorrectMinutes %d outside [OpenMinutesMax, %d]", j.AutoCorrectMinutes, minutesMax)
	}
	if j.RequestDaysMax > requestDaysLimit || j.RequestsPer30DaysMax > requestsLimit {
		bad("correction requests %d days / %d per 30 days over %d / %d", j.RequestDaysMax, j.RequestsPer30DaysMax, requestDaysLimit, requestsLimit)
	}
	return errors.Join(errs...)
}

// line returns the line of the given id, nil if none. Lines are few; a
// scan is faster than a map at this size and needs no index to keep.
func (r *Region) line(id string) *Line {
	for i := range r.Network.Lines {
		if r.Network.Lines[i].ID == id {
			return &r.Network.Lines[i]
		}
	}
	return nil
}

func (r *Region) concession(code string) *Concession {
	for i := range r.Concessions {
		if r.Concessions[i].Code == code {
			return &r.Concessions[i]
		}
	}
	return nil
}

// stopIndex returns the position of a stop on a line, -1 if it is not on it.
func (l *Line) stopIndex(id string) int {
	for i := range l.Stops {
		if l.Stops[i].ID == id {
			return i
		}
	}
	return -1
}

// fare is the band price of a ride of d metres.
func (n *Network) fare(d uint32) int64 {
	for _, b := range n.Bands {
		if d <= b.UpToMetres {
			return b.PriceMinor
		}
	}
	return n.Bands[len(n.Bands)-1].PriceMinor // not reached for a validated region
}
