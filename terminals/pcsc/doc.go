// Package pcsc connects the card application (package cardapp) to real
// readers through PC/SC (pcscd, via github.com/ebfe/scard). It needs cgo and
// libpcsclite, so everything but this doc.go builds only with the "pcsc"
// build tag:
//
//	go test -tags pcsc ./terminals/...   (scripts/pcscd.sh starts a private pcscd with vpcd readers)
//
// Contexts: a Watcher waits for cards on its own PC/SC context, and each
// Reader transmits on another, because a call on a context blocks while
// GetStatusChange waits on it.
//
// Errors: CardGone reports the errors that mean "the card left during the
// tap" (the tap failed, nothing was charged); ServiceGone those that mean
// pcscd itself went away (establish the contexts again, with backoff).
package pcsc
