package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatTicks(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty_nr tpgid flags
	// minflt cminflt majflt cmajflt utime stime …
	tail := " S 1 2 3 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 100 2000000 500"
	for _, tc := range []struct {
		name, stat string
		want       int64
		wantErr    bool
	}{
		{"plain", "42 (herald)" + tail, 1801, false},
		{"spaces and parens in the name", "42 (my (odd) prog)" + tail, 1801, false},
		{"no parenthesis", "42 herald S 1", 0, true},
		{"truncated", "42 (herald) S 1 2 3", 0, true},
		{"not a number", "42 (herald) S 1 2 3 0 -1 4194560 100 0 0 0 x 567", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.stat))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ticks = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\therald\nVmPeak:\t  9000 kB\nVmHWM:\t   20000 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n"
	for _, tc := range []struct {
		name, status, key string
		want              int64
		wantErr           bool
	}{
		{"VmRSS", status, "VmRSS", 12345 * 1024, false},
		{"VmHWM", status, "VmHWM", 20000 * 1024, false},
		{"key is not a prefix match", status, "Vm", 0, true},
		{"absent (kernel thread)", "Name:\tkthreadd\nThreads:\t1\n", "VmRSS", 0, true},
		{"odd unit", "VmRSS:\t 12 MB\n", "VmRSS", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusKB([]byte(tc.status), tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("%s = %d, want %d", tc.key, got, tc.want)
			}
		})
	}
}

// TestProcSelf reads this test process's own figures: they must be
// plausible, and CPU time must not go backwards.
func TestProcSelf(t *testing.T) {
	p := proc{pid: os.Getpid(), clkTck: userHZ}
	rss, err := p.rssBytes()
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 || rss > 1<<36 {
		t.Errorf("own RSS = %d bytes, implausible", rss)
	}
	c0, err := p.cpu()
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least two clock ticks of CPU.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	c1, err := p.cpu()
	if err != nil {
		t.Fatal(err)
	}
	if c1 <= c0 {
		t.Errorf("CPU time went from %s to %s after a busy loop of %d iterations", c0, c1, x)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %s, want %s", tc.p, got, tc.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 5012
go_memstats_heap_inuse_bytes 1.2345e+07
go_memstats_stack_inuse_bytes 4.194304e+07
go_memstats_heap_inuse_bytes_total 1
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.goroutines != 5012 || m.heapInuse != 12345000 || m.stackInuse != 41943040 {
		t.Errorf("parsed %+v", m)
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 3\n")); err == nil ||
		!strings.Contains(err.Error(), "go_memstats_heap_inuse_bytes") {
		t.Errorf("missing metrics: err = %v, want one naming the missing metric", err)
	}
}

func TestCheckLoopbackAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:5222", true},
		{"127.3.4.5:1", true},
		{"[::1]:5222", true},
		{"localhost:5222", true},
		{"10.0.0.1:5222", false},
		{"example.com:5222", false},
		{"[2001:db8::1]:5222", false},
		{"127.0.0.1", false},
	} {
		err := checkLoopbackAddr(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("checkLoopbackAddr(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestParseStreamError(t *testing.T) {
	for _, tc := range []struct {
		inner, cond, text string
	}{
		{"<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>", "host-unknown", ""},
		{"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>replaced</text>", "conflict", "replaced"},
		{"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>first</text><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>", "system-shutdown", "first"},
	} {
		se := parseStreamError(tc.inner)
		if se.condition != tc.cond || se.text != tc.text {
			t.Errorf("parseStreamError(%q) = %q/%q, want %q/%q", tc.inner, se.condition, se.text, tc.cond, tc.text)
		}
	}
}
