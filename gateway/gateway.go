package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"civicard/messages/civicard/v1/civicardv1connect"
)

// compressMinBytes is the smallest answer worth compressing.
const compressMinBytes = 4 << 10

// Gateway serves the API on top of a cluster member.
type Gateway struct {
	cluster *protocluster.Cluster
	cfg     Config
	metrics *metrics
}

// New returns a gateway that reaches the grains through c.
func New(c *protocluster.Cluster, cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Gateway{cluster: c, cfg: cfg, metrics: m}, nil
}

// Handler returns the HTTP handler of the whole API.
func (g *Gateway) Handler() http.Handler { return g.handler() }

// handler is Handler with interceptors after the authorisation (the role
// table's test stops calls there).
func (g *Gateway) handler(after ...connect.Interceptor) http.Handler {
	auth := &authorizer{rules: procedureRules(), bootstrap: g.cfg.OperatorToken, users: g.cfg.Users}
	if auth.users == nil && g.cfg.UserRegistry != nil {
		auth.users = registryUsers{reg: g.cfg.UserRegistry, now: g.cfg.Now}
	}
	opts := append(strictCodecs(),
		connect.WithReadMaxBytes(g.cfg.BodyMaxBytes),
		// A tap's answer is ~100 bytes: compressing it costs more CPU than
		// the bytes it saves.
		connect.WithCompressMinBytes(compressMinBytes),
		// Counting first, so that refused input is counted; who is
		// calling before what they sent is looked at.
		connect.WithInterceptors(g.metrics.interceptor(), auth, strictInput()),
		connect.WithInterceptors(after...),
	)
	mux := http.NewServeMux()
	path, handler := civicardv1connect.NewTerminalServiceHandler(terminalService{gw: g}, opts...)
	mux.Handle(path, g.metrics.countHTTP("terminal", g.limitBody(handler)))
	path, handler = civicardv1connect.NewCardServiceHandler(cardService{gw: g}, opts...)
	mux.Handle(path, g.metrics.countHTTP("card", g.limitBody(handler)))
	path, handler = civicardv1connect.NewAdminServiceHandler(adminService{gw: g}, opts...)
	mux.Handle(path, g.metrics.countHTTP("admin", g.limitBody(handler)))
	path, handler = civicardv1connect.NewSettlementServiceHandler(settlementService{gw: g}, opts...)
	mux.Handle(path, g.metrics.countHTTP("settlement", g.limitBody(handler)))
	path, handler = civicardv1connect.NewTerminalRegistryServiceHandler(registryService{gw: g}, opts...)
	mux.Handle(path, g.metrics.countHTTP("registry", g.limitBody(handler)))
	mux.Handle("GET /healthz", g.metrics.countHTTP("healthz", http.HandlerFunc(g.healthz)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.cfg.Registry, promhttp.HandlerOpts{Registry: g.cfg.Registry}))
	return mux
}

// limitBody caps what a client can make the server read, whatever the
// protocol's own framing says.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, int64(g.cfg.BodyMaxBytes)+1<<10)
		strictBody(next).ServeHTTP(w, r)
	})
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := g.cfg.Ready(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Server returns the HTTP server of the API (HTTP/1.1 and HTTP/2, over TLS
// when Config.TLS is set, else unencrypted), not yet listening. A client gets BodyReadTimeout to send its
// headers and body: a body trickled byte by byte would otherwise hold a
// goroutine and its buffers for as long as the client likes.
func (g *Gateway) Server() *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	var tlsConfig *tls.Config
	if g.cfg.TLS != nil {
		protocols.SetHTTP2(true)
		tlsConfig = g.cfg.TLS.Clone()
		tlsConfig.MinVersion = max(tlsConfig.MinVersion, tls.VersionTLS12)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           g.Handler(),
		Protocols:         protocols,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: min(5*time.Second, g.cfg.BodyReadTimeout),
		ReadTimeout:       g.cfg.BodyReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// Serve serves the API on ln over HTTP/1.1 and HTTP/2 (gRPC), over TLS when
// Config.TLS is set, until ctx ends, then shuts down, letting requests in flight finish for up
// to drainTimeout.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, drainTimeout time.Duration) error {
	srv := g.Server()
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("gateway: shutdown: %w", err)
		}
		// Connections still open after the drain are cut: a client's spare
		// connection that never sent a request counts as active for 5 s.
		g.cfg.Logger.Warn("gateway: closing connections still open after the drain", slog.Duration("drain", drainTimeout))
		if err := srv.Close(); err != nil {
			return fmt.Errorf("gateway: close: %w", err)
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}
