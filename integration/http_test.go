package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-im/herald/internal/servertest"
)

// httpGet fetches path from the server's HTTP endpoint and returns the
// status code and body.
func httpGet(t testing.TB, s *servertest.Server, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr().String()+path, nil)
	if err != nil {
		t.Fatalf("build request for %s: %v", path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// scrapeMetrics reads /metrics and returns each sample keyed by its name
// and labels exactly as exposed (Prometheus text format).
func scrapeMetrics(t testing.TB, s *servertest.Server) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, s, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", code)
	}
	samples, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return samples
}

// parseMetrics parses the sample lines of the Prometheus text format.
func parseMetrics(body string) (map[string]float64, error) {
	samples := make(map[string]float64)
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("malformed sample line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("sample line %q: %w", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, nil
}

// TestHTTP_MetricsAfterLogin checks that /metrics exposes the client
// listener's metrics, and that a SCRAM-SHA-256 login, a stanza and an open
// connection show up in them.
func TestHTTP_MetricsAfterLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := login(t, s, "alice", alicePass, loginOptions{resource: "metrics"})
	c.iq("p1", "<iq type='get' id='p1' to='"+s.Domain+"'><ping xmlns='urn:xmpp:ping'/></iq>")

	m := scrapeMetrics(t, s)
	checks := []struct {
		sample  string
		atLeast float64
	}{
		{"herald_c2s_connections", 1},
		{`herald_c2s_auth_attempts_total{mechanism="SCRAM-SHA-256",outcome="success"}`, 1},
		{`herald_c2s_stanzas_received_total{kind="iq"}`, 1},
		{`herald_c2s_stanzas_received_total{kind="message"}`, 0},
	}
	for _, ck := range checks {
		v, ok := m[ck.sample]
		if !ok {
			t.Errorf("/metrics has no sample %s", ck.sample)
			continue
		}
		if v < ck.atLeast {
			t.Errorf("%s = %v, want at least %v", ck.sample, v, ck.atLeast)
		}
	}
}

// TestHTTP_Healthz checks that /healthz answers 200 while storage works.
func TestHTTP_Healthz(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	code, body := httpGet(t, s, "/healthz")
	if code != http.StatusOK {
		t.Errorf("GET /healthz: status %d (%q), want 200", code, body)
	}
}
