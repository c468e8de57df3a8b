package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-im/herald/c2s"
	"github.com/herald-im/herald/internal/control"
	"github.com/herald-im/herald/internal/devcert"
	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/blocking"
	"github.com/herald-im/herald/namespaces/carbons"
	nspresrules "github.com/herald-im/herald/namespaces/presrules"
	nsprivacy "github.com/herald-im/herald/namespaces/privacy"
	"github.com/herald-im/herald/namespaces/roster"
	"github.com/herald-im/herald/namespaces/standard"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/router/presrules"
	"github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// Server is one Herald process: storage, the namespaces registry, the
// router, the client listeners and the HTTP endpoint for metrics and
// health, assembled from a Config.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *sqlite.DB
	reg    *prometheus.Registry
	router *router.Router
	c2s    *c2s.Server
	// privacy and presRules cache per-user policy; the control socket
	// drops those caches for accounts changed from the command line.
	privacy   *privacy.Engine
	presRules *presrules.Engine
	control   *control.Server
	tls       *tls.Config
	devCert   string // path of the development certificate, if one is used

	mu        sync.Mutex
	c2sAddr   net.Addr
	tlsAddr   net.Addr
	httpAddr  net.Addr
	http      *http.Server
	listeners []net.Listener
	serving   sync.WaitGroup
	started   bool
}

// host is what the server offers modules (namespaces.Host), including the
// optional capabilities of the built-in modules. router is set once built;
// modules use it only when handling requests.
type host struct {
	log       *slog.Logger
	sw        namespaces.Software
	router    *router.Router
	privacy   *privacy.Engine
	presRules *presrules.Engine
}

func (h *host) Logger() *slog.Logger            { return h.log }
func (h *host) Software() namespaces.Software   { return h.sw }
func (h *host) RosterService() roster.Service   { return h.router }
func (h *host) CarbonsService() carbons.Service { return h.router }

func (h *host) PrivacyService() nsprivacy.Service { return h.privacy }
func (h *host) BlockingService() blocking.Service { return h.privacy }

func (h *host) PresenceRulesService() nspresrules.Service { return h.presRules }

var (
	_ roster.Provider    = (*host)(nil)
	_ carbons.Provider   = (*host)(nil)
	_ nsprivacy.Provider = (*host)(nil)
	_ blocking.Provider  = (*host)(nil)

	_ nspresrules.Provider = (*host)(nil)
)

