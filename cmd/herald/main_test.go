package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
)

// result is what one run of the command line produced.
type result struct {
	code           int
	stdout, stderr string
}

// herald runs the command line args with stdin as standard input.
func herald(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// want fails the test unless r has exit code code and its stdout and stderr
// contain the given substrings ("" matches anything).
func (r result) want(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, stdout) {
		t.Errorf("stdout %q does not contain %q", r.stdout, stdout)
	}
	if !strings.Contains(r.stderr, stderr) {
		t.Errorf("stderr %q does not contain %q", r.stderr, stderr)
	}
}

// testSite is a temporary installation: a configuration file serving
// localhost and example.org with its data directory beside it.
type testSite struct {
	dir    string
	config string
}

// newSite writes the configuration of a test installation.
func newSite(t *testing.T) testSite {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "herald.toml")
	content := "domains = [\"localhost\", \"Example.org\"]\ndata_dir = \"data\"\n"
	if err := os.WriteFile(config, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return testSite{dir: dir, config: config}
}

// herald runs a command against the site: "-config FILE" is inserted
// after the command name.
func (s testSite) herald(t *testing.T, stdin, cmd string, args ...string) result {
	t.Helper()
	return herald(t, stdin, append([]string{cmd, "-config", s.config}, args...)...)
}

// account reads an account straight from the site's database.
func (s testSite) account(t *testing.T, jid string) (storage.Account, error) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(s.dir, "data", "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Account(ctx, jid)
}

func TestAccountLifecycle(t *testing.T) {
	site := newSite(t)

	site.herald(t, "s3cret pass\n", "adduser", "-password-stdin", "Alice@LocalHost").
		want(t, 0, "created account alice@localhost\n", "")
	acct, err := site.account(t, "alice@localhost")
	if err != nil {
		t.Fatalf("account not in the database: %v", err)
	}
	if !acct.Credentials.VerifyPassword("s3cret pass") {
		t.Error("stored credentials do not verify the password given on stdin")
	}
	if acct.Disabled {
		t.Error("new account is disabled")
	}

	// Standard input that is not a terminal is read without -password-stdin.
	site.herald(t, "bobpw", "adduser", "bob@example.org").want(t, 0, "created account bob@example.org", "")
	site.herald(t, "", "adduser", "-password", "carolpw", "carol@localhost").want(t, 0, "created account carol@localhost", "")

	r := site.herald(t, "", "users")
	r.want(t, 0, "", "")
	if want := "alice@localhost\nbob@example.org\ncarol@localhost\n"; r.stdout != want {
		t.Errorf("users printed %q, want %q", r.stdout, want)
	}
	r = site.herald(t, "", "users", "EXAMPLE.ORG")
	r.want(t, 0, "", "")
	if r.stdout != "bob@example.org\n" {
		t.Errorf("users example.org printed %q", r.stdout)
	}

	// passwd.
	site.herald(t, "new-password\r\n", "passwd", "-password-stdin", "alice@localhost").
		want(t, 0, "changed the password of alice@localhost", "")
	acct, err = site.account(t, "alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if !acct.Credentials.VerifyPassword("new-password") || acct.Credentials.VerifyPassword("s3cret pass") {
		t.Error("passwd did not replace the password (or kept the \\r)")
	}

	// disable / enable.
	site.herald(t, "", "disable", "alice@localhost").want(t, 0, "disabled account alice@localhost", "")
	if acct, err = site.account(t, "alice@localhost"); err != nil || !acct.Disabled {
		t.Errorf("after disable: Disabled = %v, err = %v", acct.Disabled, err)
	}
	site.herald(t, "", "enable", "alice@localhost").want(t, 0, "enabled account alice@localhost", "")
	if acct, err = site.account(t, "alice@localhost"); err != nil || acct.Disabled {
		t.Errorf("after enable: Disabled = %v, err = %v", acct.Disabled, err)
	}

	// deluser.
	site.herald(t, "", "deluser", "alice@localhost").want(t, 0, "deleted account alice@localhost", "")
	if _, err := site.account(t, "alice@localhost"); err == nil {
		t.Error("account still in the database after deluser")
	}
	r = site.herald(t, "", "users", "localhost")
	if r.stdout != "carol@localhost\n" {
		t.Errorf("users after deluser printed %q", r.stdout)
	}

	// Operations on a missing account fail with exit code 1.
	for _, cmd := range []string{"deluser", "disable", "enable"} {
		site.herald(t, "", cmd, "alice@localhost").want(t, 1, "", "herald: "+cmd+": no account alice@localhost\n")
	}
	site.herald(t, "pw\n", "passwd", "alice@localhost").want(t, 1, "", "herald: passwd: no account alice@localhost\n")
}

