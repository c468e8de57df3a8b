// Command heraldload measures a running Herald server process from the
// outside: memory per idle session, CPU per login and CPU per routed
// message. It is its own small XMPP client (raw TLS sockets, a hand-written
// SCRAM-SHA-256 exchange over github.com/xdg-go/scram, encoding/xml), so
// that thousands of sessions fit in one process, and it reads the server's
// resource use from /proc/PID (proc(5)), so the figures are those of the
// real process, not of an in-process test server.
//
// Usage:
//
//	heraldload users -db herald-data/herald.db -n 5000
//	heraldload idle  -pid PID -ca devcert.pem -users 5000 -sessions 5000
//	heraldload login -pid PID -ca devcert.pem -users 100 -n 2000
//	heraldload route -pid PID -ca devcert.pem -n 100000 -window 100
//
// The accounts are load0@domain, load1@domain, … with the password "load"
// (see -prefix and -password); "users" creates them directly in the
// server's SQLite database. Every mode talks to loopback addresses only.
//
// Exit status: 0 on success, 1 when the run fails, 2 on a usage error.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks a command-line error (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

const usage = `Usage: heraldload <mode> [flags]

Modes:
  users   create the load accounts in the server's SQLite database (-db)
  idle    hold -sessions bound, silent sessions; report server RSS per session
  login   run -n full logins; report server CPU per login and latency
  route   pipeline -n chat messages between two sessions; report server CPU per message

Run "heraldload <mode> -h" for a mode's flags.
`

// run executes one mode and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	modes := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"users": runUsers,
		"idle":  runIdle,
		"login": runLogin,
		"route": runRoute,
	}
	mode, ok := modes[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "heraldload: unknown mode %q\n\n%s", args[0], usage)
		return 2
	}
	err := mode(ctx, args[1:], stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "heraldload %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "heraldload %s: %v\n", args[0], err)
		return 1
	}
}

// common holds the flags every measuring mode shares.
type common struct {
	addr         string
	domain       string
	caFile       string
	pid          int
	clkTck       int
	users        int
	prefix       string
	password     string
	timeout      time.Duration
	loginTimeout time.Duration
	metrics      string
}

// register defines the shared flags on fs.
func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:5222", "the server's STARTTLS client listener `host:port` (loopback only)")
	fs.StringVar(&c.domain, "domain", "localhost", "the XMPP `domain` (also the TLS server name)")
	fs.StringVar(&c.caFile, "ca", "", "PEM `file` of the certificate to trust (the server's devcert.pem)")
	fs.IntVar(&c.pid, "pid", 0, "the server's process `id`, whose /proc entries are read")
	fs.IntVar(&c.clkTck, "clk-tck", userHZ, "clock `ticks` per second of /proc/PID/stat times (getconf CLK_TCK)")
	fs.IntVar(&c.users, "users", 100, "number of accounts `N` to use: <prefix>0 … <prefix>N-1")
	fs.StringVar(&c.prefix, "prefix", "load", "account localpart `prefix`")
	fs.StringVar(&c.password, "password", "load", "the accounts' `password`")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this `duration` overall")
	fs.DurationVar(&c.loginTimeout, "login-timeout", 30*time.Second, "bound on one login (TCP, STARTTLS, SASL, bind)")
	fs.StringVar(&c.metrics, "metrics", "", "optional `URL` of the server's Prometheus /metrics (loopback only), for Go heap figures")
}

// newFlagSet returns a flag set whose errors are reported by run.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("heraldload "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and wraps errors as usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err: err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// check validates the shared flags.
func (c *common) check() error {
	switch {
	case c.pid <= 0:
		return usagef("-pid is required: the server process to measure")
	case c.caFile == "":
		return usagef("-ca is required: the server certificate to trust")
	case c.users < 1:
		return usagef("-users must be at least 1")
	case c.clkTck < 1:
		return usagef("-clk-tck must be positive")
	}
	if err := checkLoopbackAddr(c.addr); err != nil {
		return &usageError{err: fmt.Errorf("-addr: %w", err)}
	}
	if c.metrics != "" {
		u, err := url.Parse(c.metrics)
		if err != nil {
			return usagef("-metrics: %v", err)
		}
		if u.Scheme != "http" {
			return usagef("-metrics: only http:// URLs are supported")
		}
		if err := checkLoopbackAddr(u.Host); err != nil {
			return &usageError{err: fmt.Errorf("-metrics: %w", err)}
		}
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", c.pid)); err != nil {
		return fmt.Errorf("process %d: %w", c.pid, err)
	}
	return nil
}

// checkLoopbackAddr refuses any host:port whose host is not a loopback IP
// address or "localhost": this tool generates load, and must only ever
// point it at the local machine.
func checkLoopbackAddr(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; heraldload only connects to 127.0.0.1 or ::1", host)
	}
	return nil
}

// dialer builds the client's TLS configuration from -ca.
func (c *common) dialer() (*dialer, error) {
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.caFile)
	}
	return &dialer{
		addr:    c.addr,
		domain:  c.domain,
		tls:     &tls.Config{RootCAs: pool, ServerName: c.domain, MinVersion: tls.VersionTLS12},
		timeout: c.loginTimeout,
	}, nil
}

// accounts prepares SCRAM clients for the first n load accounts.
func (c *common) accounts(n int) ([]*account, error) {
	out := make([]*account, n)
	for i := range out {
		a, err := newAccount(fmt.Sprintf("%s%d", c.prefix, i), c.password)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// proc returns the reader of the measured process.
func (c *common) proc() proc { return proc{pid: c.pid, clkTck: c.clkTck} }

// raiseFileLimit raises the soft RLIMIT_NOFILE to at least want (capped by
// the hard limit) and returns the resulting soft limit.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	return lim.Cur, nil
}
