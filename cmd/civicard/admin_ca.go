package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"civicard/cluster/nodecert"
)

// runAdminCA creates the cluster's CA and issues node certificates in a
// secrets directory (cluster/nodecert):
//
//	civicard admin ca init  --data SECRETS_DIR
//	civicard admin ca issue --name NODE --data SECRETS_DIR
//
// Issuing again for a node replaces its certificate; a running node takes
// the new one for its next links.
func runAdminCA(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "issue") {
		return usagef("admin ca: want init or issue")
	}
	fs := newFlags("admin ca " + args[0])
	dir := fs.String("data", "./secrets", "secrets directory of the cluster (the nodes' --secrets)")
	name := fs.String("name", "", "node name (issue)")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	now := time.Now()
	if args[0] == "init" {
		if err := nodecert.InitCA(*dir, now); err != nil {
			if errors.Is(err, nodecert.ErrExists) {
				return fmt.Errorf("%s: %w", *dir, err)
			}
			return err
		}
		fmt.Fprintf(stdout, "CA written to %s and %s\n", filepath.Join(*dir, nodecert.CACertFile), filepath.Join(*dir, nodecert.CAKeyFile))
		return nil
	}
	if *name == "" {
		return usagef("admin ca issue: --name is required")
	}
	expiry, err := nodecert.Issue(*dir, *name, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certificate of %s written to %s, expires %s\n", *name, filepath.Join(*dir, nodecert.NodeCertFile(*name)), expiry.UTC().Format(time.RFC3339))
	return nil
}
