package station

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Position is where a transport validator is: its vehicle's line, the stop
// it is at and its direction on the line (+1 towards the last stop, -1
// towards the first, 0 unknown). A check-in/check-out tap carries it; the
// fare engine prices the ride from it. A validator at a fixed place (a
// station gate) keeps the position of its configuration; one on a vehicle
// is told each stop by the vehicle's on-board computer (PUT /position).
type Position struct {
	Line      string `json:"line"`
	Stop      string `json:"stop"`
	Direction int8   `json:"direction"`
}

// Bounds of a line and a stop id, as the gateway's.
const (
	lineIDMax = 32
	stopIDMax = 64
)

// Validate rejects a position no tap could carry.
func (p Position) Validate() error {
	switch {
	case len(p.Line) > lineIDMax || len(p.Stop) > stopIDMax:
		return fmt.Errorf("line and stop are at most %d and %d bytes", lineIDMax, stopIDMax)
	case (p.Line == "") != (p.Stop == ""):
		return errors.New("line and stop go together: both or neither")
	case p.Direction < -1 || p.Direction > 1:
		return fmt.Errorf("direction %d is not -1, 0 or +1", p.Direction)
	}
	return nil
}

// position is the station's current position, changed while taps are made.
type position struct {
	mu  sync.Mutex
	now Position
}

func (p *position) get() Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now
}

func (p *position) set(to Position) error {
	if err := to.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = to
	return nil
}

// Position is where the terminal is now.
func (s *Station) Position() Position { return s.pos.get() }

// SetPosition moves the terminal, e.g. to the stop its vehicle is at: the
// next taps are made there.
func (s *Station) SetPosition(p Position) error {
	if err := s.pos.set(p); err != nil {
		return err
	}
	s.deps.Logger.Info("position", "line", p.Line, "stop", p.Stop, "direction", p.Direction)
	return nil
}

// positionBodyMax bounds a PUT /position body.
const positionBodyMax = 1 << 10

// PositionHandler serves GET /position (where the terminal is) and PUT
// /position (the on-board computer's announcement of a stop), both as JSON.
func (s *Station) PositionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			var p Position
			dec := json.NewDecoder(io.LimitReader(r.Body, positionBodyMax))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				http.Error(w, "position: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := s.SetPosition(p); err != nil {
				http.Error(w, "position: "+err.Error(), http.StatusBadRequest)
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Position())
	})
}
