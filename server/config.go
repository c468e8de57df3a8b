package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/net/idna"
)

// Configuration defaults. DefaultConfig returns a Config holding them.
const (
	// DefaultDomain is the domain served when none is configured.
	DefaultDomain = "localhost"
	// DefaultDataDir is where state lives when data_dir is not set; relative
	// to the working directory.
	DefaultDataDir = "herald-data"
	// DefaultStorageFile is the SQLite database file name inside the data
	// directory.
	DefaultStorageFile = "herald.db"
	// DefaultC2SListen is the client-to-server STARTTLS listener (RFC 6120
	// §14.7 registers port 5222).
	DefaultC2SListen = ":5222"
	// DefaultC2SDirectTLSListen is the client-to-server direct TLS listener
	// (XEP-0368 §2: the xmpps-client service, conventionally port 5223).
	DefaultC2SDirectTLSListen = ":5223"
	// DefaultS2SListen is the server-to-server listener (RFC 6120 §14.7
	// registers port 5269).
	DefaultS2SListen = ":5269"
	// DefaultHTTPListen is the metrics and health listener. It binds to the
	// loopback interface so metrics are not public by default.
	DefaultHTTPListen = "127.0.0.1:5280"
	// DefaultMaxStanzaBytes is the default stanza size limit (256 KiB).
	DefaultMaxStanzaBytes = 262144
	// MinMaxStanzaBytes is the smallest stanza size limit a deployed server
	// may have (RFC 6120 §13.12, item 4: "MUST NOT be smaller than 10000
	// bytes").
	MinMaxStanzaBytes = 10000
	// DefaultMaxDepth is the default limit on XML element nesting.
	DefaultMaxDepth = 64
	// DefaultMaxAttrs is the default limit on attributes per element.
	DefaultMaxAttrs = 64
	// DefaultOutboundQueueBytes is the default limit on a session's unsent
	// output (1 MiB).
	DefaultOutboundQueueBytes = 1 << 20
	// DefaultAuthTimeout bounds TLS + SASL + resource binding.
	DefaultAuthTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a client may be silent before the
	// server pings it (XEP-0199 §4.2).
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultPingTimeout is how long the server waits for a ping answer
	// before closing the stream with <connection-timeout/>.
	DefaultPingTimeout = 60 * time.Second
	// DefaultParkAfter is how long a session is silent before it parks.
	DefaultParkAfter = 2 * time.Second
	// DefaultSASLRetries is the default number of SASL attempts allowed on
	// one stream (RFC 6120 §6.4.5: "at least 2 and no more than 5").
	DefaultSASLRetries = 3
	// DefaultInboundRate is how many bytes per second a client connection
	// may send, sustained (64 KiB/s: some 400 chat messages a second).
	DefaultInboundRate = 64 << 10
	// DefaultInboundBurst is how many bytes a client may send at once
	// before DefaultInboundRate applies (512 KiB: two stanzas of the
	// largest default size).
	DefaultInboundBurst = 512 << 10
	// DefaultAuthFailures is how many failed authentications one address
	// may make at once; DefaultAuthFailureWindow is the time over which
	// that allowance refills (one more failure a minute).
	DefaultAuthFailures      = 10
	DefaultAuthFailureWindow = 10 * time.Minute
)

// Sanity bounds enforced by Validate. They are generous: their purpose is to
// catch typos (an extra zero, a unit mix-up), not to second-guess operators.
const (
	maxMaxStanzaBytes     = 64 << 20 // 64 MiB
	minMaxDepth           = 8        // stream > iq > pubsub > publish > item > payload ...
	maxMaxDepth           = 10000
	minMaxAttrs           = 8 // the stream header alone carries up to 7
	maxMaxAttrs           = 10000
	maxOutboundQueueBytes = 1 << 30 // 1 GiB
	minSASLRetries        = 2       // RFC 6120 §6.4.5
	maxSASLRetries        = 5       // RFC 6120 §6.4.5
	// minInboundRate keeps the shaper's longest wait (512 bytes at this
	// rate) under a second.
	minInboundRate = 1024
	maxDomainBytes = 1023 // RFC 7622 §3.2
)

