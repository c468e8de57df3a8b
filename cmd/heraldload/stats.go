package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p% of the
// values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// latencySummary sorts d and returns p50, p99 and max.
func latencySummary(d []time.Duration) (p50, p99, worst time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return 0, 0, 0
	}
	return percentile(d, 50), percentile(d, 99), d[len(d)-1]
}

// minRSS samples the process's RSS every interval for period and returns
// the smallest reading: the Go runtime returns freed memory to the kernel
// gradually, so the minimum over a quiet period is the steadiest figure
// without forcing anything on the server.
func minRSS(ctx context.Context, p proc, period, interval time.Duration) (int64, error) {
	best := int64(-1)
	deadline := time.Now().Add(period)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		v, err := p.rssBytes()
		if err != nil {
			return 0, err
		}
		if best < 0 || v < best {
			best = v
		}
		if !time.Now().Before(deadline) {
			return best, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("sampling RSS: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

// goMetrics are the Go runtime gauges read from the server's /metrics
// endpoint (prometheus/client_golang's Go and process collectors).
type goMetrics struct {
	heapInuse  float64 // go_memstats_heap_inuse_bytes
	stackInuse float64 // go_memstats_stack_inuse_bytes
	goroutines float64 // go_goroutines
}

// scrapeMetrics fetches url and extracts goMetrics.
func scrapeMetrics(ctx context.Context, url string) (goMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return goMetrics{}, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goMetrics{}, fmt.Errorf("fetch metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goMetrics{}, fmt.Errorf("fetch metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text exposition format and extracts
// goMetrics; each of the three gauges must be present.
func parseMetrics(r io.Reader) (goMetrics, error) {
	var m goMetrics
	want := map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &m.heapInuse,
		"go_memstats_stack_inuse_bytes": &m.stackInuse,
		"go_goroutines":                 &m.goroutines,
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		dst, ok := want[name]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return m, fmt.Errorf("metric %s: %w", name, err)
		}
		*dst = v
		delete(want, name)
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("read metrics: %w", err)
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for k := range want {
			missing = append(missing, k)
		}
		slices.Sort(missing)
		return m, fmt.Errorf("metrics lack %s", strings.Join(missing, ", "))
	}
	return m, nil
}

// mib formats a byte count in MiB.
func mib(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
