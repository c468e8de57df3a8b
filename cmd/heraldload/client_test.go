package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
	"github.com/herald-im/herald/storage"
)

// startServer runs an in-process server, creates n load accounts with
// createUsers (as "heraldload users" does) and returns a dialer for it.
func startServer(t *testing.T, n int, opts ...servertest.Option) (*servertest.Server, *dialer, []*account) {
	t.Helper()
	srv := servertest.Start(t, opts...)
	created, existed, err := createUsers(context.Background(), srv.Config.Storage.Path, srv.Domain, "load", "load", n, 2, storage.DefaultIterations)
	if err != nil {
		t.Fatalf("createUsers: %v", err)
	}
	if created != n || existed != 0 {
		t.Fatalf("createUsers: created %d, existed %d; want %d, 0", created, existed, n)
	}
	d := &dialer{addr: srv.C2SAddr().String(), domain: srv.Domain, tls: srv.ClientTLS, timeout: 20 * time.Second}
	accs := make([]*account, n)
	for i := range accs {
		a, err := newAccount(fmt.Sprintf("load%d", i), "load")
		if err != nil {
			t.Fatal(err)
		}
		accs[i] = a
	}
	return srv, d, accs
}

// TestLoginBindsRequestedResource checks the whole negotiation of RFC 6120
// §5 (STARTTLS), §6 (SASL SCRAM-SHA-256) and §7 (bind) against Herald.
func TestLoginBindsRequestedResource(t *testing.T) {
	_, d, accs := startServer(t, 1)
	s, err := d.login(context.Background(), accs[0], "bench")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer s.close(3*time.Second, nil)
	if want := "load0@localhost/bench"; s.jid != want {
		t.Errorf("bound JID = %q, want %q", s.jid, want)
	}
	if s.mech != mechSCRAM {
		t.Errorf("mechanism = %q, want %q", s.mech, mechSCRAM)
	}
}

// TestLoginFailures checks that failed logins are reported with the
// server's reason (RFC 6120 §6.5.10 not-authorized) and do not hang.
func TestLoginFailures(t *testing.T) {
	_, d, _ := startServer(t, 1)
	for _, tc := range []struct {
		name, user, password, want string
	}{
		{"wrong password", "load0", "wrong", "not-authorized"},
		{"no such account", "nobody", "load", "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc, err := newAccount(tc.user, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			s, err := d.login(context.Background(), acc, "r")
			if err == nil {
				s.close(time.Second, nil)
				t.Fatal("login succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestLoginUntrustedCertificate checks that the client verifies the
// server's certificate (RFC 6120 §13.7.2).
func TestLoginUntrustedCertificate(t *testing.T) {
	_, d, accs := startServer(t, 1)
	d.tls = d.tls.Clone()
	d.tls.RootCAs = nil // system roots do not include the dev certificate
	s, err := d.login(context.Background(), accs[0], "r")
	if err == nil {
		s.close(time.Second, nil)
		t.Fatal("login succeeded against an untrusted certificate")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not mention the certificate", err)
	}
}

// TestRouteDeliversInOrder pipelines messages between two sessions as the
// route mode does and checks that all arrive intact and in order (RFC 6121
// §8.5.3.1, delivery to a full JID).
func TestRouteDeliversInOrder(t *testing.T) {
	_, d, accs := startServer(t, 2)
	ctx := context.Background()
	sender, err := d.login(ctx, accs[0], "s")
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := d.login(ctx, accs[1], "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*session{sender, receiver} {
		if err := s.available(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := &router{sender: sender, receiver: receiver, window: 7}
	r.start()
	defer r.stop()
	for _, run := range []struct{ first, n int }{{0, 10}, {10, 500}} {
		if _, err := r.run(ctx, run.first, run.n); err != nil {
			t.Fatalf("run(%d, %d): %v", run.first, run.n, err)
		}
	}
}

// TestRouteReportsBounce checks that a message the server bounces (RFC 6121
// §8.5.3.2.1: a non-chat message to an offline resource) fails the run
// instead of hanging it.
func TestRouteReportsBounce(t *testing.T) {
	_, d, accs := startServer(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sender, err := d.login(ctx, accs[0], "s")
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := d.login(ctx, accs[1], "r")
	if err != nil {
		t.Fatal(err)
	}
	r := &router{sender: sender, receiver: receiver, window: 1}
	r.start()
	defer r.stop()
	if err := sender.write("<message type='normal' to='load1@localhost/offline' id='x'><body>hi</body></message>"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.senderErr:
		if err == nil || !strings.Contains(err.Error(), "service-unavailable") {
			t.Errorf("sender error = %v, want a bounce with service-unavailable", err)
		}
	case <-ctx.Done():
		t.Fatal("no bounce reported")
	}
}

// TestIdleSessionsAnswerPings checks that idle sessions answer the
// server's keepalive pings (XEP-0199 §4.2, RFC 6120 §4.6.3) and so survive
// idle periods longer than the server's ping timeout.
func TestIdleSessionsAnswerPings(t *testing.T) {
	_, d, accs := startServer(t, 2, func(c *server.Config) {
		c.C2S.IdleTimeout = server.Duration(150 * time.Millisecond)
		c.C2S.PingTimeout = server.Duration(300 * time.Millisecond)
	})
	pinged := make(chan string, 16)
	p := &idlePool{d: d, accs: accs, pinged: pinged}
	defer p.closeAll(2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.connect(ctx, 3, 2, 0, io.Discard); err != nil {
		t.Fatalf("connect: %v", err)
	}
	// Each session must be pinged at least twice: the second ping
	// proves the first answer kept the stream alive past PingTimeout.
	counts := map[string]int{}
	for done := 0; done < 3; {
		select {
		case j := <-pinged:
			counts[j]++
			if counts[j] == 2 {
				done++
			}
		case <-ctx.Done():
			t.Fatalf("pings answered so far: %v", counts)
		}
	}
	if err := p.lostErr(); err != nil {
		t.Errorf("sessions lost: %v", err)
	}
	if len(counts) != 3 {
		t.Errorf("pinged sessions: %v, want 3", counts)
	}
}

// TestCreateUsersIsIdempotent checks that "heraldload users" can be run
// again over the same database.
func TestCreateUsersIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	ctx := context.Background()
	for _, want := range []struct{ created, existed int }{{3, 0}, {1, 3}} {
		n := want.created + want.existed
		created, existed, err := createUsers(ctx, path, "localhost", "load", "load", n, 2, storage.DefaultIterations)
		if err != nil {
			t.Fatal(err)
		}
		if created != want.created || existed != want.existed {
			t.Errorf("n=%d: created %d, existed %d; want %d, %d", n, created, existed, want.created, want.existed)
		}
	}
}
