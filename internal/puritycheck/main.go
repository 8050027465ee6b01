package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run checks the packages the arguments name, writes every finding to
// stdout and returns the exit status: 0 when none, 1 when some, 2 when the
// packages could not be loaded.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("puritycheck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("C", ".", "the `directory` the package patterns are relative to")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: puritycheck [-C dir] packages (e.g. ./domain/...)")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() == 0 {
		flags.Usage()
		return 2
	}
	base, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "puritycheck: %v\n", err)
		return 2
	}
	findings, err := check(ctx, base, flags.Args())
	if err != nil {
		fmt.Fprintf(stderr, "puritycheck: %v\n", err)
		return 2
	}
	for _, f := range findings {
		fmt.Fprintln(stdout, f.format(base))
	}
	if len(findings) > 0 {
		fmt.Fprintf(stderr, "puritycheck: %d finding(s): the packages under domain/ must stay pure (internal/puritycheck/rules.go says why)\n", len(findings))
		return 1
	}
	return 0
}
