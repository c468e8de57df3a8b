package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-im/herald/server"
)

// shutdownGrace is how long streams get to close on SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// runServe runs the server until ctx is cancelled (SIGINT or SIGTERM), then
// shuts it down gracefully. Logs go to stderr; the start-up hint to stdout.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	cfg, err := loadConfigWithFlags(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", fs.Args())
	}
	log := slog.New(cfg.Log.NewHandler(stderr))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return srv.Run(ctx, shutdownGrace, func() { printHint(stdout, cfg, srv) })
}

// selfCommand is how the user can run this program again: "go run
// ./cmd/herald" when it was started with go run (the binary then lives in
// a temporary go-build directory), "herald" otherwise.
func selfCommand() string {
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/herald"
	}
	return "herald"
}

// printHint tells a newcomer how to add a user and connect.
func printHint(w io.Writer, cfg server.Config, srv *server.Server) {
	domain := cfg.Domains[0]
	fmt.Fprintf(w, "Herald %s is serving %v (data in %s).\n", server.Version(), cfg.Domains, cfg.DataDir)
	if a := srv.C2SAddr(); a != nil {
		fmt.Fprintf(w, "  clients (STARTTLS):  %s\n", a)
	}
	if a := srv.DirectTLSAddr(); a != nil {
		fmt.Fprintf(w, "  clients (direct TLS): %s\n", a)
	}
	if a := srv.HTTPAddr(); a != nil {
		fmt.Fprintf(w, "  metrics and health:   http://%s/metrics  http://%s/healthz\n", a, a)
	}
	fmt.Fprintf(w, "Add a user:   %s adduser -data-dir %s alice@%s\n", selfCommand(), cfg.DataDir, domain)
	if a, ok := srv.C2SAddr().(*net.TCPAddr); ok {
		fmt.Fprintf(w, "Then connect any XMPP client as alice@%s to port %d of this machine.\n", domain, a.Port)
	}
	if p := srv.DevCertPath(); p != "" {
		fmt.Fprintf(w, "The certificate is self-signed for development (%s): accept or pin it in the client.\n", p)
	}
}
