package c2s

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the c2s listener's Prometheus metrics. Per-stanza counters are
// resolved to their label values once, so the hot path does no map lookup.
type metrics struct {
	open         prometheus.Gauge
	accepted     *prometheus.CounterVec
	closed       *prometheus.CounterVec
	auth         *prometheus.CounterVec
	received     *prometheus.CounterVec
	sent         *prometheus.CounterVec
	inboundWait  prometheus.Counter
	receivedKind map[string]prometheus.Counter
	sentKind     map[string]prometheus.Counter
}

var stanzaKinds = []string{"message", "presence", "iq"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_c2s_connections",
			Help: "Open client-to-server connections.",
		}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_c2s_connections_accepted_total",
			Help: "Client connections accepted, by listener (starttls or directtls).",
		}, []string{"listener"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_c2s_connections_closed_total",
			Help: "Client connections closed, by reason (a stream error condition, client-closed, io-error, shutdown).",
		}, []string{"reason"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_c2s_auth_attempts_total",
			Help: "SASL authentication attempts, by mechanism and outcome (success or the SASL failure condition).",
		}, []string{"mechanism", "outcome"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_c2s_stanzas_received_total",
			Help: "Stanzas received from clients after resource binding, by kind.",
		}, []string{"kind"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_c2s_stanzas_sent_total",
			Help: "Stanzas queued to clients, by kind.",
		}, []string{"kind"}),
		inboundWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_c2s_inbound_throttled_seconds_total",
			Help: "Time reads from clients waited because a client sent faster than c2s.inbound_rate allows.",
		}),
		receivedKind: make(map[string]prometheus.Counter),
		sentKind:     make(map[string]prometheus.Counter),
	}
	for _, k := range stanzaKinds {
		m.receivedKind[k] = m.received.WithLabelValues(k)
		m.sentKind[k] = m.sent.WithLabelValues(k)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.open, m.accepted, m.closed, m.auth, m.received, m.sent, m.inboundWait} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("c2s: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) countReceived(kind string) {
	if c, ok := m.receivedKind[kind]; ok {
		c.Inc()
	}
}

func (m *metrics) countSent(kind string) {
	if c, ok := m.sentKind[kind]; ok {
		c.Inc()
	}
}
