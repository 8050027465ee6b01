package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
)

// membershipHosts is what the scaler steers of a membership provider: the
// hosts it polls.
type membershipHosts interface {
	setHosts(hosts []string)
}

// serviceMembership is the membershipHosts of a provider backed by a
// service (Consul, etcd, Kubernetes): the service knows the members, and
// the node list's hosts are not its business.
type serviceMembership struct{}

func (serviceMembership) setHosts([]string) {}

// nodeListProvider is protoactor's membership over a host list that
// changes: it answers /_health on the actor port + 1 as the automanaged
// provider does (same JSON; with TLS, see useTLS, only members of the
// cluster's CA can poll it or answer it), and polls the
// health endpoints of the hosts it is given, now the peers of --peers, later
// the active nodes of the replicated node list (reconcile.go). A member
// that answers is in the topology; one that does not, or is no longer
// listed, leaves it.
type nodeListProvider struct {
	refresh    time.Duration
	healthAddr string
	logger     *slog.Logger
	client     *http.Client
	tls        *tls.Config // nil: the endpoint and its polls in the clear

	mu    sync.Mutex
	hosts []string // guarded by mu; health addresses, sorted

	cluster *protocluster.Cluster
	server  *http.Server
	stop    context.CancelFunc
	done    chan struct{}
}

var _ protocluster.ClusterProvider = (*nodeListProvider)(nil)

// healthTimeout bounds one health poll: a member that does not answer in
// this time counts as gone for that round (as with automanaged).
const healthTimeout = 2 * time.Second

func newNodeListProvider(refresh time.Duration, healthAddr string, hosts []string, logger *slog.Logger) *nodeListProvider {
	p := &nodeListProvider{
		refresh: refresh, healthAddr: healthAddr, logger: logger,
		client: &http.Client{Timeout: healthTimeout},
	}
	p.setHosts(hosts)
	return p
}

// useTLS makes the membership endpoint mutual TLS with the node's
// certificate (certs.go), like the Raft and actor ports: a member list
// answered by a stranger would route grains to it. Called before
// StartMember.
func (p *nodeListProvider) useTLS(cfg *tls.Config) {
	p.tls = cfg
	p.client = &http.Client{Timeout: healthTimeout, Transport: &http.Transport{
		TLSClientConfig: cfg.Clone(), TLSHandshakeTimeout: healthTimeout,
		// One connection to each member, kept between polls.
		MaxIdleConnsPerHost: 1, IdleConnTimeout: 4 * healthTimeout,
	}}
}

// setHosts replaces the health addresses polled from the next round on.
func (p *nodeListProvider) setHosts(hosts []string) {
	sorted := slices.Clone(hosts)
	slices.Sort(sorted)
	p.mu.Lock()
	p.hosts = slices.Compact(sorted)
	p.mu.Unlock()
}

func (p *nodeListProvider) currentHosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.hosts)
}

// StartMember serves this member's health endpoint and starts polling.
func (p *nodeListProvider) StartMember(c *protocluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return err
	}
	self := automanaged.NewNode(c.Config.Name, c.ActorSystem.ID, host, port, healthPort(p.healthAddr), c.GetClusterKinds())
	ln, err := net.Listen("tcp", p.healthAddr)
	if err != nil {
		return fmt.Errorf("cluster: membership endpoint: %w", err)
	}
	if p.tls != nil {
		ln = tls.NewListener(ln, p.tls)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(self)
	})
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: healthTimeout,
		// A refused handshake (a poll without a certificate of the
		// cluster's CA) is not worth a line at the default level.
		ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug)}
	go func() {
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("membership endpoint", slog.Any("error", err))
		}
	}()
	p.startPolling(c)
	return nil
}

// StartClient polls without answering: a member that others never list.
func (p *nodeListProvider) StartClient(c *protocluster.Cluster) error {
	p.startPolling(c)
	return nil
}

func (p *nodeListProvider) startPolling(c *protocluster.Cluster) {
	p.cluster = c
	ctx, stop := context.WithCancel(context.Background())
	p.stop, p.done = stop, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.refresh)
		defer t.Stop()
		for {
			p.poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// poll asks every listed host for its member and publishes those that
// answered as the topology.
func (p *nodeListProvider) poll(ctx context.Context) {
	hosts := p.currentHosts()
	answers := make([]*automanaged.NodeModel, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { answers[i] = p.health(ctx, h) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	var members []*protocluster.Member
	for _, n := range answers {
		if n != nil && n.ClusterName == p.cluster.Config.Name {
			members = append(members, &protocluster.Member{Id: n.ID, Host: n.Address, Port: int32(n.Port), Kinds: n.Kinds})
		}
	}
	p.cluster.MemberList.UpdateClusterTopology(members)
}

func (p *nodeListProvider) health(ctx context.Context, host string) *automanaged.NodeModel {
	scheme := "http://"
	if p.tls != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+host+"/_health", nil)
	if err != nil {
		return nil
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil
	}
	n, err := decodeHealth(res.Body)
	if err != nil {
		p.logger.Debug("membership: ignored a health answer", slog.String("host", host), slog.Any("error", err))
		return nil
	}
	return n
}

// healthAnswerBytesMax bounds a member's health answer: an id, an address
// and a few kinds are well under it.
const healthAnswerBytesMax = 64 << 10

// decodeHealth decodes a member's health answer. A member must name its id,
// its host and an actor port that can be dialled: one without would be
// routed grains it cannot take.
func decodeHealth(body io.Reader) (*automanaged.NodeModel, error) {
	var n automanaged.NodeModel
	if err := json.NewDecoder(io.LimitReader(body, healthAnswerBytesMax)).Decode(&n); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	switch {
	case n.ID == "":
		return nil, errors.New("no member id")
	case n.Address == "":
		return nil, fmt.Errorf("member %q: no address", n.ID)
	case n.Port < 1 || n.Port > 65535:
		return nil, fmt.Errorf("member %q: actor port %d out of range", n.ID, n.Port)
	}
	return &n, nil
}

// Shutdown stops answering and polling: the others drop this member at
// their next poll.
func (p *nodeListProvider) Shutdown(bool) error {
	var err error
	if p.server != nil {
		err = p.server.Close()
	}
	if p.stop != nil {
		p.stop()
		<-p.done
		p.stop = nil
	}
	p.client.CloseIdleConnections()
	return err
}

func healthPort(addr string) int {
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	return port
}
