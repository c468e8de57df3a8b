// Package servertest runs a whole Herald server in-process on loopback
// addresses for tests, with a fresh data directory, a generated development
// certificate that clients can trust, and helpers to create accounts.
package servertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/herald-im/herald/server"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
)

// Server is a running test server.
type Server struct {
	*server.Server
	// Config is the configuration it runs with.
	Config server.Config
	// Domain is its first domain ("localhost" unless changed).
	Domain string
	// ClientTLS is a TLS client configuration that trusts the server's
	// certificate, with ServerName set to Domain.
	ClientTLS *tls.Config
}

// Option adjusts the configuration before the server starts.
type Option func(*server.Config)

// Start runs a server on 127.0.0.1 with ephemeral ports until the test ends.
// Logs go to t.Log at debug level when HERALD_TEST_LOG=1.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.C2S.Listen = "127.0.0.1:0"
	cfg.C2S.DirectTLSListen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.S2S.Listen = ""
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("servertest: config: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("HERALD_TEST_LOG") == "1" {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("servertest: new server: %v", err)
	}
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatalf("servertest: start: %v", err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
		cancel()
	})
	s := &Server{Server: srv, Config: cfg, Domain: cfg.Domains[0]}
	s.ClientTLS = &tls.Config{ServerName: s.Domain, RootCAs: trust(t, srv.DevCertPath())}
	return s
}

func trust(t testing.TB, certPath string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if certPath == "" {
		return pool
	}
	data, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatalf("servertest: read dev cert: %v", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err == nil {
			pool.AddCert(c)
		}
	}
	return pool
}

// AddUser creates localpart@Domain with password, through a second storage
// handle on the same database, as the admin command does.
func (s *Server) AddUser(t testing.TB, localpart, password string) string {
	t.Helper()
	creds, err := storage.NewCredentials(password, storage.DefaultIterations)
	if err != nil {
		t.Fatalf("servertest: credentials: %v", err)
	}
	db, err := sqlite.Open(context.Background(), s.Config.Storage.Path)
	if err != nil {
		t.Fatalf("servertest: open storage: %v", err)
	}
	defer db.Close()
	bare := localpart + "@" + s.Domain
	if err := db.CreateAccount(context.Background(), bare, creds); err != nil {
		t.Fatalf("servertest: create %s: %v", bare, err)
	}
	return bare
}

// DataFile returns a path inside the server's data directory.
func (s *Server) DataFile(name string) string {
	return filepath.Join(s.Config.DataDir, name)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