func TestAddUserFailures(t *testing.T) {
	site := newSite(t)
	site.herald(t, "pw\n", "adduser", "dave@localhost").want(t, 0, "created", "")

	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"duplicate", "pw\n", []string{"dave@localhost"}, 1, "herald: adduser: account dave@localhost already exists\n"},
		{"duplicate differing in case", "pw\n", []string{"DAVE@LOCALHOST"}, 1, "herald: adduser: account dave@localhost already exists\n"},
		{"unknown domain", "pw\n", []string{"dave@example.net"}, 1, `herald: adduser: dave@example.net: domain "example.net" is not served by this server (configured domains: localhost, example.org)`},
		{"empty password", "\n", []string{"erin@localhost"}, 1, "herald: adduser: the password is empty"},
		{"no password at all", "", []string{"erin@localhost"}, 1, "herald: adduser: no password on standard input"},
		{"password failing PRECIS", "bad\x07pw\n", []string{"erin@localhost"}, 1, "herald: adduser: password for erin@localhost:"},
		{"no argument", "", nil, 2, "herald: adduser: missing argument\nusage: herald adduser [-password P | -password-stdin] [flags] user@domain\n"},
		{"two arguments", "", []string{"a@localhost", "b@localhost"}, 2, `herald: adduser: unexpected argument "b@localhost"`},
		{"both password options", "", []string{"-password", "x", "-password-stdin", "erin@localhost"}, 2, "herald: adduser: -password and -password-stdin cannot be used together"},
		{"unknown flag", "", []string{"-pasword", "x", "erin@localhost"}, 2, "herald: adduser: flag provided but not defined: -pasword"},
		{"resource", "", []string{"erin@localhost/phone"}, 2, "without a /resource"},
		{"no localpart", "", []string{"localhost"}, 2, "expected a JID of the form user@domain"},
		{"empty localpart", "", []string{"@localhost"}, 2, "the user part before '@' is empty"},
		{"excluded character", "", []string{"o'brien@localhost"}, 2, "may not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site.herald(t, tt.stdin, "adduser", tt.args...).want(t, tt.code, "", tt.stderr)
		})
	}
	r := site.herald(t, "", "users")
	if r.stdout != "dave@localhost\n" {
		t.Errorf("failed addusers changed the account list: %q", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	site := newSite(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown command", []string{"frobnicate"}, "herald: unknown command \"frobnicate\"\n"},
		{"help for unknown command", []string{"help", "frobnicate"}, "herald: help: unknown command \"frobnicate\""},
		{"help with two arguments", []string{"help", "users", "adduser"}, "herald: help: too many arguments"},
		{"deluser without argument", []string{"deluser", "-config", site.config}, "herald: deluser: missing argument"},
		{"users with two domains", []string{"users", "-config", site.config, "a.example", "b.example"}, `herald: users: unexpected argument "b.example"`},
		{"users with invalid domain", []string{"users", "-config", site.config, "bad domain"}, `herald: users: domain "bad domain"`},
		{"check-config with argument", []string{"check-config", "extra"}, `herald: check-config: unexpected argument "extra"`},
		{"version with argument", []string{"version", "extra"}, `herald: version: unexpected argument "extra"`},
		{"bad flag before default command", []string{"-nope"}, "herald: serve: flag provided but not defined: -nope"},
		{"empty -config", []string{"check-config", "-config", ""}, "herald: check-config: -config: empty file name"},
		{"flag missing value", []string{"users", "-config"}, "herald: users: flag needs an argument: -config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			herald(t, "", tt.args...).want(t, 2, "", tt.stderr)
		})
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdout string
	}{
		{"help", []string{"help"}, "Commands:"},
		{"-h", []string{"-h"}, "Commands:"},
		{"--help", []string{"--help"}, "Commands:"},
		{"help help", []string{"help", "help"}, "Commands:"},
		{"help adduser", []string{"help", "adduser"}, "Usage: herald adduser [-password P | -password-stdin] [flags] user@domain"},
		{"help adduser lists its flags", []string{"help", "adduser"}, "-password-stdin"},
		{"help users lists common flags", []string{"help", "users"}, "-c2s-tls-listen host:port"},
		{"help serve", []string{"help", "serve"}, "Usage: herald serve [flags]"},
		{"help version", []string{"help", "version"}, "Usage: herald version\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := herald(t, "", tt.args...)
			r.want(t, 0, tt.stdout, "")
			if r.stderr != "" {
				t.Errorf("help wrote to stderr: %q", r.stderr)
			}
		})
	}
	// "<cmd> -h" prints the same usage, to stderr as the flag package does,
	// and exits 0.
	r := herald(t, "", "adduser", "-h")
	r.want(t, 0, "", "Usage: herald adduser")
	if !strings.Contains(r.stderr, "-password-stdin") {
		t.Errorf("adduser -h does not list -password-stdin: %q", r.stderr)
	}
	herald(t, "", "serve", "-h").want(t, 0, "", "-c2s-listen")
	herald(t, "", "check-config", "-help").want(t, 0, "", "Usage: herald check-config [flags]")
}

