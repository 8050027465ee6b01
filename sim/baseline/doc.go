// Package baseline is what a municipality would build instead of civicard:
// one PostgreSQL 15 database with a card table, where a tap is one
// transaction (UPDATE the balance with a balance check, INSERT the transfer,
// synchronous commit). The benchmarks drive it with the same load generator
// and concurrency as civicard, so the two are compared in the same run.
//
// Server starts a private PostgreSQL in a temporary directory, listening on
// 127.0.0.1 only, and stops it afterwards; it never touches a system cluster.
package baseline
