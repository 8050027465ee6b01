package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
)

// Group commit. One goroutine, the batcher, turns proposals into log
// entries:
//
//  1. take an in-flight slot (at most InFlightMax entries are proposed and
//     not yet applied);
//  2. wait for a proposal, then take everything else already queued, up to
//     BatchMax commands and entryBytesMax bytes, into one ledgerv1.Batch;
//  3. raft.Apply it, and start a goroutine that waits for the entry's future,
//     gives the slot back and hands every waiter its own Result.
//
// There is no linger timer: under light load an entry leaves with the one
// proposal that is there, at the cost of one fsync; under heavy load the
// proposals that arrive while the slots are busy form the next, larger
// entry. Batches grow with the load and latency stays about one or two
// fsyncs.

// proposal is one Propose call waiting for its Result.
type proposal struct {
	ctx  context.Context
	cmd  *ledgerv1.Command
	size int          // encoded bytes
	done chan outcome // buffered (1): the awaiter never blocks on it
}

type outcome struct {
	res *ledgerv1.Result
	err error
}

// chunk is one log entry's worth of a ProposeAll call.
type chunk struct {
	cmds    []*ledgerv1.Command
	first   int                // index of cmds[0] in the ProposeAll call
	results []*ledgerv1.Result // filled in before done gets nil
	done    chan<- error       // buffered for all chunks of the call
}

// runBatcher is the batcher loop. It returns when g.stop is closed, after
// failing whatever is still queued with ErrClosed.
func (g *Group) runBatcher() {
	defer close(g.batcherDone)
	// carry was taken from the queue but did not fit the previous entry.
	var carry *proposal
	for {
		select {
		case g.slots <- struct{}{}:
		case <-g.stop:
			g.failQueued(carry)
			return
		}
		if carry == nil {
			select {
			case carry = <-g.queue:
			case c := <-g.bulk:
				g.submitChunk(c)
				continue
			case <-g.stop:
				<-g.slots
				g.failQueued(nil)
				return
			}
		}
		var batch []*proposal
		batch, carry = g.gather(carry)
		g.submitProposals(batch)
	}
}

