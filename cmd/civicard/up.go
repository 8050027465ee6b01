package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"civicard/cluster"
	"civicard/domain/money"
	"civicard/gateway"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/sim/demo"
)

// drainTimeout is how long requests in flight may take to finish on Ctrl-C.
const drainTimeout = 5 * time.Second

// lostStopMax bounds the stop of a node the cluster has taken for dead.
const lostStopMax = 3 * time.Second

// runUp runs the embedded single-node default (`civicard up`): flags,
// config, Validate, run.
func runUp(ctx context.Context, self string, args []string, stdout, stderr io.Writer) error {
	cfg, err := upConfig(args)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	return serve(ctx, cfg, stderr, func(logger *slog.Logger, registry *prometheus.Registry) (*cluster.Node, error) {
		embedded := cluster.EmbeddedConfig{Settings: cfg.Node.Settings}
		embedded.Seed = cfg.Demo.seeder(logger)
		embedded.Logger, embedded.Registerer = logger, registry
		return cluster.StartEmbedded(ctx, embedded)
	}, func(node *cluster.Node, baseURL string) {
		fmt.Fprintf(stdout, "civicard is up (data in %s)\n", cfg.Node.DataDir)
		printWelcome(stdout, self, cfg.Node.DataDir, baseURL, cfg.Node.Currency, cfg.Demo.loaded())
	})
}

// upConfig reads the flags of `civicard up` into a config, not validated
// yet.
func upConfig(args []string) (config, error) {
	fs := newFlags("up")
	dataDir := fs.String("data", "./data", "data directory (ledger and secrets)")
	seed := fs.Uint64("seed", demo.DefaultConfig().Seed, "seed of the demo city loaded on first start")
	cards := fs.Int("cards", demo.DefaultConfig().Cards, "cards in the demo city (0: no demo city, an empty ledger)")
	serving := addServeFlags(fs)
	settling := addSettleFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return config{}, err
	}
	cfg := newConfig("up")
	if err := errors.Join(serving.apply(&cfg), settling.apply(&cfg)); err != nil {
		return config{}, err
	}
	cfg.Node.DataDir = *dataDir
	if *cards > 0 {
		cfg.Demo = &demoCity{cfg: demo.Config{Seed: *seed, Cards: *cards}}
		cfg.useDemoDebtor()
	}
	return cfg, nil
}

// demoCity is the demo city a node loads as its seed (`civicard up`,
// `civicard node --demo`), kept for the welcome.
type demoCity struct {
	cfg demo.Config
	// city is what was loaded, nil until then (and on a node that is not
	// the one that loads).
	city *demo.Dataset
}

// seeder loads the city into the cluster; nil for no city.
func (d *demoCity) seeder(logger *slog.Logger) cluster.Seeder {
	if d == nil {
		return nil
	}
	return func(ctx context.Context, target cluster.SeedTarget, credentialKey string) error {
		cfg := d.cfg
		cfg.CredentialKey = []byte(credentialKey)
		city, err := demo.Load(ctx, target, cfg, logger)
		d.city = city
		return err
	}
}

func (d *demoCity) loaded() *demo.Dataset {
	if d == nil {
		return nil
	}
	return d.city
}

// serveFlags are the flags of every command that runs a node.
type serveFlags struct {
	httpAddr          *string
	tlsCert           *string
	tlsKey            *string
	insecurePlainHTTP *bool
	logLevel          *string
	debugAddr         *string
	currency          *string
}

func addServeFlags(fs *flag.FlagSet) serveFlags {
	return serveFlags{
		httpAddr: fs.String("http", "127.0.0.1:8080", "address of the API (gRPC, Connect, JSON), /healthz and /metrics"),
		tlsCert:  fs.String("tls-cert", "", "PEM certificate (chain) of the API: serve it over TLS (with --tls-key)"),
		tlsKey:   fs.String("tls-key", "", "PEM private key of --tls-cert"),
		insecurePlainHTTP: fs.Bool("insecure-plain-http", false,
			"serve the API in plain text on a non-loopback --http address (behind a TLS-terminating proxy on a trusted network)"),
		logLevel:  fs.String("log-level", "info", "debug, info, warn or error"),
		debugAddr: fs.String("debug", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: off)"),
		currency: fs.String("currency", money.DefaultCurrency,
			"the city's currency (ISO 4217, PLN or EUR): of every amount, of the ledger and of the payouts; the same on every node, for the life of the data"),
	}
}

