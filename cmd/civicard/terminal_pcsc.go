//go:build pcsc

package main

import (
	"context"
	"errors"
	"sync"

	"civicard/terminals/pcsc"
	"civicard/terminals/station"
)

func listReaders() ([]string, error) { return pcsc.Readers() }

// pcscReader adapts a PC/SC reader to station.Reader. When pcscd goes away
// (ServiceGone) it drops its contexts and establishes new ones at the next
// call; the station's serve loop backs off in between.
type pcscReader struct {
	name string

	mu      sync.Mutex
	reader  *pcsc.Reader
	watcher *pcsc.Watcher
}

func (r *pcscReader) Name() string { return r.name }

// contexts returns the reader's contexts, establishing them if needed.
func (r *pcscReader) contexts() (*pcsc.Reader, *pcsc.Watcher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reader == nil {
		reader, err := pcsc.OpenReader(r.name)
		if err != nil {
			return nil, nil, err
		}
		watcher, err := pcsc.NewWatcher()
		if err != nil {
			reader.Close()
			return nil, nil, err
		}
		r.reader, r.watcher = reader, watcher
	}
	return r.reader, r.watcher, nil
}

// check drops the contexts after an error that means pcscd is gone.
func (r *pcscReader) check(err error) error {
	if err != nil && pcsc.ServiceGone(err) {
		r.Close()
	}
	return err
}

func (r *pcscReader) Wait(ctx context.Context, present bool) error {
	_, watcher, err := r.contexts()
	if err != nil {
		return err
	}
	return r.check(watcher.Wait(ctx, r.name, present))
}

func (r *pcscReader) Connect() (station.CardConn, error) {
	reader, _, err := r.contexts()
	if err != nil {
		return nil, err
	}
	card, err := reader.Connect()
	if err != nil {
		return nil, r.check(err)
	}
	return card, nil
}

func (r *pcscReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.reader != nil {
		errs = append(errs, r.reader.Close(), r.watcher.Close())
	}
	r.reader, r.watcher = nil, nil
	return errors.Join(errs...)
}

func openReaders(names []string) ([]station.Reader, func(), error) {
	var readers []station.Reader
	var opened []*pcscReader
	closeAll := func() {
		for _, r := range opened {
			_ = r.Close()
		}
	}
	for _, name := range names {
		r := &pcscReader{name: name}
		if _, _, err := r.contexts(); err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, r)
		readers = append(readers, r)
	}
	if len(readers) == 0 {
		return nil, nil, errors.New("no readers")
	}
	return readers, closeAll, nil
}
