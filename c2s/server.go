package c2s

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-im/herald/internal/limit"
	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// Config configures the client listener. Zero durations and sizes take the
// documented defaults.
type Config struct {
	// Domains are the local domains clients may open streams to.
	Domains []jid.JID
	// TLS holds the server certificates. Required: Herald never
	// authenticates a client over an unencrypted stream.
	TLS *tls.Config
	// Limits bound what a client may send (stanza size, depth, attributes).
	Limits stream.Limits
	// OutboundQueueBytes caps a session's unsent output (default 1 MiB).
	OutboundQueueBytes int
	// AuthTimeout bounds TLS, SASL and resource binding together (default 60s).
	AuthTimeout time.Duration
	// IdleTimeout is the silence after which the server pings the client
	// (XEP-0199 §4.1, default 5m); PingTimeout is how long the answer may
	// take before the stream is closed with connection-timeout (default 60s).
	IdleTimeout, PingTimeout time.Duration
	// ParkAfter is how long a bound session must be silent before its
	// reading goroutine is released and the socket is watched by a shared
	// poller instead (Linux; default 2s; negative disables). It trades a
	// few microseconds when the session wakes for a goroutine stack while
	// it sleeps.
	ParkAfter time.Duration
	// SASLRetries is how many failed authentications a stream may make
	// before it is closed with policy-violation (RFC 6120 §6.4.5; default 3).
	SASLRetries int
	// InboundRate is how many bytes per second a connection may send,
	// sustained, and InboundBurst how many at once; a client sending
	// faster is slowed down (its reads wait), not disconnected. Zero
	// InboundRate means no limit.
	InboundRate, InboundBurst int
	// AuthFailures is how many failed authentications one address (an
	// IPv4 address or an IPv6 /64) may make at once; the allowance refills
	// over AuthFailureWindow. An address without allowance left gets
	// <temporary-auth-failure/> without its credentials being checked.
	// Zero for either means no limit.
	AuthFailures      int
	AuthFailureWindow time.Duration
	// AllowAnonymous offers SASL ANONYMOUS (RFC 4505).
	AllowAnonymous bool
	// ExternalAuth offers SASL EXTERNAL to clients whose certificate the
	// TLS config verified (TLS.ClientAuth and TLS.ClientCAs must be set
	// for clients to present one), per XEP-0178.
	ExternalAuth bool
	// Features returns the stream features modules advertise next to
	// resource binding (e.g. roster versioning); nil for none.
	Features func() []*etree.Element
	// Router receives every stanza from bound sessions.
	Router *router.Router
	// Accounts looks up credentials.
	Accounts storage.Accounts
	// Logger receives connection logs; nil discards them.
	Logger *slog.Logger
	// Metrics registers the listener's metrics; nil skips them.
	Metrics prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.OutboundQueueBytes <= 0 {
		c.OutboundQueueBytes = 1 << 20
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 60 * time.Second
	}
	if c.ParkAfter == 0 {
		c.ParkAfter = 2 * time.Second
	}
	if c.SASLRetries <= 0 {
		c.SASLRetries = 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server accepts client connections and runs their sessions.
type Server struct {
	cfg     Config
	domains map[string]jid.JID
	metrics *metrics
	// secret keys the fake SCRAM salts returned for unknown users, so
	// that a probe cannot tell which accounts exist.
	secret [32]byte
	// authFails limits failed authentications per address; nil for no
	// limit.
	authFails *limit.Failures
	// poll parks idle sessions; nil where unsupported or disabled.
	poll      *poller
	stopSweep chan struct{}
	stopOnce  sync.Once

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  bool
	wg        sync.WaitGroup
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.TLS == nil {
		return nil, errors.New("c2s: a TLS configuration is required")
	}
	if cfg.Router == nil || cfg.Accounts == nil {
		return nil, errors.New("c2s: Router and Accounts are required")
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("c2s: no domains configured")
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		domains:   make(map[string]jid.JID),
		metrics:   m,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		authFails: limit.NewFailures(cfg.AuthFailures, cfg.AuthFailureWindow),
	}
	for _, d := range cfg.Domains {
		s.domains[d.Domain()] = d.Domainpart()
	}
	if _, err := rand.Read(s.secret[:]); err != nil {
		return nil, fmt.Errorf("c2s: draw secret: %w", err)
	}
	if cfg.ParkAfter > 0 {
		p, err := newPoller()
		if err != nil {
			return nil, err
		}
		if p != nil {
			s.poll = p
			s.stopSweep = make(chan struct{})
			go s.sweep(cfg.ParkAfter, s.stopSweep)
		}
	}
	if cfg.Metrics != nil {
		parked := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_c2s_parked_sessions",
			Help: "Idle client sessions parked without a reading goroutine (see c2s.park_after).",
		}, func() float64 { return float64(s.poll.count()) })
		if err := cfg.Metrics.Register(parked); err != nil {
			return nil, fmt.Errorf("c2s: register metrics: %w", err)
		}
	}
	return s, nil
}

// sweep asks sessions that stayed silent for a whole period to park.
func (s *Server) sweep(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for c := range s.conns {
			c.requestPark()
		}
		s.mu.Unlock()
	}
}

// connDone forgets a finished connection.
func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Serve accepts connections on ln until ln is closed or Shutdown is called.
// With directTLS the TLS handshake starts at once (XEP-0368); otherwise
// the stream begins in the clear and STARTTLS is required before anything
// else (RFC 6120 §5.3.1).
func (s *Server) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	label := "starttls"
	if directTLS {
		label = "directtls"
	}
	accepted := s.metrics.accepted.WithLabelValues(label)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of file descriptors and similar: back off, as
			// net/http does, instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.Logger.Warn("c2s: accept failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		backoff = 0
		accepted.Inc()
		c := newConn(s, nc, directTLS)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		// The connection counts in s.wg until it finishes, which may be
		// after serve returns if it parks.
		go c.serve(ctx)
	}
}

// Shutdown stops accepting, tells every open stream with a system-shutdown
// stream error (RFC 6120 §4.9.3.20) and waits until the sessions have
// ended or ctx expires, in which case the remaining connections are cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(stream.Errorf(stream.SystemShutdown, "the server is shutting down"))
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.netConn().Close()
		}
		<-done
		err = ctx.Err()
	}
	if s.poll != nil {
		s.stopOnce.Do(func() {
			close(s.stopSweep)
			s.poll.close()
		})
	}
	return err
}

// fakeSalt derives a stable salt for an unknown user name, so that repeated
// probes of one name see the same salt as they would for a real account.
func (s *Server) fakeSalt(user string) []byte {
	m := hmac.New(sha256New, s.secret[:])
	m.Write([]byte(user))
	return m.Sum(nil)[:16]
}
