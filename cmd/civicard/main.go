package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"civicard/cluster"
)

// exitRestart is the exit status of a node the cluster no longer takes back
// (paused too long, or cut off from most of the cluster): a supervisor
// should start it again (systemd: RestartForceExitStatus=3).
const exitRestart = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `civicard — the city's public-services card

Usage:
  civicard up [--data DIR] [--http ADDR] [--seed N] [--cards N]   with the demo city (--cards 0: empty)
  civicard node --name N --peers NAME=ACTOR=RAFT,... [--data DIR] [--secrets DIR] [--http ADDR] [--shards N]
                [--membership automanaged|consul|etcd|k8s] [--quorum-timeout D]
                [--demo [--seed N] [--cards N]]     an empty cluster, or with --demo the demo city
  civicard gateway --name N --actor ADDR --peers ... [--http ADDR]   a member that only serves the API
  civicard card show ID
  civicard card transactions ID [--limit N]
  civicard card topup ID AMOUNT [--request-id R]
  civicard card block ID [--reason TEXT] [--request-id R]
  civicard tap --terminal T --card C [--service CODE] [--quantity N] [--seq N]
  civicard admin nodes --addr URL,URL...  what each node hosts and leads
  civicard admin ca init --data SECRETS_DIR          create the cluster's CA (nodes do, if missing)
  civicard admin ca issue --name N --data SECRETS_DIR  issue (or rotate) node N's certificate
  civicard admin verify [--data DIR]     check a stopped embedded node's ledger
  civicard admin settle [--cycle K]      close the open clearing cycle and pay it out
  civicard admin batches                 the settlement batches, newest first
  civicard admin statement INSTITUTION CYCLE [--format csv|json]
  civicard admin payout-file CYCLE [--out FILE]   the batch's pain.001.001.09 file
  civicard admin reconcile --addr URL,URL...      prove the books balance (non-zero exit if not)
  civicard admin terminals register --terminal T --public-key HEX
  civicard admin terminals revoke --terminal T [--reason TEXT]
  civicard admin institutions add --institution ID --kind KIND [--name N] [--town T] [--iban IBAN]
  civicard admin terminals add --terminal T --institution ID [--location L] [--credential C] [--public-key HEX]
  civicard admin tariff region set FILE           the region: network, fare bands, concessions, e-purse limits
  civicard admin tariff set --institution ID FILE an institution's price list (JSON, checked before it is set)
  civicard admin tariff show [--institution ID]   the versions in force, or one price list's file
  civicard admin tariff region show               the region's file
  civicard admin users add --name N --role ROLE [--institution ID | --card ID] [--expires-in D]
                                         a user of the API; prints its token once
  civicard admin users revoke NAME --reason TEXT  refuse a user's token from now on
  civicard admin users list                        the users, revoked ones too
  civicard admin audit verify [--data DIR]         check a stopped node's audit chains, naming the first broken link
  civicard sim [--addr URL,... --secrets DIR | --cluster N] [--chaos] [--seed N] [--speed X | --rate R]
                                         a day of the city against a running civicard, with faults, and a report
  civicard terminal --config FILE        run a terminal on its PC/SC readers (build tag pcsc)
  civicard terminal keygen --out FILE    a terminal's key pair: private to FILE, public printed

A node exits with status 3 when the cluster no longer takes it back (it was
paused, or cut off from most of the cluster, for too long): start it again.

Client commands take --addr (default http://127.0.0.1:8080) and read the
operator token and terminal credentials from --data (default ./data), or take
--token / --credential.
`

// Main runs one command and returns the process exit status.
func Main(ctx context.Context, self string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = runUp(ctx, self, args[1:], stdout, stderr)
	case "node":
		err = runNode(ctx, self, args[1:], stdout, stderr, false)
	case "gateway":
		err = runNode(ctx, self, args[1:], stdout, stderr, true)
	case "card":
		err = runCard(ctx, args[1:], stdout)
	case "tap":
		err = runTap(ctx, args[1:], stdout)
	case "admin":
		err = runAdmin(ctx, args[1:], stdout, stderr)
	case "sim":
		err = runSim(ctx, args[1:], stdout, stderr)
	case "terminal":
		err = runTerminal(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "civicard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "civicard %s: %v\n", args[0], err)
		switch {
		case isUsage(err):
			return 2
		case errors.Is(err, cluster.ErrRestartRequired):
			return exitRestart
		}
		return 1
	}
	return 0
}
