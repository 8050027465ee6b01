package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"civicard/cluster"
	"civicard/sim"
	"civicard/sim/demo"
	"civicard/sim/procnode"
)

// simFlags are the flags of `civicard sim`.
type simFlags struct {
	addr, secrets                *string
	clusterNodes                 *int
	chaos                        *bool
	seed, citySeed               *uint64
	cards, riders, lost, offline *int
	speed, rate                  *float64
	checkInOut, passes           *bool
	jsonPath, htmlPath           *string
	progressEvery                *time.Duration
	logLevel                     *string
}

func addSimFlags(fs interface {
	String(string, string, string) *string
	Int(string, int, string) *int
	Bool(string, bool, string) *bool
	Uint64(string, uint64, string) *uint64
	Float64(string, float64, string) *float64
	Duration(string, time.Duration, string) *time.Duration
}) simFlags {
	return simFlags{
		addr:          fs.String("addr", "http://127.0.0.1:8080", "the gateways of a running civicard, comma-separated"),
		secrets:       fs.String("secrets", "./data", "directory of the operator token and the terminal key of the running civicard"),
		clusterNodes:  fs.Int("cluster", 0, "start and own a local cluster of this many `civicard node` processes instead (0: drive --addr)"),
		chaos:         fs.Bool("chaos", false, "inject faults: terminals offline and back; with --cluster also kill -9, SIGSTOP and restarts of nodes"),
		seed:          fs.Uint64("seed", 1, "seed of the day: the same seed, city and flags give the same events"),
		citySeed:      fs.Uint64("city-seed", demo.DefaultConfig().Seed, "seed of the demo city the target loaded (civicard up --seed)"),
		cards:         fs.Int("cards", 0, "cards of the demo city the target loaded (0: as many as its ledger holds; with --cluster: 150000)"),
		riders:        fs.Int("riders", 0, "cards used during the day (0: a tenth of the cards)"),
		lost:          fs.Int("lost", -1, "cards reported lost and blocked mid-day (-1: one per thousand riders, at least one)"),
		offline:       fs.Int("offline-terminals", -1, "terminals that go offline for a while (-1: none, or one in 25 with --chaos)"),
		speed:         fs.Float64("speed", 720, "virtual seconds per wall second (1440: the day in a minute)"),
		rate:          fs.Float64("rate", 0, "play the day's events at this fixed rate per second instead of by --speed (a load test)"),
		checkInOut:    fs.Bool("check-in-out", true, "riders on the network's lines check in and out (\"CICO\" with line, stop and direction)"),
		passes:        fs.Bool("passes", true, "some pass holders renew their 30-day pass (\"PASS-30D\")"),
		jsonPath:      fs.String("json", "sim-report.json", "write the report as JSON here (empty: not)"),
		htmlPath:      fs.String("html", "sim-report.html", "write the report as HTML with plots here (empty: not)"),
		progressEvery: fs.Duration("progress", time.Second, "how often the live progress line is redrawn (0: never)"),
		logLevel:      fs.String("log-level", "warn", "log level of the nodes of --cluster"),
	}
}

// simSequencesPerRun is how far apart the terminal sequence numbers of two
// runs start: a run starts its terminals at (unix seconds) * this, so two
// runs against the same ledger, a second or more apart, never share an
// idempotency key.
const simSequencesPerRun = 1_000_000

