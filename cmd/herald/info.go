package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/herald-im/herald/internal/control"
	"github.com/herald-im/herald/internal/devcert"
	"github.com/herald-im/herald/server"
)

// runCheckConfig implements "herald check-config".
func runCheckConfig(_ context.Context, e *env, args []string) error {
	cfg, source, err := configCommand(e, "check-config", args)
	if err != nil {
		return err
	}
	// Validate only checks that the certificate files exist; here the pair
	// must also load, as it will when the server starts.
	var leafNames func(string) error
	if !cfg.TLS.UseDevCert() {
		pair, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("invalid configuration (%s):\ntls.cert_file %q and tls.key_file %q: %w", source, cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
		}
		leafNames = pair.Leaf.VerifyHostname
	}
	fmt.Fprintf(e.stdout, "configuration OK (%s)\n", source)
	printEffective(e.stdout, cfg)
	if leafNames != nil {
		for _, d := range cfg.Domains {
			if err := leafNames(d); err != nil {
				fmt.Fprintf(e.stdout, "warning: the certificate does not cover domain %s: %v\n", d, err)
			}
		}
	}
	return nil
}

// printEffective writes the settings an operator most wants to confirm.
func printEffective(w io.Writer, cfg server.Config) {
	listener := func(addr string) string {
		if addr == "" {
			return "disabled"
		}
		return addr
	}
	tlsDesc := fmt.Sprintf("certificate %s, key %s", cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if cfg.TLS.UseDevCert() {
		// The directory server.New keeps the development certificate in.
		tlsDesc = "self-signed development certificate " + filepath.Join(cfg.DataDir, "devcert", devcert.CertFile)
	}
	rows := []struct{ k, v string }{
		{"domains", strings.Join(cfg.Domains, ", ")},
		{"c2s STARTTLS", listener(cfg.C2S.Listen)},
		{"c2s direct TLS", listener(cfg.C2S.DirectTLSListen)},
		{"s2s", listener(cfg.S2S.Listen)},
		{"http", listener(cfg.HTTP.Listen)},
		{"tls", tlsDesc},
		{"data dir", cfg.DataDir},
		{"storage", cfg.Storage.Driver + " " + cfg.Storage.Path},
		{"log", cfg.Log.Level + ", " + cfg.Log.Format},
		{"control", filepath.Join(cfg.DataDir, control.SocketName)},
		{"client input", inboundDesc(cfg.C2S)},
		{"failed logins", authFailuresDesc(cfg.C2S)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-15s %s\n", r.k+":", r.v)
	}
}

// inboundDesc describes the per-connection input rate.
func inboundDesc(c server.C2SConfig) string {
	if c.InboundRate == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d bytes/s per connection, %d at once", c.InboundRate, c.InboundBurst)
}

// authFailuresDesc describes the per-address limit on failed logins.
func authFailuresDesc(c server.C2SConfig) string {
	if c.AuthFailures == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d per address, refilled over %s", c.AuthFailures, c.AuthFailureWindow)
}

// runVersion implements "herald version".
func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", e.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	version, commit := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if rev != "" {
			commit = rev + modified
		}
	}
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(e.stdout, "herald %s\n", version)
	if commit != "" {
		fmt.Fprintf(e.stdout, "commit %s\n", commit)
	}
	fmt.Fprintf(e.stdout, "built with %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
