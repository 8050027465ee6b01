//go:build !pcsc

package main

import (
	"errors"

	"civicard/terminals/station"
)

// errNoPCSC: PC/SC needs cgo and libpcsclite, so reader support is built
// only with the "pcsc" tag.
var errNoPCSC = errors.New("this civicard was built without PC/SC: build it with `go build -tags pcsc ./cmd/civicard` (needs libpcsclite-dev)")

func listReaders() ([]string, error) { return nil, errNoPCSC }

func openReaders([]string) ([]station.Reader, func(), error) { return nil, nil, errNoPCSC }