// Config is Herald's configuration. It is read from a TOML file (see
// LoadConfig and herald.example.toml); every field has a default
// (DefaultConfig).
//
// Paths: a path written in a configuration file is relative to that file's
// directory; a path set in code or on the command line (and the default
// data_dir) is relative to the working directory; storage.path is relative
// to data_dir. Validate makes all of them absolute.
type Config struct {
	// Domains are the XMPP domains this server hosts (RFC 7622 §3.2
	// domainparts). Validate normalises them (IDNA2008 mapping, lowercase,
	// U-labels, no trailing dot). Default ["localhost"].
	Domains []string `toml:"domains"`
	// DataDir holds the database and the development certificate. Default
	// "herald-data".
	DataDir string `toml:"data_dir"`
	// Log configures logging.
	Log LogConfig `toml:"log"`
	// TLS configures the server certificate.
	TLS TLSConfig `toml:"tls"`
	// C2S configures client-to-server connections.
	C2S C2SConfig `toml:"c2s"`
	// S2S configures server-to-server connections. Federation arrives in a
	// later release; the listener address is accepted and validated now.
	S2S S2SConfig `toml:"s2s"`
	// HTTP configures the metrics and health endpoint.
	HTTP HTTPConfig `toml:"http"`
	// Storage configures persistence.
	Storage StorageConfig `toml:"storage"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `toml:"level"`
	// Format is "text" or "json". Default "text".
	Format string `toml:"format"`
}

// TLSConfig names the server certificate. When both files are empty the
// server uses a self-signed development certificate kept in DataDir (see
// package internal/devcert); setting only one of them is an error.
type TLSConfig struct {
	// CertFile is a PEM file holding the certificate chain, leaf first.
	CertFile string `toml:"cert_file"`
	// KeyFile is a PEM file holding the certificate's private key.
	KeyFile string `toml:"key_file"`
}

// UseDevCert reports whether no certificate is configured, so the
// development certificate is to be used.
func (t TLSConfig) UseDevCert() bool {
	return t.CertFile == "" && t.KeyFile == ""
}

// C2SConfig configures client-to-server connections (RFC 6120).
type C2SConfig struct {
	// Listen is the STARTTLS listener address (RFC 6120 §5). "" disables
	// it. Default ":5222".
	Listen string `toml:"listen"`
	// DirectTLSListen is the direct TLS listener address (XEP-0368). ""
	// disables it. Default ":5223".
	DirectTLSListen string `toml:"direct_tls_listen"`
	// MaxStanzaBytes limits the size of one stanza, markup included (RFC
	// 6120 §13.12, item 4); at least 10000. Default 262144.
	MaxStanzaBytes int `toml:"max_stanza_bytes"`
	// MaxDepth limits XML element nesting. Default 64.
	MaxDepth int `toml:"max_depth"`
	// MaxAttrs limits the attributes on one element. Default 64.
	MaxAttrs int `toml:"max_attrs"`
	// OutboundQueueBytes limits a session's unsent output: a session
	// exceeding it while a write to it has been blocked for 2 s is closed,
	// and one exceeding 16 times it is closed at once. At least
	// MaxStanzaBytes. Default 1 MiB.
	OutboundQueueBytes int `toml:"outbound_queue_bytes"`
	// AuthTimeout bounds TLS negotiation, SASL authentication and resource
	// binding together. Default 60s.
	AuthTimeout Duration `toml:"auth_timeout"`
	// IdleTimeout is how long a client may stay silent before the server
	// pings it (XEP-0199). Default 5m.
	IdleTimeout Duration `toml:"idle_timeout"`
	// PingTimeout is how long the server waits for the answer to that ping
	// before closing the stream with <connection-timeout/> (RFC 6120
	// §4.9.3.4). Default 60s.
	PingTimeout Duration `toml:"ping_timeout"`
	// ParkAfter is how long a bound session may be silent before its
	// reading goroutine is released and the socket is watched by a shared
	// poller instead, which saves most of an idle session's memory (Linux
	// only). "0s" disables parking. Default 2s.
	ParkAfter Duration `toml:"park_after"`
	// SASLRetries is the number of failed SASL attempts allowed on one
	// stream, between 2 and 5 (RFC 6120 §6.4.5). Default 3.
	SASLRetries int `toml:"sasl_retries"`
	// InboundRate is how many bytes per second one client connection may
	// send, sustained; a client sending faster is slowed down (the server
	// reads from it more slowly and TCP pushes back), never disconnected
	// or dropped. 0 disables the limit; otherwise at least 1024. Default
	// 65536.
	InboundRate int `toml:"inbound_rate"`
	// InboundBurst is how many bytes a client may send at once before
	// InboundRate applies; at least MaxStanzaBytes. Default 524288.
	InboundBurst int `toml:"inbound_burst"`
	// AuthFailures is how many failed authentications one address (an
	// IPv4 address, or an IPv6 /64) may make at once; after that it may
	// fail once more every AuthFailureWindow/AuthFailures, and until then
	// its attempts get <temporary-auth-failure/> without the credentials
	// being checked. 0 disables the limit. Default 10.
	AuthFailures int `toml:"auth_failures"`
	// AuthFailureWindow is the time over which the AuthFailures allowance
	// refills. Default 10m.
	AuthFailureWindow Duration `toml:"auth_failure_window"`
	// AllowAnonymous offers SASL ANONYMOUS (RFC 4505). Default false.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// ClientCAFile is a PEM file of CA certificates; when set, clients
	// presenting a certificate signed by one of them may use SASL EXTERNAL
	// (RFC 6120 §6.3.4, XEP-0178). Default "" (disabled).
	ClientCAFile string `toml:"client_ca_file"`
	// HideOS omits <os/> from XEP-0092 software version answers. Default
	// false.
	HideOS bool `toml:"hide_os"`
}

// S2SConfig configures server-to-server connections.
type S2SConfig struct {
	// Listen is the server-to-server listener address. "" disables it.
	// Default ":5269".
	Listen string `toml:"listen"`
}

// HTTPConfig configures the HTTP listener serving metrics and health checks.
type HTTPConfig struct {
	// Listen is the listener address. "" disables it. Default
	// "127.0.0.1:5280".
	Listen string `toml:"listen"`
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the same
	// listener, for diagnosing memory and CPU use. Default false.
	Pprof bool `toml:"pprof"`
}

// StorageConfig configures persistence.
type StorageConfig struct {
	// Driver selects the backend. Only "sqlite" is supported; "postgres"
	// is planned. Default "sqlite".
	Driver string `toml:"driver"`
	// Path is the SQLite database file, relative to DataDir unless
	// absolute. Default "herald.db" (that is, <DataDir>/herald.db).
	Path string `toml:"path"`
}

// Duration is a time.Duration written in configuration files as a Go
// duration string such as "90s", "5m" or "1h30m" (time.ParseDuration).
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.String.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts anything
// time.ParseDuration accepts, except a bare number without a unit (other
// than "0").
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, such as \"90s\", \"5m\" or \"1h\"", text)
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the default configuration. Each call returns fresh
// slices, so the result may be modified freely.
func DefaultConfig() Config {
	return Config{
		Domains: []string{DefaultDomain},
		DataDir: DefaultDataDir,
		Log:     LogConfig{Level: "info", Format: "text"},
		C2S: C2SConfig{
			Listen:             DefaultC2SListen,
			DirectTLSListen:    DefaultC2SDirectTLSListen,
			MaxStanzaBytes:     DefaultMaxStanzaBytes,
			MaxDepth:           DefaultMaxDepth,
			MaxAttrs:           DefaultMaxAttrs,
			OutboundQueueBytes: DefaultOutboundQueueBytes,
			AuthTimeout:        Duration(DefaultAuthTimeout),
			IdleTimeout:        Duration(DefaultIdleTimeout),
			PingTimeout:        Duration(DefaultPingTimeout),
			ParkAfter:          Duration(DefaultParkAfter),
			SASLRetries:        DefaultSASLRetries,
			InboundRate:        DefaultInboundRate,
			InboundBurst:       DefaultInboundBurst,
			AuthFailures:       DefaultAuthFailures,
			AuthFailureWindow:  Duration(DefaultAuthFailureWindow),
		},
		S2S:     S2SConfig{Listen: DefaultS2SListen},
		HTTP:    HTTPConfig{Listen: DefaultHTTPListen},
		Storage: StorageConfig{Driver: "sqlite", Path: DefaultStorageFile},
	}
}

// LoadConfig returns the default configuration overlaid with the TOML file
// at path (see ApplyFile), validated and normalised (see Validate).
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	if err := c.ApplyFile(path); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: invalid configuration:\n%w", path, err)
	}
	return c, nil
}

// ApplyFile decodes the TOML file at path over c: keys present in the file
// replace c's values, absent keys leave them alone. Keys Herald does not know
// are an error naming each of them (a misspelt key would otherwise be
// silently ignored). Relative paths the file sets (data_dir, tls.cert_file,
// tls.key_file, c2s.client_ca_file) are resolved against the file's
// directory. ApplyFile does not validate; call Validate afterwards.
func (c *Config) ApplyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	// Decode into a copy whose slices are not shared with c, so that on
	// error c is untouched and the decoder never writes into a backing
	// array another Config might share.
	next := *c
	next.Domains = slices.Clone(c.Domains)
	md, err := toml.Decode(string(data), &next)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s: %s", path, perr.ErrorWithPosition())
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		errs := make([]error, 0, len(undecoded))
		for _, k := range undecoded {
			errs = append(errs, fmt.Errorf("%s: unknown configuration key %q", path, k.String()))
		}
		return errors.Join(errs...)
	}
	base := filepath.Dir(path)
	for _, p := range []struct {
		key []string
		dst *string
	}{
		{[]string{"data_dir"}, &next.DataDir},
		{[]string{"tls", "cert_file"}, &next.TLS.CertFile},
		{[]string{"tls", "key_file"}, &next.TLS.KeyFile},
		{[]string{"c2s", "client_ca_file"}, &next.C2S.ClientCAFile},
	} {
		if md.IsDefined(p.key...) && *p.dst != "" && !filepath.IsAbs(*p.dst) {
			*p.dst = filepath.Join(base, *p.dst)
		}
	}
	*c = next
	return nil
}

// Validate checks c and normalises it in place. Every problem is reported,
// each naming the configuration key, the offending value and what is
// allowed; the problems are joined with errors.Join.
//
// Normalisation: domains are prepared as RFC 7622 §3.2 domainparts (IDNA2008
// mapping, which lowercases; A-labels become U-labels; a trailing dot is
// removed); log level/format and storage driver are lowercased; DataDir and
// the TLS and CA file paths are made absolute (relative to the working
// directory); Storage.Path is resolved against DataDir ("" means
// "herald.db"). Validating an already validated Config changes nothing.
//
// Validate reads the file system only to check that ClientCAFile, CertFile
// and KeyFile exist (and that ClientCAFile holds a certificate).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	// Domains.
	if len(c.Domains) == 0 {
		bad("domains: empty: at least one domain must be configured")
	}
	seen := make(map[string]string, len(c.Domains))
	domains := make([]string, 0, len(c.Domains))
	for _, d := range c.Domains {
		norm, err := NormalizeDomain(d)
		if err != nil {
			bad("domains: %q is not a valid domain: %w", d, err)
			continue
		}
		if first, dup := seen[norm]; dup {
			if first == d {
				bad("domains: %q is listed twice", d)
			} else {
				bad("domains: %q and %q are the same domain (%q)", first, d, norm)
			}
			continue
		}
		seen[norm] = d
		domains = append(domains, norm)
	}
	if len(errs) == 0 {
		c.Domains = domains
	}

	// Data directory and storage.
	if c.DataDir == "" {
		bad("data_dir: empty: a directory for the database and development certificate is required")
	} else if abs, err := filepath.Abs(c.DataDir); err != nil {
		bad("data_dir = %q: %w", c.DataDir, err)
	} else {
		c.DataDir = abs
	}
	c.Storage.Driver = strings.ToLower(c.Storage.Driver)
	switch c.Storage.Driver {
	case "sqlite":
	case "postgres", "postgresql":
		bad("storage.driver = %q: PostgreSQL is not yet supported; use \"sqlite\"", c.Storage.Driver)
	default:
		bad("storage.driver = %q: unknown driver; the only supported driver is \"sqlite\"", c.Storage.Driver)
	}
	if c.Storage.Path == "" {
		c.Storage.Path = DefaultStorageFile
	}
	if !filepath.IsAbs(c.Storage.Path) && filepath.IsAbs(c.DataDir) {
		c.Storage.Path = filepath.Join(c.DataDir, c.Storage.Path)
	}

	// Logging.
	c.Log.Level = strings.ToLower(c.Log.Level)
	if _, ok := logLevels()[c.Log.Level]; !ok {
		bad("log.level = %q: must be one of \"debug\", \"info\", \"warn\", \"error\"", c.Log.Level)
	}
	c.Log.Format = strings.ToLower(c.Log.Format)
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format = %q: must be \"text\" or \"json\"", c.Log.Format)
	}

	// Certificate and CA files. Paths are made absolute first so that every
	// message shows them the same way.
	var fileErrs []error
	for _, f := range []struct {
		key string
		p   *string
	}{
		{"tls.cert_file", &c.TLS.CertFile},
		{"tls.key_file", &c.TLS.KeyFile},
		{"c2s.client_ca_file", &c.C2S.ClientCAFile},
	} {
		if *f.p == "" {
			continue
		}
		if abs, err := filepath.Abs(*f.p); err == nil {
			*f.p = abs
		}
		if err := checkRegularFile(*f.p); err != nil {
			fileErrs = append(fileErrs, fmt.Errorf("%s = %q: %w", f.key, *f.p, err))
		}
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		bad("tls.cert_file = %q but tls.key_file is empty: set both, or neither to use the development certificate", c.TLS.CertFile)
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		bad("tls.key_file = %q but tls.cert_file is empty: set both, or neither to use the development certificate", c.TLS.KeyFile)
	}
	errs = append(errs, fileErrs...)
	if c.C2S.ClientCAFile != "" {
		if pem, err := os.ReadFile(c.C2S.ClientCAFile); err == nil {
			if !x509.NewCertPool().AppendCertsFromPEM(pem) {
				bad("c2s.client_ca_file = %q: contains no PEM certificate", c.C2S.ClientCAFile)
			}
		}
	}

	// Listeners.
	listeners := []struct {
		key  string
		addr string
	}{
		{"c2s.listen", c.C2S.Listen},
		{"c2s.direct_tls_listen", c.C2S.DirectTLSListen},
		{"s2s.listen", c.S2S.Listen},
		{"http.listen", c.HTTP.Listen},
	}
	used := make(map[string]string, len(listeners))
	for _, l := range listeners {
		if l.addr == "" {
			continue // disabled
		}
		canon, err := checkListenAddr(l.addr)
		if err != nil {
			bad("%s = %q: %w", l.key, l.addr, err)
			continue
		}
		if canon == "" {
			continue // port 0: a fresh port each time, never a clash
		}
		if other, clash := used[canon]; clash {
			bad("%s = %q: same address as %s", l.key, l.addr, other)
			continue
		}
		used[canon] = l.key
	}

	// Limits.
	s := &c.C2S
	if s.MaxStanzaBytes < MinMaxStanzaBytes || s.MaxStanzaBytes > maxMaxStanzaBytes {
		bad("c2s.max_stanza_bytes = %d: must be between %d (RFC 6120 §13.12) and %d", s.MaxStanzaBytes, MinMaxStanzaBytes, maxMaxStanzaBytes)
	}
	if s.MaxDepth < minMaxDepth || s.MaxDepth > maxMaxDepth {
		bad("c2s.max_depth = %d: must be between %d and %d", s.MaxDepth, minMaxDepth, maxMaxDepth)
	}
	if s.MaxAttrs < minMaxAttrs || s.MaxAttrs > maxMaxAttrs {
		bad("c2s.max_attrs = %d: must be between %d and %d", s.MaxAttrs, minMaxAttrs, maxMaxAttrs)
	}
	switch {
	case s.OutboundQueueBytes > maxOutboundQueueBytes:
		bad("c2s.outbound_queue_bytes = %d: must be at most %d", s.OutboundQueueBytes, maxOutboundQueueBytes)
	case s.OutboundQueueBytes < s.MaxStanzaBytes:
		bad("c2s.outbound_queue_bytes = %d: must be at least c2s.max_stanza_bytes (%d), so that one full stanza fits", s.OutboundQueueBytes, s.MaxStanzaBytes)
	}
	if s.SASLRetries < minSASLRetries || s.SASLRetries > maxSASLRetries {
		bad("c2s.sasl_retries = %d: must be between %d and %d (RFC 6120 §6.4.5)", s.SASLRetries, minSASLRetries, maxSASLRetries)
	}
	switch {
	case s.InboundRate < 0 || s.InboundRate > 0 && s.InboundRate < minInboundRate:
		bad("c2s.inbound_rate = %d: must be 0 (no limit) or at least %d bytes per second", s.InboundRate, minInboundRate)
	case s.InboundRate > 0 && s.InboundBurst < s.MaxStanzaBytes:
		bad("c2s.inbound_burst = %d: must be at least c2s.max_stanza_bytes (%d), so that one full stanza can arrive at once", s.InboundBurst, s.MaxStanzaBytes)
	}
	if s.AuthFailures < 0 {
		bad("c2s.auth_failures = %d: must be 0 (no limit) or more", s.AuthFailures)
	}
	if s.AuthFailures > 0 && s.AuthFailureWindow <= 0 {
		bad("c2s.auth_failure_window = %q: must be a positive duration, such as \"10m\", when c2s.auth_failures is set", s.AuthFailureWindow)
	}
	for _, t := range []struct {
		key string
		d   Duration
	}{
		{"c2s.auth_timeout", s.AuthTimeout},
		{"c2s.idle_timeout", s.IdleTimeout},
		{"c2s.ping_timeout", s.PingTimeout},
	} {
		if t.d <= 0 {
			bad("%s = %q: must be a positive duration, such as \"60s\"", t.key, t.d)
		}
	}
	if s.ParkAfter < 0 {
		bad("c2s.park_after = %q: must be a duration of zero (never park) or more, such as \"2s\"", s.ParkAfter)
	}
	return errors.Join(errs...)
}

// logLevels maps the accepted log.level values to slog levels.
func logLevels() map[string]slog.Level {
	return map[string]slog.Level{
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	}
}

// SlogLevel returns the slog level for l.Level; unknown levels (which
// Validate rejects) map to slog.LevelInfo.
func (l LogConfig) SlogLevel() slog.Level {
	if lvl, ok := logLevels()[strings.ToLower(l.Level)]; ok {
		return lvl
	}
	return slog.LevelInfo
}

// NewHandler returns a slog handler writing to w in l.Format ("json", or
// text otherwise) at l's level.
func (l LogConfig) NewHandler(w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if strings.EqualFold(l.Format, "json") {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// NormalizeDomain prepares s as an XMPP domainpart hosted by this server, as
// Validate does for Config.Domains (RFC 7622 §3.2): one trailing dot is
// removed, the IDNA2008 mapping for lookup is applied (lowercasing and width
// mapping, RFC 5895), labels are validated (RFC 5891, RFC 5892, the Bidi rule
// of RFC 5893, DNS lengths), and the result is returned in Unicode form
// (A-labels converted to U-labels, RFC 7622 §3.2.1). IP addresses are
// rejected: a hosted domain needs a name, if only for its certificate.
func NormalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty")
	}
	if strings.HasPrefix(s, "[") || net.ParseIP(s) != nil {
		return "", errors.New("IP addresses cannot be hosted domains; use a host name")
	}
	profile := idna.New(
		idna.MapForLookup(),
		idna.BidiRule(),
		idna.Transitional(false),
		idna.StrictDomainName(true),
		idna.VerifyDNSLength(true),
	)
	ascii, err := profile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("not a valid internationalised domain name: %w", err)
	}
	uni, err := profile.ToUnicode(ascii)
	if err != nil {
		return "", fmt.Errorf("not a valid internationalised domain name: %w", err)
	}
	if len(uni) > maxDomainBytes {
		return "", fmt.Errorf("longer than %d bytes (RFC 7622 §3.2)", maxDomainBytes)
	}
	return uni, nil
}

// checkListenAddr checks that addr is "host:port" with a numeric port
// 0-65535 (the host may be empty for all interfaces) and returns a canonical
// form for clash detection, or "" if the port is 0.
func checkListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("must be host:port, such as \":5222\" or \"127.0.0.1:5222\": %w", err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	if n == 0 {
		return "", nil
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.FormatUint(n, 10)), nil
}

// checkRegularFile reports an error unless path names an existing regular
// file.
func checkRegularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("file does not exist")
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}