// Version returns the module version of the running binary.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// New builds a server from a validated configuration: it opens storage,
// loads or generates the certificate and registers the modules. It does
// not listen yet; call Start or Run.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	domains := make([]jid.JID, 0, len(cfg.Domains))
	for _, d := range cfg.Domains {
		j, err := jid.New("", d, "")
		if err != nil {
			return nil, fmt.Errorf("domain %q: %w", d, err)
		}
		domains = append(domains, j)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	tlsCfg, err := s.loadTLS()
	if err != nil {
		return nil, err
	}
	s.tls = tlsCfg

	db, err := sqlite.Open(ctx, cfg.Storage.Path)
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	s.db = db

	sw := namespaces.Software{Name: "Herald", Version: Version()}
	if !cfg.C2S.HideOS {
		sw.OS = runtime.GOOS
	}
	h := &host{log: log, sw: sw}
	// The privacy engine (XEP-0016, XEP-0191) is the router's Policy and
	// reads the roster through the router, which exists only later: the
	// closures reach it through h.
	h.privacy = privacy.New(db,
		func(ctx context.Context, owner, contact jid.JID) (storage.RosterItem, bool, error) {
			return h.router.RosterItem(ctx, owner, contact)
		},
		log.With("component", "privacy"),
		privacy.WithRosterGroups(func(ctx context.Context, owner jid.JID) ([]string, error) {
			return h.router.RosterGroups(ctx, owner)
		}))
	// Presence authorization rules (RFC 5025) decide inbound subscription
	// requests for the router and are managed by their module.
	h.presRules = presrules.New(db, log.With("component", "pres-rules"))
	registry := namespaces.NewRegistry(h)
	if err := registry.Register(standard.Modules()...); err != nil {
		db.Close()
		return nil, err
	}
	registry.Seal()

	s.router, err = router.New(router.Config{
		Domains:  domains,
		Registry: registry,
		Accounts: db,
		Rosters:  db,
		Requests: db,
		Offline:  db,
		Policy:   h.privacy,
		// RFC 5025 sub-handling; users without rules are asked as before.
		Subscriptions: h.presRules,
		Logger:        log.With("component", "router"),
		Metrics:       s.reg,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	h.router = s.router
	h.privacy.Attach(s.router)
	s.privacy, s.presRules = h.privacy, h.presRules
	s.c2s, err = c2s.New(c2s.Config{
		Domains: domains,
		TLS:     tlsCfg,
		Limits: stream.Limits{
			MaxStanzaBytes: cfg.C2S.MaxStanzaBytes,
			MaxDepth:       cfg.C2S.MaxDepth,
			MaxAttrs:       cfg.C2S.MaxAttrs,
		},
		OutboundQueueBytes: cfg.C2S.OutboundQueueBytes,
		AuthTimeout:        cfg.C2S.AuthTimeout.Std(),
		IdleTimeout:        cfg.C2S.IdleTimeout.Std(),
		PingTimeout:        cfg.C2S.PingTimeout.Std(),
		ParkAfter:          parkAfter(cfg.C2S.ParkAfter.Std()),
		SASLRetries:        cfg.C2S.SASLRetries,
		InboundRate:        cfg.C2S.InboundRate,
		InboundBurst:       cfg.C2S.InboundBurst,
		AuthFailures:       cfg.C2S.AuthFailures,
		AuthFailureWindow:  cfg.C2S.AuthFailureWindow.Std(),
		AllowAnonymous:     cfg.C2S.AllowAnonymous,
		ExternalAuth:       tlsCfg.ClientCAs != nil,
		Features:           registry.StreamFeatures,
		Router:             s.router,
		Accounts:           db,
		Logger:             log.With("component", "c2s"),
		Metrics:            s.reg,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// parkAfter maps the configuration's "0 disables" to c2s's "negative
// disables".
func parkAfter(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// loadTLS loads the configured certificate, or the development certificate
// from the data directory (generating it on first use).
func (s *Server) loadTLS() (*tls.Config, error) {
	var cert tls.Certificate
	if s.cfg.TLS.UseDevCert() {
		dir := filepath.Join(s.cfg.DataDir, "devcert")
		c, generated, err := devcert.Ensure(dir, s.cfg.Domains, time.Now())
		if err != nil {
			return nil, fmt.Errorf("development certificate: %w", err)
		}
		cert = c
		s.devCert = filepath.Join(dir, "devcert.pem")
		if generated {
			s.log.Info("generated a self-signed development certificate", "path", s.devCert)
		}
	} else {
		c, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load certificate: %w", err)
		}
		cert = c
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"xmpp-client"}, // XEP-0368 §3 ALPN
	}
	if s.cfg.C2S.ClientCAFile != "" {
		pem, err := os.ReadFile(s.cfg.C2S.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA file %s holds no PEM certificate", s.cfg.C2S.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// DevCertPath returns the development certificate's path, or "" when an
// operator certificate is configured.
func (s *Server) DevCertPath() string { return s.devCert }

// Metrics returns the server's Prometheus registry.
func (s *Server) Metrics() *prometheus.Registry { return s.reg }

// C2SAddr returns the STARTTLS listener's address once started (nil if disabled).
func (s *Server) C2SAddr() net.Addr { s.mu.Lock(); defer s.mu.Unlock(); return s.c2sAddr }

// DirectTLSAddr returns the direct-TLS listener's address once started (nil if disabled).
func (s *Server) DirectTLSAddr() net.Addr { s.mu.Lock(); defer s.mu.Unlock(); return s.tlsAddr }

// HTTPAddr returns the HTTP listener's address once started (nil if disabled).
func (s *Server) HTTPAddr() net.Addr { s.mu.Lock(); defer s.mu.Unlock(); return s.httpAddr }

// Start opens the listeners and serves in the background until Shutdown.
// A listener that cannot be opened fails Start, and nothing keeps running.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server already started")
	}
	s.started = true
	// The control socket first: it refuses to start a second server on
	// the same data directory before any port is taken.
	sock := filepath.Join(s.cfg.DataDir, control.SocketName)
	switch cs, err := control.Listen(sock, controlHandler{s}, s.log.With("component", "control")); {
	case errors.Is(err, control.ErrInUse):
		return fmt.Errorf("data directory %s: %w", s.cfg.DataDir, err)
	case err != nil:
		// Only the admin commands that need a running server lose out.
		s.log.Warn("no control socket: the admin commands cannot reach this server", "err", err)
	default:
		s.control = cs
	}
	dropControl := func() {
		if s.control != nil {
			s.control.Close()
			s.control = nil
		}
	}
	// Temporary accounts of anonymous sessions end with their sessions; a
	// server that stopped without ending them (a crash, kill -9) left
	// them behind. Only now is it known that no other server on this data
	// directory still uses them.
	if n, err := s.db.DeleteTemporaryAccounts(ctx); err != nil {
		dropControl()
		return fmt.Errorf("remove leftover temporary accounts: %w", err)
	} else if n > 0 {
		s.log.Info("removed temporary accounts left by anonymous sessions of an earlier run", "count", n)
	}
	listen := func(addr string) (net.Listener, error) {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			dropControl()
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
		return ln, nil
	}
	var c2sLn, tlsLn, httpLn net.Listener
	var err error
	if a := s.cfg.C2S.Listen; a != "" {
		if c2sLn, err = listen(a); err != nil {
			return err
		}
		s.c2sAddr = c2sLn.Addr()
	}
	if a := s.cfg.C2S.DirectTLSListen; a != "" {
		if tlsLn, err = listen(a); err != nil {
			return err
		}
		s.tlsAddr = tlsLn.Addr()
	}
	if a := s.cfg.HTTP.Listen; a != "" {
		if httpLn, err = listen(a); err != nil {
			return err
		}
		s.httpAddr = httpLn.Addr()
	}
	for _, l := range []struct {
		ln        net.Listener
		directTLS bool
	}{{c2sLn, false}, {tlsLn, true}} {
		if l.ln == nil {
			continue
		}
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			if err := s.c2s.Serve(ctx, l.ln, l.directTLS); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("c2s listener stopped", "addr", l.ln.Addr().String(), "err", err)
			}
		}()
		s.log.Info("listening for clients", "addr", l.ln.Addr().String(), "direct_tls", l.directTLS)
	}
	if httpLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
		mux.HandleFunc("GET /healthz", s.health)
		if s.cfg.HTTP.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			if err := s.http.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http listener stopped", "err", err)
			}
		}()
		s.log.Info("serving metrics and health", "addr", httpLn.Addr().String())
	}
	if s.cfg.S2S.Listen != "" {
		s.log.Info("federation (s2s) is not available in this version; not listening", "configured", s.cfg.S2S.Listen)
	}
	return nil
}

// health answers 200 when storage answers, 503 otherwise.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.db.AccountExists(ctx, "health@check.invalid"); err != nil {
		http.Error(w, "storage unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Shutdown closes the listeners, ends every client stream with a
// system-shutdown stream error, waits for the sessions to finish (or ctx to
// expire) and closes storage.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	cs := s.control
	s.control = nil
	s.mu.Unlock()
	if cs != nil {
		cs.Close()
	}
	err := s.c2s.Shutdown(ctx)
	s.mu.Lock()
	httpSrv := s.http
	s.mu.Unlock()
	if httpSrv != nil {
		if herr := httpSrv.Shutdown(ctx); herr != nil && err == nil {
			err = herr
		}
	}
	s.serving.Wait()
	if cerr := s.db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Run starts the server, calls ready (if not nil) once it listens, and
// serves until ctx is cancelled; then it shuts down gracefully, allowing
// shutdownGrace for streams to close.
func (s *Server) Run(ctx context.Context, shutdownGrace time.Duration, ready func()) error {
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if err := s.Start(serveCtx); err != nil {
		s.db.Close()
		return err
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	s.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	return s.Shutdown(sctx)
}
