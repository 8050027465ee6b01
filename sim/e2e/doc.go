// Package e2e holds civicard's end-to-end tests: the city seen from the
// outside, through the real binary. TestMain builds ./cmd/civicard once; each
// test starts `civicard up` or a cluster of `civicard node` processes
// (sim/procnode) on loopback ports and temporary data directories, drives
// them over the public API and the CLI, injects faults (kill -9, SIGSTOP,
// rolling restarts, network partitions, a leader lost mid-settlement) and
// checks what was acknowledged against the ledger, to the grosz.
//
// The tests live here rather than beside the code they exercise because
// they test no one package: a rule is tested first in its own package
// (domain/, actors/, ...), and here only that the processes together keep
// it. They run without the race detector (`make unit` runs them apart):
// the actor library races inside its own process, so the cluster is
// tested across processes instead.
//
// The harness is harness_test.go: the binary, a city (`civicard up`), a
// cluster, clients, and waitFor, which every wait on a condition uses.
// The partition tests need root and iproute2 to make network namespaces
// (netlab_test.go): without them they skip, except under CI=true, where
// they fail. The tests of `civicard terminal` on real PC/SC readers have
// the build tag pcsc and run under scripts/pcscd.sh (`make pcsc`).
package e2e
