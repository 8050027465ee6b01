package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// workerDispatcher runs the grains' mailboxes on goroutines that it keeps
// for a while after their work is done, where the library's default starts
// a goroutine for every run of a mailbox. A new goroutine starts with a small
// stack, and a grain's work (a nested grain call, protobuf, the fare engine)
// grows it by copying; profiles of a loaded node showed about 4 % of its CPU
// in that growth. A kept worker has grown its stack once.
//
// It never queues: work goes to an idle worker if one is waiting, else to a
// new goroutine, so a mailbox that blocks (a grain waiting for another's
// answer) holds up nothing else, exactly as with the default. Workers are
// as many as mailboxes run at once, and an idle one exits after idleMax.
type workerDispatcher struct {
	work       chan func()
	idleMax    time.Duration
	throughput int
	started    atomic.Int64 // workers started, ever
}

var _ actor.Dispatcher = (*workerDispatcher)(nil)

// dispatchThroughput is how many messages a mailbox handles before it lets
// others run, the library's default.
const dispatchThroughput = 300

func newWorkerDispatcher(idleMax time.Duration) *workerDispatcher {
	return &workerDispatcher{work: make(chan func()), idleMax: idleMax, throughput: dispatchThroughput}
}

func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn: // an idle worker took it
	default:
		d.started.Add(1)
		go d.worker(fn)
	}
}

func (d *workerDispatcher) Throughput() int { return d.throughput }

func (d *workerDispatcher) worker(fn func()) {
	idle := time.NewTimer(d.idleMax)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(d.idleMax)
		select {
		case fn = <-d.work:
		case <-idle.C:
			return
		}
	}
}
