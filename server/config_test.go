package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCACert writes a self-signed CA certificate in PEM to dir/name.
func writeCACert(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default configuration does not validate: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "herald-data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	if want := filepath.Join(wd, "herald-data", "herald.db"); c.Storage.Path != want {
		t.Errorf("Storage.Path = %q, want %q", c.Storage.Path, want)
	}
	if !c.TLS.UseDevCert() {
		t.Error("default configuration does not use the development certificate")
	}
	if got := c.C2S.AuthTimeout.Std(); got != 60*time.Second {
		t.Errorf("AuthTimeout = %v, want 60s", got)
	}
	if got := c.C2S.IdleTimeout.Std(); got != 5*time.Minute {
		t.Errorf("IdleTimeout = %v, want 5m", got)
	}
}

func TestDefaultConfigReturnsFreshSlices(t *testing.T) {
	a := DefaultConfig()
	a.Domains[0] = "example.org"
	if b := DefaultConfig(); b.Domains[0] != "localhost" {
		t.Fatalf("modifying one DefaultConfig changed another: %q", b.Domains[0])
	}
}

// TestExampleConfigMatchesDefaults checks that herald.example.toml documents
// every key with its default value: loading it must give exactly
// DefaultConfig, and every Config field must appear in it.
func TestExampleConfigMatchesDefaults(t *testing.T) {
	path := filepath.Join("..", "herald.example.toml")
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig(example): %v", err)
	}
	want := DefaultConfig()
	// The example's data_dir is relative to the example's directory.
	want.DataDir = filepath.Join("..", DefaultDataDir)
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config differs from defaults:\n got %+v\nwant %+v", got, want)
	}

	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeFor[Config]()) {
		if !strings.Contains(string(text), "\n"+key+" = ") {
			t.Errorf("herald.example.toml does not document key %q", key)
		}
	}
}

// tomlKeys lists the leaf TOML key names of a struct type.
func tomlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(f.Type)...)
			continue
		}
		keys = append(keys, name)
	}
	return keys
}

func TestLoadConfigOverridesDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cert.pem", "not checked here")
	writeFile(t, dir, "key.pem", "not checked here")
	ca := writeCACert(t, dir, "ca.pem")
	path := writeFile(t, dir, "herald.toml", `
domains = ["Example.ORG.", "xn--bcher-kva.example", "chat.example.net"]
data_dir = "state"

[log]
level = "DEBUG"
format = "json"

[tls]
cert_file = "cert.pem"
key_file = "`+filepath.Join(dir, "key.pem")+`"

[c2s]
listen = "127.0.0.1:15222"
direct_tls_listen = ""
max_stanza_bytes = 10000
max_depth = 32
max_attrs = 16
outbound_queue_bytes = 20000
auth_timeout = "30s"
idle_timeout = "2m30s"
ping_timeout = "10s"
park_after = "0s"
sasl_retries = 5
inbound_rate = 2048
inbound_burst = 10000
auth_failures = 3
auth_failure_window = "1h"
allow_anonymous = true
client_ca_file = "ca.pem"
hide_os = true

[s2s]
listen = ""

[http]
listen = "[::1]:9090"

[storage]
driver = "SQLite"
path = "/var/lib/herald/accounts.db"
`)
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{
		Domains: []string{"example.org", "bücher.example", "chat.example.net"},
		DataDir: filepath.Join(dir, "state"),
		Log:     LogConfig{Level: "debug", Format: "json"},
		TLS:     TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")},
		C2S: C2SConfig{
			Listen:             "127.0.0.1:15222",
			DirectTLSListen:    "",
			MaxStanzaBytes:     10000,
			MaxDepth:           32,
			MaxAttrs:           16,
			OutboundQueueBytes: 20000,
			AuthTimeout:        Duration(30 * time.Second),
			IdleTimeout:        Duration(150 * time.Second),
			PingTimeout:        Duration(10 * time.Second),
			SASLRetries:        5,
			InboundRate:        2048,
			InboundBurst:       10000,
			AuthFailures:       3,
			AuthFailureWindow:  Duration(time.Hour),
			AllowAnonymous:     true,
			ClientCAFile:       ca,
			HideOS:             true,
		},
		S2S:     S2SConfig{Listen: ""},
		HTTP:    HTTPConfig{Listen: "[::1]:9090"},
		Storage: StorageConfig{Driver: "sqlite", Path: filepath.FromSlash("/var/lib/herald/accounts.db")},
	}
	if runtime.GOOS == "windows" {
		t.Skip("absolute path literal in the test file is Unix-style")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig:\n got %+v\nwant %+v", got, want)
	}
	if got.Log.SlogLevel().String() != "DEBUG" {
		t.Errorf("SlogLevel = %v, want DEBUG", got.Log.SlogLevel())
	}
}

func TestLoadConfigPartialFileKeepsDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "herald.toml", "[c2s]\nsasl_retries = 2\n")
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.C2S.SASLRetries = 2
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestStoragePathRelativeToDataDir(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConfig()
	c.DataDir = dir
	c.Storage.Path = "sub/x.db"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sub", "x.db"); c.Storage.Path != want {
		t.Errorf("Storage.Path = %q, want %q", c.Storage.Path, want)
	}
	// Validate is idempotent.
	before := c
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, c) {
		t.Errorf("second Validate changed the config:\n before %+v\n after %+v", before, c)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // substrings of the error
	}{
		{
			name:    "unknown top-level key",
			content: "domain = [\"example.org\"]\n",
			want:    []string{"herald.toml", `unknown configuration key "domain"`},
		},
		{
			name:    "unknown keys in tables are all reported",
			content: "[c2s]\nlisten = \":5222\"\nlissten = \":1\"\n[tls]\ncert = \"x\"\n",
			want:    []string{`unknown configuration key "c2s.lissten"`, `unknown configuration key "tls.cert"`},
		},
		{
			name:    "unknown table",
			content: "[muc]\nenabled = true\n",
			want:    []string{`unknown configuration key "muc`},
		},
		{
			name:    "syntax error with position",
			content: "domains = [\"a\"\n",
			want:    []string{"herald.toml", "line"},
		},
		{
			name:    "duration without unit",
			content: "[c2s]\nauth_timeout = 60\n",
			want:    []string{`invalid duration "60"`, `"90s"`},
		},
		{
			name:    "bad duration string",
			content: "[c2s]\nidle_timeout = \"five minutes\"\n",
			want:    []string{`invalid duration "five minutes"`},
		},
		{
			name:    "wrong type",
			content: "[c2s]\nmax_depth = \"deep\"\n",
			want:    []string{"herald.toml", "max_depth"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "herald.toml", tt.content)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
}

// unwrapAll returns the innermost error of a chain of single wraps.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestApplyFileLeavesConfigOnError(t *testing.T) {
	c := DefaultConfig()
	path := writeFile(t, t.TempDir(), "herald.toml", "domains = [\"a.example\"]\nbogus = 1\n")
	if err := c.ApplyFile(path); err == nil {
		t.Fatal("ApplyFile succeeded")
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("failed ApplyFile modified the config: %+v", c)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	notCA := writeFile(t, dir, "notca.pem", "hello")
	c := DefaultConfig()
	c.Domains = []string{"ok.example", "bad domain", "OK.example", "under_score.example", "127.0.0.1"}
	c.Log.Level = "verbose"
	c.Log.Format = "xml"
	c.TLS.CertFile = filepath.Join(dir, "missing.pem")
	c.C2S.Listen = "5222"
	c.C2S.DirectTLSListen = ":99999"
	c.S2S.Listen = ":5280"
	c.HTTP.Listen = "0.0.0.0:5280"
	c.C2S.MaxStanzaBytes = 9999
	c.C2S.MaxDepth = 0
	c.C2S.MaxAttrs = -1
	c.C2S.OutboundQueueBytes = 5000
	c.C2S.AuthTimeout = 0
	c.C2S.IdleTimeout = Duration(-time.Second)
	c.C2S.SASLRetries = 6
	c.C2S.ClientCAFile = notCA
	c.Storage.Driver = "postgres"

	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		`domains: "bad domain" is not a valid domain`,
		`domains: "ok.example" and "OK.example" are the same domain`,
		`domains: "under_score.example" is not a valid domain`,
		`domains: "127.0.0.1" is not a valid domain: IP addresses`,
		`log.level = "verbose": must be one of`,
		`log.format = "xml": must be "text" or "json"`,
		`tls.cert_file = "` + filepath.Join(dir, "missing.pem") + `" but tls.key_file is empty`,
		`tls.cert_file = "` + filepath.Join(dir, "missing.pem") + `": file does not exist`,
		`c2s.listen = "5222": must be host:port`,
		`c2s.direct_tls_listen = ":99999": port "99999" must be a number from 0 to 65535`,
		`c2s.max_stanza_bytes = 9999: must be between 10000 (RFC 6120 §13.12)`,
		`c2s.max_depth = 0: must be between 8 and`,
		`c2s.max_attrs = -1: must be between 8 and`,
		`c2s.outbound_queue_bytes = 5000: must be at least c2s.max_stanza_bytes (9999)`,
		`c2s.sasl_retries = 6: must be between 2 and 5 (RFC 6120 §6.4.5)`,
		`c2s.auth_timeout = "0s": must be a positive duration`,
		`c2s.idle_timeout = "-1s": must be a positive duration`,
		`c2s.client_ca_file = "` + notCA + `": contains no PEM certificate`,
		`storage.driver = "postgres": PostgreSQL is not yet supported`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate error does not contain %q", want)
		}
	}
	// s2s.listen and http.listen differ textually but s2s ":5280" and http
	// "0.0.0.0:5280" are not the same canonical address; only exact
	// duplicates are reported.
	if strings.Contains(msg, "same address") {
		t.Errorf("unexpected clash report in %q", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n != 19 {
		t.Errorf("Validate reported %d problems, want 19:\n%s", n, msg)
	}
	if t.Failed() {
		t.Logf("full error:\n%s", msg)
	}
}

func TestValidateCases(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr string // "" means valid
		check   func(*testing.T, Config)
	}{
		{"no domains", func(c *Config) { c.Domains = nil }, "domains: empty", nil},
		{"duplicate domain", func(c *Config) { c.Domains = []string{"a.example", "a.example"} }, `domains: "a.example" is listed twice`, nil},
		{"trailing dot removed", func(c *Config) { c.Domains = []string{"Chat.Example."} }, "", func(t *testing.T, c Config) {
			if c.Domains[0] != "chat.example" {
				t.Errorf("domain = %q, want chat.example", c.Domains[0])
			}
		}},
		{"A-label becomes U-label (RFC 7622 §3.2.1)", func(c *Config) { c.Domains = []string{"XN--BCHER-KVA.example"} }, "", func(t *testing.T, c Config) {
			if c.Domains[0] != "bücher.example" {
				t.Errorf("domain = %q, want bücher.example", c.Domains[0])
			}
		}},
		{"fullwidth mapped", func(c *Config) { c.Domains = []string{"ｅｘａｍｐｌｅ.org"} }, "", func(t *testing.T, c Config) {
			if c.Domains[0] != "example.org" {
				t.Errorf("domain = %q, want example.org", c.Domains[0])
			}
		}},
		{"IPv6 literal rejected", func(c *Config) { c.Domains = []string{"[::1]"} }, "IP addresses", nil},
		{"label too long", func(c *Config) { c.Domains = []string{strings.Repeat("a", 64) + ".example"} }, "not a valid", nil},
		{"leading hyphen", func(c *Config) { c.Domains = []string{"-a.example"} }, "not a valid", nil},
		{"empty domain", func(c *Config) { c.Domains = []string{""} }, `domains: "" is not a valid domain: empty`, nil},
		{"key without cert", func(c *Config) { c.TLS.KeyFile = "k.pem" }, "tls.key_file = ", nil},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir: empty", nil},
		{"unknown storage driver", func(c *Config) { c.Storage.Driver = "mysql" }, `storage.driver = "mysql": unknown driver`, nil},
		{"empty storage path means default", func(c *Config) { c.DataDir = "/srv/h"; c.Storage.Path = "" }, "", func(t *testing.T, c Config) {
			if want := filepath.Join(c.DataDir, "herald.db"); c.Storage.Path != want {
				t.Errorf("Storage.Path = %q, want %q", c.Storage.Path, want)
			}
		}},
		{"listeners may be disabled", func(c *Config) {
			c.C2S.Listen, c.C2S.DirectTLSListen, c.S2S.Listen, c.HTTP.Listen = "", "", "", ""
		}, "", nil},
		{"port 0 may repeat", func(c *Config) {
			c.C2S.Listen, c.C2S.DirectTLSListen, c.S2S.Listen, c.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0"
		}, "", nil},
		{"listener clash", func(c *Config) { c.C2S.DirectTLSListen = c.C2S.Listen }, `c2s.direct_tls_listen = ":5222": same address as c2s.listen`, nil},
		{"listener clash after IP canonicalisation", func(c *Config) {
			c.S2S.Listen, c.HTTP.Listen = "[::1]:7000", "[0:0::1]:7000"
		}, `http.listen = "[0:0::1]:7000": same address as s2s.listen`, nil},
		{"service name port rejected", func(c *Config) { c.C2S.Listen = ":xmpp-client" }, `port "xmpp-client" must be a number`, nil},
		{"stanza limit minimum accepted", func(c *Config) { c.C2S.MaxStanzaBytes = 10000 }, "", nil},
		{"huge stanza limit", func(c *Config) { c.C2S.MaxStanzaBytes = 1 << 40 }, "c2s.max_stanza_bytes = 1099511627776", nil},
		{"huge queue", func(c *Config) { c.C2S.OutboundQueueBytes = 1 << 31 }, "c2s.outbound_queue_bytes = 2147483648: must be at most", nil},
		{"sasl retries 1", func(c *Config) { c.C2S.SASLRetries = 1 }, "c2s.sasl_retries = 1", nil},
		{"sasl retries 2", func(c *Config) { c.C2S.SASLRetries = 2 }, "", nil},
		{"ping timeout zero", func(c *Config) { c.C2S.PingTimeout = 0 }, "c2s.ping_timeout", nil},
		{"inbound rate off", func(c *Config) { c.C2S.InboundRate, c.C2S.InboundBurst = 0, 0 }, "", nil},
		{"inbound rate too low", func(c *Config) { c.C2S.InboundRate = 100 }, "c2s.inbound_rate = 100: must be 0 (no limit) or at least 1024", nil},
		{"inbound rate negative", func(c *Config) { c.C2S.InboundRate = -1 }, "c2s.inbound_rate = -1", nil},
		{"inbound burst below a stanza", func(c *Config) { c.C2S.InboundBurst = 1000 }, "c2s.inbound_burst = 1000: must be at least c2s.max_stanza_bytes (262144)", nil},
		{"auth failure limit off", func(c *Config) { c.C2S.AuthFailures, c.C2S.AuthFailureWindow = 0, 0 }, "", nil},
		{"auth failures negative", func(c *Config) { c.C2S.AuthFailures = -2 }, "c2s.auth_failures = -2", nil},
		{"auth failure window zero", func(c *Config) { c.C2S.AuthFailureWindow = 0 }, "c2s.auth_failure_window", nil},
		{"missing client CA", func(c *Config) { c.C2S.ClientCAFile = "/nonexistent/ca.pem" }, `c2s.client_ca_file = "/nonexistent/ca.pem": file does not exist`, nil},
		{"client CA is a directory", func(c *Config) { c.C2S.ClientCAFile = os.TempDir() }, "not a regular file", nil},
		{"log values are case-insensitive", func(c *Config) { c.Log.Level, c.Log.Format = "WARN", "JSON" }, "", func(t *testing.T, c Config) {
			if c.Log.Level != "warn" || c.Log.Format != "json" {
				t.Errorf("log = %+v, want warn/json", c.Log)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate succeeded, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate error %q does not contain %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90s", 90 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"250ms", 250 * time.Millisecond, false},
		{"0", 0, false},
		{"60", 0, true},
		{"", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("UnmarshalText(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && d.Std() != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tt.in, d, tt.want)
		}
	}
	text, err := Duration(5 * time.Minute).MarshalText()
	if err != nil || string(text) != "5m0s" {
		t.Errorf("MarshalText = %q, %v; want \"5m0s\"", text, err)
	}
}

func TestLogHandlerFormat(t *testing.T) {
	var b strings.Builder
	LogConfig{Level: "warn", Format: "json"}.NewHandler(&b).Handle(t.Context(), newRecord("hello"))
	if !strings.HasPrefix(b.String(), "{") {
		t.Errorf("json handler wrote %q", b.String())
	}
	b.Reset()
	LogConfig{Level: "warn", Format: "text"}.NewHandler(&b).Handle(t.Context(), newRecord("hello"))
	if !strings.Contains(b.String(), "msg=hello") {
		t.Errorf("text handler wrote %q", b.String())
	}
	h := LogConfig{Level: "warn"}.NewHandler(&b)
	if h.Enabled(t.Context(), LogConfig{Level: "info"}.SlogLevel()) {
		t.Error("warn handler enabled for info")
	}
}

// newRecord returns an error-level log record with message msg.
func newRecord(msg string) slog.Record {
	return slog.NewRecord(time.Now(), slog.LevelError, msg, 0)
}
