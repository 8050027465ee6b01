// Command puritycheck keeps the packages under domain/ pure: rules and
// state machines that import only the standard library, protobuf and the
// messages of messages/, and never read a clock, draw a random number, log,
// or touch a file, the network, an actor or Raft. `make lint` runs it:
//
//	go run ./internal/puritycheck ./domain/...
//
// It prints each broken rule as file:line:col with the rule's reason, and
// exits 1 when there is one (2 when the packages do not load).
//
// # Why a check
//
// The domain is pure so that every replica that applies the same commands
// reaches the same state, byte for byte, and so that its rules are tested
// in microseconds without a node. Purity is lost one import at a time, in
// a change that looks harmless: a time.Now for a default, a log line, a
// helper from the demo city in a test. The compiler does not mind; this
// check does, at the line that does it.
//
// # The rules
//
// The tables in rules.go, each row with its reason; the first matching row
// decides:
//
//   - Imports of the package's code: standard library packages for files,
//     the environment, the network, databases, system calls, randomness and
//     logging are refused, the rest of the standard library is allowed.
//     From outside it only protobuf, civicard/messages/... and
//     civicard/domain/... are allowed. A messages/ package is judged by
//     what it imports in turn (a grain's generated code links the actor
//     library), since the domain links in all of it.
//   - Imports of _test.go files: the same, except that a test may read its
//     testdata, draw seeded random cases and use datadriven; and it may not
//     use the demo city (sim/...) either, so that the rules are tested
//     against fixtures of their own.
//   - Uses of package time in the code (not the tests): the functions that
//     read the clock or wait on it (Now, Since, Until, Sleep, After, Tick,
//     NewTimer, NewTicker, AfterFunc), and the host's time zone
//     (LoadLocation, Local, Time.Local), called or taken as a value, under
//     whatever name the file imports time. Time comes in from the caller.
//
// Files a build constraint leaves out on this machine are checked too
// (their imports), so a file for another system cannot bring in what this
// one may not.
package main