// apply sets what the flags give; cfg.Validate checks it.
func (f serveFlags) apply(cfg *config) error {
	if err := cfg.LogLevel.UnmarshalText([]byte(*f.logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	cfg.HTTPAddr, cfg.DebugAddr, cfg.Node.Currency = *f.httpAddr, *f.debugAddr, *f.currency
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.InsecurePlainHTTP = *f.tlsCert, *f.tlsKey, *f.insecurePlainHTTP
	return nil
}

// serve starts a node with start, serves the gateway in front of it until
// ctx ends, then stops both. welcome is called once the API listens. cfg
// has been validated.
func serve(ctx context.Context, cfg config, stderr io.Writer,
	start func(*slog.Logger, *prometheus.Registry) (*cluster.Node, error),
	welcome func(node *cluster.Node, baseURL string)) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var tlsConfig *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Listen before the slow start so a taken port fails at once.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	node, err := start(logger, registry)
	if err != nil {
		return err
	}
	defer func() {
		if err := node.Close(); err != nil {
			logger.Error("close node", slog.Any("error", err))
		}
	}()

	gwCfg := gateway.DefaultConfig()
	gwCfg.Currency = cfg.Node.Currency
	gwCfg.OperatorToken = node.OperatorToken
	gwCfg.TLS = tlsConfig
	gwCfg.Ready = node.Ready
	gwCfg.Describe = node.Describe
	if node.Settlement != nil {
		gwCfg.Settlement = node.Settlement
	}
	if r := node.Registry(); r != nil {
		gwCfg.RegistryAdmin = r
		gwCfg.UserRegistry = r
	}
	gwCfg.Nodes = node
	gwCfg.Logger = logger
	gwCfg.Registry = registry
	gw, err := gateway.New(node.Cluster, gwCfg)
	if err != nil {
		return err
	}
	if cfg.DebugAddr != "" {
		if err := serveProfiler(ctx, cfg.DebugAddr, logger); err != nil {
			return err
		}
	}
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
	}
	welcome(node, scheme+ln.Addr().String())
	serveCtx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)
	go func() {
		select {
		case err := <-node.Failed():
			if errors.Is(err, cluster.ErrRemoved) {
				logger.Info("stopping: this node was removed from the cluster")
			} else {
				logger.Error("node failed", slog.Any("error", err))
				// The cluster has taken this node for dead: it has nobody
				// to hand its work over to, and a stop that waits (on
				// connections to drain, on grains still in a call) only
				// keeps it from being started again as a new member. Past
				// lostStopMax it ends like a crash, which the ledger is
				// built to survive.
				time.AfterFunc(lostStopMax, func() {
					// The last words say why, as a normal stop's do.
					logger.Error("stopping took too long; exiting", slog.Duration("after", lostStopMax), slog.Any("error", err))
					os.Exit(exitRestart)
				})
			}
			stopServing(err)
		case <-serveCtx.Done():
		}
	}()
	err = gw.Serve(serveCtx, ln, drainTimeout)
	logger.Info("stopping")
	if cause := context.Cause(serveCtx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, cluster.ErrRemoved) {
		return cause
	}
	return err
}

// printWelcome tells where to look and gives three commands to try; the
// client commands read the secrets in secretsDir. Amounts are in currency.
func printWelcome(w io.Writer, self, secretsDir, baseURL, currency string, city *demo.Dataset) {
	fmt.Fprintf(w, "  API      %s   (gRPC, Connect and JSON: civicard.v1.TerminalService, civicard.v1.CardService)\n", baseURL)
	fmt.Fprintf(w, "  health   %s/healthz\n", baseURL)
	fmt.Fprintf(w, "  metrics  %s/metrics\n", baseURL)
	if city == nil || len(city.Cards) == 0 || len(city.Terminals) == 0 {
		return
	}
	fmt.Fprintf(w, "  demo     %d institutions, %d terminals, %d cards\n", len(city.Institutions), len(city.Terminals), len(city.Cards))
	card := city.Cards[0]
	for _, c := range city.Cards {
		if c.Kind == civicardv1.CardKind_CARD_KIND_PERSONAL && c.BalanceMinor > 0 {
			card = c
			break
		}
	}
	terminal := exampleTerminal(city)
	cmd := self
	if !strings.ContainsRune(cmd, filepath.Separator) {
		cmd = "civicard"
	}
	flags := ""
	if baseURL != "http://127.0.0.1:8080" {
		flags += " --addr " + baseURL
	}
	if filepath.Clean(secretsDir) != "data" {
		flags += " --data " + secretsDir
	}
	fmt.Fprintf(w, "\nTry (card %s of %s holds %s):\n", card.CardID, holder(card), money.Format(card.BalanceMinor, currency))
	fmt.Fprintf(w, "  %s card show %s%s\n", cmd, card.CardID, flags)
	fmt.Fprintf(w, "  %s card topup %s 20.00%s\n", cmd, card.CardID, flags)
	fmt.Fprintf(w, "  %s tap --terminal %s --card %s%s\n", cmd, terminal.GetTerminalId(), card.CardID, flags)
	fmt.Fprintf(w, "\nCtrl-C stops it; the next start on the same data directory resumes.\n")
}

func holder(card demo.CardSeed) string {
	if card.HolderName == "" {
		return "a bearer"
	}
	return card.HolderName
}

// exampleTerminal is a validator of a transport operator: the tap everybody
// knows.
func exampleTerminal(city *demo.Dataset) *civicardv1.Terminal {
	transport := map[string]bool{}
	for _, inst := range city.Institutions {
		transport[inst.GetInstitutionId()] = inst.GetKind() == civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT
	}
	for _, seed := range city.Terminals {
		if transport[seed.Terminal.GetInstitutionId()] {
			return seed.Terminal
		}
	}
	return city.Terminals[0].Terminal
}

// serveProfiler serves net/http/pprof on its own address, apart from the API,
// until ctx ends.
func serveProfiler(ctx context.Context, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("profiler", slog.Any("error", err))
		}
	}()
	logger.Info("profiler listening", slog.String("addr", ln.Addr().String()))
	return nil
}