func TestCheckConfig(t *testing.T) {
	site := newSite(t)
	r := site.herald(t, "", "check-config")
	r.want(t, 0, "configuration OK ("+site.config+")\n", "")
	for _, want := range []string{
		"domains:        localhost, example.org\n",
		"c2s STARTTLS:   :5222\n",
		"c2s direct TLS: :5223\n",
		"s2s:            :5269\n",
		"http:           127.0.0.1:5280\n",
		"data dir:       " + filepath.Join(site.dir, "data") + "\n",
		"storage:        sqlite " + filepath.Join(site.dir, "data", "herald.db") + "\n",
		"self-signed development certificate",
		"control:        " + filepath.Join(site.dir, "data", "admin.sock") + "\n",
		"client input:   65536 bytes/s per connection, 524288 at once\n",
		"failed logins:  10 per address, refilled over 10m0s\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check-config output does not contain %q:\n%s", want, r.stdout)
		}
	}

	// Flags override the file.
	r = site.herald(t, "", "check-config", "-domain", "a.example, b.example", "-domain", "c.example",
		"-c2s-listen", "", "-http-listen", "127.0.0.1:9999", "-data-dir", t.TempDir(), "-log-level", "debug")
	r.want(t, 0, "configuration OK ("+site.config+" and command-line flags)", "")
	for _, want := range []string{
		"domains:        a.example, b.example, c.example\n",
		"c2s STARTTLS:   disabled\n",
		"http:           127.0.0.1:9999\n",
		"log:            debug, text\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check-config with flags does not contain %q:\n%s", want, r.stdout)
		}
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "bad.toml")
	content := `domains = ["good.example", "not a domain"]
[log]
level = "loud"
[c2s]
listen = "nowhere"
max_stanza_bytes = 512
sasl_retries = 9
[storage]
driver = "postgres"
`
	if err := os.WriteFile(config, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := herald(t, "", "check-config", "-config", config, "-key", "only-key.pem")
	r.want(t, 1, "", "herald: check-config: invalid configuration ("+config+" and command-line flags):\n")
	if r.stdout != "" {
		t.Errorf("check-config printed %q on stdout for a bad file", r.stdout)
	}
	for _, want := range []string{
		"\n  domains: \"not a domain\" is not a valid domain",
		"\n  log.level = \"loud\": must be one of",
		"\n  c2s.listen = \"nowhere\": must be host:port",
		"\n  c2s.max_stanza_bytes = 512: must be between 10000 (RFC 6120 §13.12)",
		"\n  c2s.sasl_retries = 9: must be between 2 and 5",
		"\n  storage.driver = \"postgres\": PostgreSQL is not yet supported",
		"\n  tls.key_file = \"" + filepath.Join(mustGetwd(t), "only-key.pem") + "\" but tls.cert_file is empty",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check-config output does not contain %q:\n%s", want, r.stderr)
		}
	}
}

func TestCheckConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "typo.toml")
	if err := os.WriteFile(config, []byte("domain = [\"x\"]\n[c2s]\nlistn = \":1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := herald(t, "", "check-config", "-config", config)
	r.want(t, 1, "", `unknown configuration key "domain"`)
	if !strings.Contains(r.stderr, `unknown configuration key "c2s.listn"`) {
		t.Errorf("second unknown key not reported: %q", r.stderr)
	}
	herald(t, "", "check-config", "-config", filepath.Join(dir, "missing.toml")).
		want(t, 1, "", "herald: check-config: reading configuration:")
}

func TestCheckConfigCertificate(t *testing.T) {
	site := newSite(t)
	// A certificate pair that does not load.
	cert := filepath.Join(site.dir, "cert.pem")
	key := filepath.Join(site.dir, "key.pem")
	for _, p := range []string{cert, key} {
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	site.herald(t, "", "check-config", "-cert", cert, "-key", key).
		want(t, 1, "", "tls.cert_file")
}

// TestDefaultConfigFile checks that herald.toml in the working directory is
// read when -config is not given, and that without it the built-in defaults
// apply.
func TestDefaultConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	herald(t, "", "check-config").want(t, 0, "configuration OK (built-in defaults)", "")
	if err := os.WriteFile("herald.toml", []byte("domains = [\"chat.example\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	herald(t, "", "check-config").want(t, 0, "domains:        chat.example\n", "")
	herald(t, "pw\n", "adduser", "zoë@chat.example").want(t, 0, "created account zoë@chat.example", "")
	if _, err := os.Stat(filepath.Join(dir, "herald-data", "herald.db")); err != nil {
		t.Errorf("database not in the default data directory: %v", err)
	}
}

func TestVersion(t *testing.T) {
	r := herald(t, "", "version")
	r.want(t, 0, "herald ", "")
	if !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version output %q does not name the Go version %s", r.stdout, runtime.Version())
	}
}

func TestServeRunsByDefault(t *testing.T) {
	// With no command, herald runs serve: its flags are accepted (-h shows
	// them) and a configuration error is reported under "serve".
	herald(t, "", "-h").want(t, 0, "Commands:", "")
	herald(t, "", "-c2s-listen", "bad").want(t, 1, "", "herald: serve: invalid configuration")
}

func TestCancelledContext(t *testing.T) {
	site := newSite(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"users", "-config", site.config}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("users with a cancelled context: exit %d, stderr %q; want exit 1 naming the cancellation", code, stderr.String())
	}
}

func TestNormalizeBareJID(t *testing.T) {
	tests := []struct {
		in, want, domain string
		wantErr          bool
	}{
		{"alice@localhost", "alice@localhost", "localhost", false},
		{"  Alice@Example.ORG  ", "alice@example.org", "example.org", false},
		{"alice@example.org.", "alice@example.org", "example.org", false},
		{"ZOË@bücher.example", "zoë@bücher.example", "bücher.example", false},
		{"zoe@xn--bcher-kva.example", "zoe@bücher.example", "bücher.example", false},
		{"ＡＬＩＣＥ@localhost", "alice@localhost", "localhost", false},
		{"alice@localhost/phone", "", "", true},
		{"alice", "", "", true},
		{"@localhost", "", "", true},
		{"alice@", "", "", true},
		{"a@b@localhost", "", "", true},
		{"al ice@localhost", "", "", true},
		{"a:b@localhost", "", "", true},
		{"a<b@localhost", "", "", true},
		{"a\"b@localhost", "", "", true},
		{"a&b@localhost", "", "", true},
		{"alice@127.0.0.1", "", "", true},
		{"alice@[::1]", "", "", true},
		{"alice@bad_domain.example", "", "", true},
		{strings.Repeat("a", 1024) + "@localhost", "", "", true},
	}
	for _, tt := range tests {
		got, domain, err := normalizeBareJID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("normalizeBareJID(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want || domain != tt.domain {
			t.Errorf("normalizeBareJID(%q) = %q, %q; want %q, %q", tt.in, got, domain, tt.want, tt.domain)
		}
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"pw\n", "pw", false},
		{"pw\r\n", "pw", false},
		{"pw", "pw", false},
		{" spaced pw \n", " spaced pw ", false},
		{"first\nsecond\n", "first", false},
		{"\n", "", false},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := readLine(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("readLine(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// mustGetwd returns the working directory.
func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestSessionsWithoutServer: "herald sessions" needs a running server and
// says so; the account commands work without one and stay quiet about it.
func TestSessionsWithoutServer(t *testing.T) {
	site := newSite(t)
	site.herald(t, "", "sessions").want(t, 1, "", "no server is running on the data directory")
	site.herald(t, "", "adduser", "-password", "pw", "romeo@localhost").want(t, 0, "created account romeo@localhost", "")
	r := site.herald(t, "", "disable", "romeo@localhost")
	r.want(t, 0, "disabled account romeo@localhost", "")
	if strings.Contains(r.stdout+r.stderr, "session") {
		t.Errorf("disable without a running server mentions sessions: %q %q", r.stdout, r.stderr)
	}
}