// simStopTimeout bounds the graceful stop of a node the sim started.
const simStopTimeout = 30 * time.Second

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim")
	f := addSimFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *f.clusterNodes < 0 || *f.clusterNodes > 9:
		return usagef("--cluster %d outside [0, 9]", *f.clusterNodes)
	case *f.speed <= 0 && *f.rate <= 0:
		return usagef("--speed or --rate must be above zero")
	case *f.rate < 0:
		return usagef("--rate %v is negative", *f.rate)
	case *f.cards < 0 || *f.cards > demo.CardsMax:
		return usagef("--cards %d outside [0, %d]", *f.cards, demo.CardsMax)
	}
	started := time.Now()
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	defer httpClient.CloseIdleConnections()

	gateways := strings.Split(*f.addr, ",")
	secrets := *f.secrets
	target := "civicard at " + *f.addr
	var owned *simCluster
	if *f.clusterNodes > 0 {
		cards := cmp.Or(*f.cards, demo.DefaultConfig().Cards)
		*f.cards = cards
		var err error
		if owned, err = startSimCluster(ctx, *f.clusterNodes, cards, *f.citySeed, *f.logLevel, stderr); err != nil {
			return err
		}
		defer owned.stop(stderr)
		gateways, secrets = owned.gateways(), owned.secrets
		target = fmt.Sprintf("a local cluster of %d nodes", *f.clusterNodes)
	}
	token, err := cluster.ReadSecret(secrets, cluster.OperatorTokenFile)
	if err != nil {
		return fmt.Errorf("operator token (give --secrets): %w", err)
	}
	key, err := cluster.ReadSecret(secrets, cluster.CredentialKeyFile)
	if err != nil {
		return fmt.Errorf("terminal key (give --secrets): %w", err)
	}
	observer := &sim.Observer{Gateways: gateways, HTTPClient: httpClient, OperatorToken: token}
	before, err := observer.Ledger(ctx)
	if err != nil {
		return err
	}
	cards := *f.cards
	if cards == 0 {
		cards = int(before.Cards)
	}
	if cards == 0 {
		return errors.New("the ledger holds no cards: start civicard with its demo city")
	}
	city, err := demo.Generate(demo.Config{Seed: *f.citySeed, Cards: cards, CredentialKey: []byte(key)})
	if err != nil {
		return err
	}
	day := sim.DefaultDayConfig(cards)
	day.Seed, day.CheckInOut, day.Passes = *f.seed, *f.checkInOut, *f.passes
	if *f.riders > 0 {
		day.Riders = *f.riders
	}
	day.LostCards = max(1, day.Riders/1000)
	if *f.lost >= 0 {
		day.LostCards = *f.lost
	}
	if *f.offline >= 0 {
		day.OfflineTerminals = *f.offline
	} else if *f.chaos {
		day.OfflineTerminals = max(1, len(city.Terminals)/25)
	}
	region, _ := demo.Tariff()
	events, err := sim.Plan(city, region.Network, day)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(stderr, "civicard sim: %s, %d cards, %d riders, %d events\n", target, cards, day.Riders, len(events))

	firstSequence := uint64(started.Unix()) * simSequencesPerRun
	operations := 0
	for _, ev := range events {
		if ev.Kind == sim.EventTap || ev.Kind == sim.EventTopUp || ev.Kind == sim.EventBlock {
			operations++
		}
	}
	recorder := sim.NewRecorder(operations)
	// How long the run takes, for the faults to fall within it.
	var wall time.Duration
	if len(events) > 0 {
		wall = time.Duration(float64(events[len(events)-1].At-events[0].At) / *f.speed)
	}
	if *f.rate > 0 {
		wall = time.Duration(float64(len(events)) / *f.rate * float64(time.Second))
	}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var faults []sim.FaultRecord
	var chaosDone sync.WaitGroup
	driveStart := time.Now()
	if *f.chaos && owned != nil {
		plan := sim.PlanNodeFaults(*f.seed, len(owned.nodes), wall)
		chaosDone.Go(func() { faults = owned.inject(chaosCtx, driveStart, plan, stderr) })
	}
	ops, err := sim.Drive(ctx, sim.DriveConfig{
		Gateways: gateways, HTTPClient: httpClient, OperatorToken: token, City: city, Events: events,
		Speed: *f.speed, Rate: *f.rate, FirstSequence: firstSequence, RequestPrefix: fmt.Sprintf("sim-%d", started.UnixNano()),
		Midnight: time.Date(started.Year(), started.Month(), started.Day(), 0, 0, 0, 0, time.Local),
		Start:    driveStart, Recorder: recorder, Progress: stderr, ProgressEvery: *f.progressEvery, ProgressLines: !isTerminal(stderr),
	})
	stopChaos()
	chaosDone.Wait()
	if err != nil {
		return err
	}
	driven := time.Since(driveStart)
	if owned != nil {
		if err := owned.ensureUp(ctx); err != nil {
			return err
		}
	}
	after, err := observer.Ledger(ctx)
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, op := range ops {
		touched[op.Card] = true
	}
	fmt.Fprintf(stderr, "checking %d operations on %d cards\n", len(ops), len(touched))
	read, err := observer.Cards(ctx, slices.Sorted(func(yield func(string) bool) {
		for c := range touched {
			if !yield(c) {
				return
			}
		}
	}))
	if err != nil {
		return err
	}
	observed := sim.Observed{Before: before.Totals, After: after.Totals, Cards: read}
	invariants := sim.Check(ops, observed)
	invariants = append(invariants, sim.Invariant{
		Name: "every replica holds the same ledger", OK: after.Identical,
		Detail: fmt.Sprintf("%d groups, %d replicas read", after.Groups, after.Replicas),
	})
	report := sim.BuildReport(sim.RunInfo{
		Target: target, Started: started, Seed: *f.seed, Cards: cards, Riders: day.Riders, Terminals: len(city.Terminals),
		Events: len(events), Speed: *f.speed, Rate: *f.rate, CheckInOut: *f.checkInOut, Chaos: *f.chaos,
	}, driven, recorder, append(faults, recorder.Faults()...), sim.LedgerReport{
		Before: before.Totals, After: after.Totals, Groups: after.Groups, Replicas: after.Replicas, Identical: after.Identical,
	}, sim.Flows(ops, observed), invariants)
	report.WriteText(stdout)
	if err := writeReports(report, *f.jsonPath, *f.htmlPath, stdout); err != nil {
		return err
	}
	if !report.OK {
		return errors.New("invariants broken (see the report)")
	}
	return nil
}

