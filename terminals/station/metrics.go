package station

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	taps    *prometheus.CounterVec
	refused *prometheus.CounterVec
	latency *prometheus.HistogramVec
	// uploaded counts offline taps the gateway settled.
	uploaded prometheus.Counter
	// denylistRefreshes counts answers to denylist requests, changed or not.
	denylistRefreshes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, queueLen, denylistLen, tariffProducts func() int) (*metrics, error) {
	m := &metrics{
		taps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_terminal_taps_total",
			Help: "Cards presented, by outcome: accepted, declined (by the gateway), refused (at the reader), failed (card gone, gateway error), offline (decided locally).",
		}, []string{"result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_terminal_cards_refused_total",
			Help: "Cards refused at the reader without asking the gateway, by reason: not_genuine (failed authentication), not_civicard (no application), denylisted, offline_limit.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "civicard_terminal_tap_seconds",
			Help:    "From the card seen present to the answer shown, by result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
	}
	m.uploaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "civicard_terminal_offline_uploaded_total",
		Help: "Offline taps the gateway has settled.",
	})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "civicard_terminal_offline_queue_taps",
		Help: "Offline taps waiting for upload.",
	}, func() float64 { return float64(queueLen()) })
	m.denylistRefreshes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "civicard_terminal_denylist_refreshes_total",
		Help: "Denylist requests the gateway answered (changed or not).",
	})
	denied := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "civicard_terminal_denylist_cards",
		Help: "Cards on the terminal's denylist.",
	}, func() float64 { return float64(denylistLen()) })
	priced := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "civicard_terminal_tariff_products",
		Help: "Products of the institution's price list the terminal holds (0: it has no tariff yet).",
	}, func() float64 { return float64(tariffProducts()) })
	for _, c := range []prometheus.Collector{m.taps, m.refused, m.latency, m.uploaded, queued, m.denylistRefreshes, denied, priced} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