// gather returns first and whatever else is queued, up to BatchMax commands
// and entryBytesMax bytes; a proposal that would pass the byte limit is
// returned as carry, for the next entry.
func (g *Group) gather(first *proposal) (batch []*proposal, carry *proposal) {
	batch = make([]*proposal, 0, min(g.cfg.BatchMax, 1+len(g.queue)))
	batch = append(batch, first)
	bytes := first.size
	for len(batch) < g.cfg.BatchMax {
		select {
		case p := <-g.queue:
			if bytes+p.size > entryBytesMax {
				return batch, p
			}
			batch = append(batch, p)
			bytes += p.size
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// submitProposals proposes batch as one entry. The batcher holds a slot for
// it.
func (g *Group) submitProposals(batch []*proposal) {
	// A proposal whose caller stopped waiting is dropped: its caller was told
	// the outcome is unknown, and not applying it is one of the outcomes.
	live := batch[:0]
	for _, p := range batch {
		if p.ctx.Err() == nil {
			live = append(live, p)
		}
	}
	data, live := encodeProposals(live)
	if len(live) == 0 {
		<-g.slots
		return
	}
	g.submit(data, len(live), func(results []*ledgerv1.Result, err error) {
		for i, p := range live {
			if err != nil {
				p.done <- outcome{err: err}
			} else {
				p.done <- outcome{res: results[i]}
			}
		}
	})
}

// encodeProposals encodes the commands of batch as a ledgerv1.Batch. A
// command that does not encode (a string that is not UTF-8) fails alone,
// with ErrInvalid, and is left out.
func encodeProposals(batch []*proposal) ([]byte, []*proposal) {
	if len(batch) == 0 {
		return nil, nil
	}
	cmds := make([]*ledgerv1.Command, len(batch))
	for i, p := range batch {
		cmds[i] = p.cmd
	}
	data, err := proto.Marshal(&ledgerv1.Batch{Commands: cmds})
	if err == nil {
		return data, batch
	}
	// Rare: find the culprits one by one.
	good := batch[:0]
	for _, p := range batch {
		if _, err := proto.Marshal(p.cmd); err != nil {
			p.done <- outcome{err: fmt.Errorf("%w: %w", ErrInvalid, err)}
			continue
		}
		good = append(good, p)
	}
	if len(good) == len(batch) {
		// Each encodes alone but not together: cannot happen, but fail them
		// all rather than loop.
		for _, p := range batch {
			p.done <- outcome{err: fmt.Errorf("%w: %w", ErrInvalid, err)}
		}
		return nil, nil
	}
	return encodeProposals(good)
}

// submitChunk proposes one entry of a ProposeAll call. The batcher holds a
// slot for it.
func (g *Group) submitChunk(c *chunk) {
	data, err := proto.Marshal(&ledgerv1.Batch{Commands: c.cmds})
	if err != nil {
		<-g.slots
		c.done <- fmt.Errorf("%w: %w", ErrInvalid, err)
		return
	}
	g.submit(data, len(c.cmds), func(results []*ledgerv1.Result, err error) {
		if err == nil {
			copy(c.results, results)
		}
		c.done <- err
	})
}

// submit proposes one log entry of n commands. The caller holds an in-flight
// slot; a new goroutine waits for the entry, gives the slot back and calls
// deliver with the n Results (or an error). Only the batcher calls submit.
func (g *Group) submit(data []byte, n int, deliver func([]*ledgerv1.Result, error)) {
	g.metrics.batchCommands.Observe(float64(n))
	start := time.Now()
	f := g.raft.Apply(data, g.cfg.ApplyTimeout)
	g.entries.Add(1)
	go func() {
		defer g.entries.Done()
		results, err := g.await(f, n, start)
		<-g.slots
		deliver(results, err)
	}()
}

// await waits until the entry is committed and applied and returns the
// ledger's Results. The future's Error says whether Raft committed the
// entry; Response carries what the FSM answered.
func (g *Group) await(f raft.ApplyFuture, n int, start time.Time) ([]*ledgerv1.Result, error) {
	if err := g.futureError(f); err != nil {
		return nil, g.raftError(err)
	}
	g.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	switch resp := f.Response().(type) {
	case []*ledgerv1.Result:
		if len(resp) != n {
			return nil, fmt.Errorf("replication: the ledger answered %d results for %d commands", len(resp), n)
		}
		return resp, nil
	case error:
		return nil, resp
	default:
		return nil, fmt.Errorf("replication: unexpected state machine response %T", resp)
	}
}

// futureError waits for the future's Error. Raft never answers an entry
// still queued for its leader loop when it shuts down, so once Close has
// shut raft down, an entry not answered by then is given up on: its outcome
// is unknown (and the goroutine waiting on raft's future stays blocked, one
// per such entry, which only a shutdown leaves behind).
func (g *Group) futureError(f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		return err
	case <-g.raftDown:
		select {
		case err := <-errc:
			return err
		default:
			return errors.New("raft shut down without answering the entry")
		}
	}
}

// failQueued answers every proposal still queued, and carry, with
// ErrClosed. Close has set g.closed, so nothing enters the queue any more.
func (g *Group) failQueued(carry *proposal) {
	if carry != nil {
		carry.done <- outcome{err: ErrClosed}
	}
	for {
		select {
		case p := <-g.queue:
			p.done <- outcome{err: ErrClosed}
		default:
			return
		}
	}
}

// splitChunks cuts cmds into entries of at most batchMax commands and
// entryBytesMax bytes, checking every command.
func splitChunks(cmds []*ledgerv1.Command, batchMax int) ([]*chunk, error) {
	var chunks []*chunk
	first, bytes := 0, 0
	for i, cmd := range cmds {
		size, err := checkCommand(cmd)
		if err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		if i > first && (i-first == batchMax || bytes+size > entryBytesMax) {
			chunks = append(chunks, &chunk{cmds: cmds[first:i], first: first})
			first, bytes = i, 0
		}
		bytes += size
	}
	return append(chunks, &chunk{cmds: cmds[first:], first: first}), nil
}
