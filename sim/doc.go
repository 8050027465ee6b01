// Package sim drives a running civicard from the outside, through the same
// gateway API and terminal credentials that real terminals use, and tells
// what happened: taps per second, latency, results by kind, and whether the
// money is right. It exists because the properties that matter most (every
// acknowledged payment exactly once, not a grosz lost) only show when a
// whole city runs against the system, with its faults.
//
// A day of the city (`civicard sim`) is played in three steps:
//
//  1. Plan turns the demo city (demo.Generate, the same seed and cards the
//     target loaded), its transport network (demo.Tariff) and a DayConfig
//     into the day's events: commuters in the morning and afternoon peaks
//     checking in and out on the network's lines (some forget to check
//     out) or buying time tickets, errands at libraries, pools, parking,
//     offices and museums in their opening hours, concession and pass
//     holders, top-ups before the money runs out, lost cards blocked
//     mid-day, terminals that lose their connection for a while. Plan is
//     pure: virtual time only, one PCG stream from the seed, the same day
//     for the same inputs. PlanNodeFaults is the same for the faults of a
//     cluster: kill -9 and SIGSTOP of one node at a time.
//  2. Drive plays the events at their virtual times compressed by a speed
//     (or at a fixed rate), each terminal in its own goroutine sending its
//     taps in order, as a validator does, failing over between gateways
//     while a tap's outcome is unknown and deciding offline when none
//     answers; offline taps are uploaded (UploadOfflineTaps) when the
//     terminal is back. Every operation is recorded with the answer it got
//     (Op) and its latency (Recorder, which also draws the live progress
//     line).
//  3. Observer reads the ledger totals of every Raft group (its leader
//     replica, once every replica has applied the same entries) before and
//     after, and the whole history of every card the run touched. Check,
//     pure again, compares: every acknowledged operation is in the ledger
//     exactly once and as it was answered, a refused one is not there at
//     all; the totals moved by exactly what the run's transactions moved,
//     including offline debt and its repayment, and funding + cards +
//     receivables is still zero; no balance is negative. The run must be
//     the only writer meanwhile, and Check says so when it was not.
//
// BuildReport sums it all up for the terminal, as JSON, and as one HTML
// page with inline SVG plots of throughput and latency per second.
//
// Load is the older, simpler tool that `make bench` uses: a fixed number
// of taps from a fixed number of concurrent terminals, each sending its next
// tap when the last one was answered (a closed loop), against civicard's
// gateway (GatewayTapper), the Raft-only ceiling (LedgerTapper) or a
// baseline.
package sim
