// Command civicard runs every role of civicard and talks to a running one:
//
//	civicard up        the embedded default: a cluster of one node in one process, with a demo city
//	civicard node      one node of a multi-node cluster
//	civicard gateway   a cluster member that only serves the API
//	civicard terminal  a terminal on its PC/SC readers (build tag pcsc); keygen makes its key
//	civicard card      the card back office: show, transactions, topup, block, issue, entitle, ...
//	civicard tap       one tap, as a terminal sends it
//	civicard admin     nodes, clearing cycles and payouts, terminals' keys; verify a stopped node's ledger
//	civicard sim       a day of the city from the outside, with faults, and a report
//
// Run `civicard help` for the flags of each. The binary is thin: main turns
// signals into a context and calls Main, which tests call too.
package main
