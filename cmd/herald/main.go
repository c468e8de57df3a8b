// Command herald runs the Herald XMPP server and administers it.
//
// Usage:
//
//	herald [serve] [flags]                 run the server (the default)
//	herald adduser [flags] user@domain     create an account
//	herald deluser [flags] user@domain     delete an account
//	herald passwd [flags] user@domain      change an account's password
//	herald users [flags] [domain]          list accounts
//	herald disable [flags] user@domain     stop an account from logging in
//	herald enable [flags] user@domain      allow a disabled account again
//	herald check-config [flags]            validate the configuration
//	herald version                         print version information
//	herald help [command]                  print help
//
// Every command that needs the configuration reads herald.toml from the
// working directory if it exists (or the file named by -config) and accepts
// flags that override it; run "herald help <command>" for the list.
//
// Exit status: 0 on success, 1 when the command fails, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling, so that a second
	// one kills a server that is slow to shut down.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes returned by run.
const (
	exitOK      = 0 // success (also for explicitly requested help)
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // the command line was wrong
)

// env carries a command's standard streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one herald subcommand.
type command struct {
	name     string // as typed on the command line
	synopsis string // what follows "herald <name>" in the usage line
	summary  string // one line for the command list
	details  string // paragraphs for "herald help <name>"; may be empty
	run      func(ctx context.Context, e *env, args []string) error
}

// commands returns the subcommands, in the order "herald help" lists them.
func commands() []command {
	return []command{
		{
			name:     "serve",
			synopsis: "[flags]",
			summary:  "run the server (the default command)",
			details: "Runs the XMPP server until interrupted (SIGINT or SIGTERM).\n" +
				"\"herald\" with no command, or with only flags, runs this command.",
			run: func(ctx context.Context, e *env, args []string) error {
				return runServe(ctx, args, e.stdout, e.stderr)
			},
		},
		{
			name:     "adduser",
			synopsis: "[-password P | -password-stdin] [flags] user@domain",
			summary:  "create an account",
			details: "Creates an account on one of the configured domains. The password is\n" +
				"read from the terminal (asked twice, not echoed) or, when standard\n" +
				"input is not a terminal, as one line from it. -password puts the\n" +
				"password on the command line, where other local users can see it.",
			run: runAddUser,
		},
		{
			name:     "deluser",
			synopsis: "[flags] user@domain",
			summary:  "delete an account and everything stored for it",
			details: "A server running on the same data directory ends the account's\n" +
				"sessions with <not-authorized/>.",
			run: runDelUser,
		},
		{
			name:     "passwd",
			synopsis: "[-password P | -password-stdin] [flags] user@domain",
			summary:  "change an account's password",
			details: "The password is read as for adduser. Sessions already logged in stay\n" +
				"logged in.",
			run: runPasswd,
		},
		{
			name:     "users",
			synopsis: "[flags] [domain]",
			summary:  "list accounts, one JID per line",
			details:  "Lists the accounts of one domain, or of all domains when none is given.",
			run:      runUsers,
		},
		{
			name:     "disable",
			synopsis: "[flags] user@domain",
			summary:  "stop an account from logging in",
			details: "The account and its data are kept; it can no longer authenticate.\n" +
				"A server running on the same data directory ends the account's\n" +
				"sessions with <not-authorized/>. \"herald enable\" reverses it.",
			run: func(ctx context.Context, e *env, args []string) error {
				return runSetDisabled(ctx, e, "disable", args, true)
			},
		},
		{
			name:     "enable",
			synopsis: "[flags] user@domain",
			summary:  "allow a disabled account to log in again",
			run: func(ctx context.Context, e *env, args []string) error {
				return runSetDisabled(ctx, e, "enable", args, false)
			},
		},
		{
			name:     "sessions",
			synopsis: "[flags]",
			summary:  "list the client sessions of the running server",
			details: "Asks the server running on the configured data directory (through\n" +
				"the control socket admin.sock there, which only the server's user can\n" +
				"open) for its bound client sessions: full JID, client address,\n" +
				"listener, when the resource was bound, and whether the session is\n" +
				"parked (idle, without a reading goroutine).",
			run: runSessions,
		},
		{
			name:     "check-config",
			synopsis: "[flags]",
			summary:  "validate the configuration and print the effective settings",
			details: "Loads the configuration as \"herald serve\" would, reports every\n" +
				"problem, and prints \"configuration OK\" and the effective domains,\n" +
				"listeners and paths when there is none.",
			run: runCheckConfig,
		},
		{
			name:     "version",
			synopsis: "",
			summary:  "print version information",
			run:      runVersion,
		},
	}
}

// lookup returns the command called name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run dispatches args (the command line without the program name) to a
// command and returns the process exit code. Errors are printed to stderr as
// "herald: <command>: <error>".
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	name, rest := "serve", args
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			printUsage(stdout)
			return exitOK
		case !strings.HasPrefix(a, "-"):
			name, rest = a, args[1:]
		}
	}
	if name == "help" {
		return runHelp(ctx, e, rest)
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n", name)
		printUsage(stderr)
		return exitUsage
	}
	return report(stderr, cmd, cmd.run(ctx, e, rest))
}

// runHelp implements "herald help [command]": the overview, or a command's
// usage and flags (obtained by running it with -h, so the flag list is the
// one the command really parses), on stdout.
func runHelp(ctx context.Context, e *env, args []string) int {
	switch len(args) {
	case 0:
		printUsage(e.stdout)
		return exitOK
	case 1:
		if args[0] == "help" {
			printUsage(e.stdout)
			return exitOK
		}
		cmd, ok := lookup(args[0])
		if !ok {
			fmt.Fprintf(e.stderr, "herald: help: unknown command %q\n\n", args[0])
			printUsage(e.stderr)
			return exitUsage
		}
		helpEnv := &env{stdin: e.stdin, stdout: e.stdout, stderr: e.stdout}
		err := cmd.run(ctx, helpEnv, []string{"-h"})
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return report(e.stderr, cmd, err)
	default:
		fmt.Fprintln(e.stderr, "herald: help: too many arguments; usage: herald help [command]")
		return exitUsage
	}
}

// printUsage writes the overview of all commands to w.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "Herald is an XMPP server.\n\nUsage:\n\n  herald <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "help", "print this overview, or a command's flags")
	fmt.Fprint(w, "\nWith no command, herald runs \"serve\".\n"+
		"Run \"herald help <command>\" or \"herald <command> -h\" for a command's flags.\n")
}

// report prints err (if any) for cmd and returns the exit code.
func report(stderr io.Writer, cmd command, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "herald: %s: %s\n", cmd.name, indent(ue.err.Error()))
		fmt.Fprintf(stderr, "usage: %s\nRun \"herald help %s\" for details.\n", synopsis(cmd.name, cmd), cmd.name)
		return exitUsage
	}
	fmt.Fprintf(stderr, "herald: %s: %s\n", cmd.name, indent(err.Error()))
	return exitFailure
}

// indent indents every line of s after the first by two spaces, so that a
// multi-line error (several configuration problems) reads as one block.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n  ")
}
