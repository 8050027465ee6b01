package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	taps         *prometheus.CounterVec
	tapDuration  prometheus.Histogram
	httpRequests *prometheus.CounterVec
	apiCalls     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		taps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_taps_total",
			Help: "Taps answered, by result: accepted, declined, or error (refused or unknown outcome).",
		}, []string{"result"}),
		tapDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "civicard_tap_duration_seconds",
			Help:    "Server time of a tap, from request to answer.",
			Buckets: prometheus.ExponentialBucketsRange(0.0005, 5, 16),
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_api_calls_total",
			Help: "API calls, by procedure and Connect/gRPC code (ok for success).",
		}, []string{"procedure", "code"}),
	}
	for _, c := range []prometheus.Collector{m.taps, m.tapDuration, m.httpRequests, m.apiCalls} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}

// interceptor counts every call by its outcome code.
func (m *metrics) interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			code := "ok"
			if err != nil {
				code = connect.CodeOf(err).String()
			}
			m.apiCalls.WithLabelValues(req.Spec().Procedure, code).Inc()
			return res, err
		}
	}
}

// countHTTP counts requests to route by the status code written.
func (m *metrics) countHTTP(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.httpRequests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	})
}

func (m *metrics) observeTap(start time.Time, result string) {
	m.taps.WithLabelValues(result).Inc()
	m.tapDuration.Observe(time.Since(start).Seconds())
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Flush and Unwrap keep streaming and http.ResponseController working.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
