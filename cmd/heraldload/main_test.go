package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunExitStatus checks the exit status and message of command lines a
// user could mistype; none of them may start generating load.
func TestRunExitStatus(t *testing.T) {
	pid := fmt.Sprint(os.Getpid())
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"no mode", nil, 2, "Modes:"},
		{"help", []string{"help"}, 0, "Modes:"},
		{"unknown mode", []string{"flood"}, 2, `unknown mode "flood"`},
		{"mode help", []string{"idle", "-h"}, 0, "-sessions"},
		{"idle without pid", []string{"idle", "-ca", ca}, 2, "-pid is required"},
		{"login without ca", []string{"login", "-pid", pid}, 2, "-ca is required"},
		{"remote address refused", []string{"route", "-pid", pid, "-ca", ca, "-addr", "192.0.2.1:5222"}, 2, "not a loopback address"},
		{"remote metrics refused", []string{"idle", "-pid", pid, "-ca", ca, "-metrics", "http://192.0.2.1:5280/metrics"}, 2, "not a loopback address"},
		{"stray argument", []string{"login", "-pid", pid, "-ca", ca, "extra"}, 2, "unexpected arguments"},
		{"bad CA file", []string{"login", "-pid", pid, "-ca", ca, "-n", "1"}, 1, "holds no PEM certificate"},
		{"users without db", []string{"users", "-n", "3"}, 2, "-db is required"},
		{"users with zero", []string{"users", "-db", "x.db", "-n", "0"}, 2, "-n must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tc.code {
				t.Errorf("exit status %d, want %d; output:\n%s", code, tc.code, all)
			}
			if !strings.Contains(all, tc.want) {
				t.Errorf("output does not contain %q:\n%s", tc.want, all)
			}
		})
	}
}
