package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// runLogin implements "heraldload login": -n complete logins (TCP connect,
// STARTTLS, SCRAM-SHA-256, bind, closing the stream), with -concurrency in
// flight, reporting the server's CPU time per login and the client's
// latency from connect to bound.
//
// Before the measured logins, every account used logs in once unmeasured,
// so that the client has cached its salted password (RFC 5802 §5.1) and
// the client-side PBKDF2 neither inflates the latency nor competes with the
// server for CPU.
func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("login", stderr)
	var c common
	c.register(fs)
	n := fs.Int("n", 2000, "number of measured logins")
	concurrency := fs.Int("concurrency", 1, "logins in flight at once (1: sequential)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *n < 1 || *concurrency < 1 {
		return usagef("-n and -concurrency must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := raiseFileLimit(uint64(*concurrency) + 256); err != nil {
		return err
	}
	d, err := c.dialer()
	if err != nil {
		return err
	}
	accs, err := c.accounts(min(c.users, *n))
	if err != nil {
		return err
	}
	p := c.proc()

	// Warm-up: one unmeasured login per account.
	if _, err := runLogins(ctx, d, accs, len(accs), *concurrency, "warm"); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	cpu0, err := p.cpu()
	if err != nil {
		return err
	}
	start := time.Now()
	lat, err := runLogins(ctx, d, accs, *n, *concurrency, "login")
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	cpu1, err := p.cpu()
	if err != nil {
		return err
	}
	p50, p99, worst := latencySummary(lat)
	cpu := cpu1 - cpu0
	fmt.Fprintf(stdout, "login: %d logins (TCP + STARTTLS + %s + bind + close), concurrency %d, over %d accounts, in %s; server pid %d\n",
		*n, mechSCRAM, *concurrency, len(accs), elapsed.Round(time.Millisecond), c.pid)
	fmt.Fprintf(stdout, "  server CPU total:        %s (utime+stime, %d Hz ticks)\n", cpu, c.clkTck)
	fmt.Fprintf(stdout, "  server CPU per login:    %s\n", cpu/time.Duration(*n))
	fmt.Fprintf(stdout, "  logins per second:       %.0f\n", float64(*n)/elapsed.Seconds())
	fmt.Fprintf(stdout, "  latency to bound:        p50 %s  p99 %s  max %s\n",
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond))
	return nil
}

// runLogins performs n logins, account i mod len(accs) for login i, with
// concurrency in flight, and returns each login's latency from connect to
// the bind result. Each session is closed before the next login of that
// worker starts.
func runLogins(ctx context.Context, d *dialer, accs []*account, n, concurrency int, resource string) ([]time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([]time.Duration, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t0 := time.Now()
				s, err := d.login(ctx, accs[i%len(accs)], fmt.Sprintf("%s%d", resource, i))
				if err != nil {
					cancel(fmt.Errorf("login %d: %w", i, err))
					continue
				}
				lat[i] = time.Since(t0)
				s.close(5*time.Second, nil)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return lat, nil
}