func writeReports(report *sim.DayReport, jsonPath, htmlPath string, stdout io.Writer) error {
	if jsonPath != "" {
		out, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(out, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", jsonPath)
	}
	if htmlPath != "" {
		file, err := os.Create(htmlPath)
		if err != nil {
			return err
		}
		if err := report.WriteHTML(file); err != nil {
			file.Close()
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", htmlPath)
	}
	return nil
}

// simCluster is a local cluster the sim started and owns: its nodes'
// processes, data and logs in a temporary directory.
type simCluster struct {
	dir     string
	secrets string
	nodes   []*procnode.Node
	logs    []*os.File
}

func startSimCluster(ctx context.Context, n, cards int, citySeed uint64, logLevel string, stderr io.Writer) (*simCluster, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the civicard binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "civicard-sim-")
	if err != nil {
		return nil, err
	}
	c := &simCluster{dir: dir, secrets: filepath.Join(dir, "secrets")}
	ports, err := procnode.FreeNodePorts(n)
	if err != nil {
		return nil, err
	}
	var peers []string
	for i, p := range ports {
		peers = append(peers, fmt.Sprintf("n%d=%s=%s", i+1, p.ActorAddr(), p.RaftAddr()))
	}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		data := filepath.Join(dir, name)
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, err
		}
		c.logs = append(c.logs, log)
		c.nodes = append(c.nodes, &procnode.Node{
			Bin: bin, DataDir: data, Log: log,
			// A fixed API port, so that a restarted node is where the
			// terminals look for it.
			Command: []string{"node", "--name", name, "--peers", strings.Join(peers, ","), "--data", data, "--secrets", c.secrets,
				"--http", fmt.Sprintf("127.0.0.1:%d", ports[i].HTTP), "--demo", "--cards", fmt.Sprint(cards), "--seed", fmt.Sprint(citySeed),
				"--log-level", logLevel},
		})
	}
	fmt.Fprintf(stderr, "starting %d nodes (data and logs in %s)\n", n, dir)
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	// Every node waits for a quorum of the others: start them together.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, node := range c.nodes {
		wg.Go(func() { errs[i] = node.Start(startCtx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stop(stderr)
		return nil, err
	}
	return c, nil
}

func (c *simCluster) gateways() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.BaseURL
	}
	return out
}

// inject runs the plan, one fault at a time, until it ends or ctx does; a
// fault under way is always recovered from.
func (c *simCluster) inject(ctx context.Context, start time.Time, plan []sim.NodeFault, stderr io.Writer) []sim.FaultRecord {
	var out []sim.FaultRecord
	since := func() float64 { return time.Since(start).Seconds() }
	for _, fault := range plan {
		select {
		case <-ctx.Done():
			return out
		case <-time.After(time.Until(start.Add(fault.At))):
		}
		node := c.nodes[fault.Node]
		rec := sim.FaultRecord{Fault: fmt.Sprintf("%s for %.1f s", fault.Kind, fault.Down.Seconds()), Target: fmt.Sprintf("node n%d", fault.Node+1), AtSeconds: since()}
		switch fault.Kind {
		case sim.FaultKill:
			node.Kill()
			time.Sleep(fault.Down)
			rec.Note = "restarted on its data"
		case sim.FaultPause:
			if err := node.Signal(syscall.SIGSTOP); err != nil {
				rec.Note = err.Error()
				out = append(out, rec)
				continue
			}
			time.Sleep(fault.Down)
			_ = node.Signal(syscall.SIGCONT)
			// Declared dead while paused, it stops itself on waking, and
			// is started again as a supervisor would.
			select {
			case <-node.Exited():
				rec.Note = "stopped itself on waking; restarted"
			case <-time.After(10 * time.Second):
				rec.Note = "resumed"
			}
		}
		if err := c.restartIfDown(context.WithoutCancel(ctx), fault.Node); err != nil {
			rec.Note += ": " + err.Error()
		} else {
			rec.RecoveredSeconds = since()
		}
		fmt.Fprintf(stderr, "\nfault: %s of %s at %.1f s, %s\n", fault.Kind, rec.Target, rec.AtSeconds, rec.Note)
		out = append(out, rec)
	}
	return out
}

// restartIfDown starts node i again when its process has ended.
func (c *simCluster) restartIfDown(ctx context.Context, i int) error {
	select {
	case <-c.nodes[i].Exited():
	default:
		return nil
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.nodes[i].Start(startCtx); err != nil {
		return fmt.Errorf("restart n%d: %w", i+1, err)
	}
	return nil
}

// ensureUp restarts every node that is down, for the end checks.
func (c *simCluster) ensureUp(ctx context.Context) error {
	for i := range c.nodes {
		if err := c.restartIfDown(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// stop stops every node, then removes the directory of a cluster whose
// nodes all stopped cleanly.
func (c *simCluster) stop(stderr io.Writer) {
	var errs []error
	for i, node := range c.nodes {
		if node.Exited() == nil {
			continue // never started
		}
		select {
		case <-node.Exited():
			continue
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), simStopTimeout)
		if err := node.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("n%d: %w", i+1, err))
		}
		cancel()
	}
	for _, log := range c.logs {
		log.Close()
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "civicard sim: stopping the cluster: %v (data and logs kept in %s)\n", err, c.dir)
		return
	}
	os.RemoveAll(c.dir)
}

// isTerminal reports whether w is a character device (a terminal), where a
// line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	file, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := file.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
