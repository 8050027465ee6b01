package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"civicard/terminals/station"
)

// runTerminal runs `civicard terminal --config FILE` (one terminal, its
// readers, until interrupted) and `civicard terminal keygen --out FILE`.
func runTerminal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keygen" {
		return runTerminalKeygen(args[1:], stdout)
	}
	fs := newFlags("terminal")
	configFile := fs.String("config", "", "the terminal's configuration file (JSON, required)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *configFile == "" {
		return usagef("terminal: --config is required")
	}
	cfg, err := station.LoadConfig(*configFile)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("terminal", cfg.TerminalID)
	registry := prometheus.NewRegistry()
	deps := station.Deps{
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
		Registerer: registry,
		Logger:     logger,
		Out:        stdout,
		Rand:       rand.Reader,
		Now:        time.Now,
	}
	if cfg.PINPad == station.PINPadStdin {
		deps.PINPad = station.NewLinePINPad(os.Stdin, stdout)
	}
	st, err := station.New(cfg, deps)
	if err != nil {
		return err
	}
	defer st.Close()
	names, err := listReaders()
	if err != nil {
		return err
	}
	matched, err := cfg.MatchReaders(names)
	if err != nil {
		return err
	}
	readers, closeReaders, err := openReaders(matched)
	if err != nil {
		return err
	}
	defer closeReaders()
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
		mux.Handle("/position", st.PositionHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		logger.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	}
	logger.Info("terminal ready", "readers", matched, "gateway", cfg.Gateway)
	fmt.Fprintf(stdout, "READY %d reader(s)\n", len(readers))
	return st.Run(ctx, readers)
}

func runTerminalKeygen(args []string, stdout io.Writer) error {
	fs := newFlags("terminal keygen")
	out := fs.String("out", "", "file for the private key (hex seed, mode 0600; required, must not exist)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return usagef("terminal keygen: --out is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(priv.Seed())); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, hex.EncodeToString(pub))
	return nil
}
