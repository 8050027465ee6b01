package main

import "strings"

// A rule decides about an import path. Pattern is a path, a prefix ending
// in "/..." that matches the path itself and everything below it, or "..."
// that matches every path. The first rule of a table that matches decides.
type rule struct {
	pattern string
	allowed bool
	why     string
}

func (r rule) matches(path string) bool {
	if r.pattern == "..." {
		return true
	}
	if prefix, ok := strings.CutSuffix(r.pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == r.pattern
}

// decide returns the first rule of table that matches path. A path no rule
// matches is allowed, and ok is false.
func decide(table []rule, path string) (r rule, ok bool) {
	for _, r := range table {
		if r.matches(path) {
			return r, true
		}
	}
	return rule{pattern: path, allowed: true}, false
}

// Reasons shared by the tables.
const (
	whyFiles   = "files and the process environment are I/O: the caller reads them and passes values in"
	whyNetwork = "the network is I/O: the rules are called by the code that talks, they do not talk"
	whyRandom  = "randomness differs between replicas, which must reach the same state from the same commands: draw the value outside and pass it in"
	whyLog     = "logging is output: return what happened and let the caller log it"
)

// stdRules judges the standard library imports of a domain package (code
// and tests alike, unless testStdRules allows it first). Whatever no rule
// names is allowed: the rest of the standard library computes.
var stdRules = []rule{
	{"os/...", false, whyFiles},
	{"io/fs", false, whyFiles},
	{"io/ioutil", false, whyFiles},
	{"path/filepath", false, "file paths are for code that touches files: " + whyFiles},
	{"net/...", false, whyNetwork},
	{"database/...", false, "a database is I/O; the domain's state is what its own state machines hold"},
	{"syscall", false, "system calls are I/O"},
	{"plugin", false, "loading code at run time is I/O"},
	{"math/rand", false, whyRandom},
	{"math/rand/v2", false, whyRandom},
	{"crypto/rand", false, whyRandom},
	{"hash/maphash", false, "maphash is seeded at random per process: " + whyRandom},
	{"log", false, whyLog},
	{"log/...", false, whyLog},
	{"expvar", false, "published variables are process-wide state served over HTTP: metrics belong to the caller"},
}

// moduleRules judges every import from outside the standard library, and
// everything of this module that a domain package links in through one
// (see check.go). The last rule refuses whatever no other rule names.
var moduleRules = []rule{
	{"civicard/domain/...", true, ""},
	{"civicard/messages/...", true, "protobuf messages: the domain's vocabulary (their own imports are checked too)"},
	{"google.golang.org/protobuf/...", true, "encoding the messages is computation"},
	{"civicard/cluster/...", false, "the node and its Raft layer wrap the domain: it must not know them"},
	{"civicard/actors/...", false, "the grains call the domain, not the other way round"},
	{"civicard/gateway/...", false, "the gateway is the edge: it calls the domain"},
	{"civicard/terminals/...", false, "terminal software is an edge: it calls the domain"},
	{"civicard/sim/...", false, "the demo city and load tests are built on the domain, not into it"},
	{"civicard/cmd/...", false, "the binary wires the system together; nothing imports it"},
	{"civicard/...", false, "only domain/ and messages/ lie below the domain"},
	{"github.com/asynkron/protoactor-go/...", false, "actors are how the system runs, not what it decides"},
	{"github.com/hashicorp/...", false, "Raft and its storage make decisions durable; they are cluster/replication's business"},
	{"google.golang.org/grpc/...", false, whyNetwork},
	{"connectrpc.com/...", false, whyNetwork},
	{"github.com/prometheus/...", false, "metrics are the caller's: return what to count"},
	{"...", false, "the domain depends on the standard library, protobuf and messages/ only: argue for a new dependency in this table first"},
}

// testRules judge the imports of a domain package's _test.go files before
// stdRules and moduleRules do. A test may read its testdata and draw seeded
// random cases, but the domain's tests still run on the domain alone: a
// test that needs the demo city, a node or the network tests something
// else and belongs where that lives.
var testRules = []rule{
	{"os", true, "tests read testdata files"},
	{"io/fs", true, "tests read testdata files"},
	{"path/filepath", true, "tests find testdata files"},
	{"math/rand", true, "property tests draw seeded cases"},
	{"math/rand/v2", true, "property tests draw seeded cases"},
	{"testing/...", true, ""},
	{"github.com/cockroachdb/datadriven", true, "scenario files (testdata/*.txt)"},
	{"civicard/sim/...", false, "the domain's tests use fixtures of their own (testdata/), not the demo city: a change to the demo must not change what the rules are tested against"},
}

// clockFuncs are the package-level identifiers of package time that read
// the host's clock or time zone or wait on it. Domain code takes time as a
// value (a tap's time, a command's time) from its caller; the city's
// calendar is computed (domain/tariff/calendar.go), not read from the host.
var clockFuncs = map[string]string{
	"Now":          "reads the clock",
	"Since":        "reads the clock",
	"Until":        "reads the clock",
	"Sleep":        "waits on the clock",
	"After":        "waits on the clock",
	"Tick":         "waits on the clock",
	"NewTimer":     "waits on the clock",
	"NewTicker":    "waits on the clock",
	"AfterFunc":    "waits on the clock",
	"LoadLocation": "reads the host's zone database",
	"Local":        "is the host's time zone",
}

// clockMethods are the methods of time.Time that do the same.
var clockMethods = map[string]string{
	"Local": "converts to the host's time zone",
}

const whyClock = "the domain takes time as a value from its caller: replicas that read their own clocks or zones would decide differently"
