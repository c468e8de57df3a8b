package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/herald-im/herald/server"
)

// defaultConfigFile is read from the working directory when -config is not
// given and the file exists.
const defaultConfigFile = "herald.toml"

// usageError marks an error in the command line (exit status 2).
type usageError struct {
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// newFlagSet returns the flag set for the command called name: errors and
// -h output go to stderr, and -h prints the command's usage line, its
// description and its flags. Every command, serve included, should build
// its flags with it.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		cmd, _ := lookup(name)
		fmt.Fprintf(w, "Usage: %s\n\n", synopsis(name, cmd))
		switch {
		case cmd.details != "":
			fmt.Fprintf(w, "%s\n\n", cmd.details)
		case cmd.summary != "":
			fmt.Fprintf(w, "%s%s.\n\n", strings.ToUpper(cmd.summary[:1]), cmd.summary[1:])
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "Flags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args with fs. On -h it prints fs's usage to fs's output
// and returns flag.ErrHelp (exit status 0); other parse errors are returned,
// unprinted, as usage errors (exit status 2), which run reports.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	// Silence the flag package: run prints errors in herald's format.
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if fs.Usage != nil {
			fs.Usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return flag.ErrHelp
	default:
		return &usageError{err: err}
	}
}

// loadConfigWithFlags registers the common configuration flags on fs (see
// registerConfigFlags), parses args, and returns the configuration: the
// defaults, overlaid with the configuration file, overlaid with the flags
// that were given, validated. Positional arguments are left in fs.Args().
//
// A command-line error is returned as a usage error (exit status 2), -h as
// flag.ErrHelp (exit status 0, the usage having been printed to fs's
// output), and a configuration error as a plain error (exit status 1); run
// prints them. Build fs with newFlagSet so that -h describes the command.
func loadConfigWithFlags(fs *flag.FlagSet, args []string) (server.Config, error) {
	cf := registerConfigFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return server.Config{}, err
	}
	cfg, _, err := cf.load()
	return cfg, err
}

// configFlags holds the values of the common configuration flags.
type configFlags struct {
	config       optString
	domains      listFlag
	dataDir      optString
	c2sListen    optString
	c2sTLSListen optString
	s2sListen    optString
	httpListen   optString
	cert         optString
	key          optString
	logLevel     optString
}

// registerConfigFlags defines the common configuration flags on fs.
func registerConfigFlags(fs *flag.FlagSet) *configFlags {
	cf := &configFlags{}
	fs.Var(&cf.config, "config", "read the configuration from `file` (default: "+defaultConfigFile+" in the working directory if it exists, else built-in defaults)")
	fs.Var(&cf.domains, "domain", "serve `domain` instead of the configured domains (repeatable, or comma-separated)")
	fs.Var(&cf.dataDir, "data-dir", "keep the database and development certificate in `dir`")
	fs.Var(&cf.c2sListen, "c2s-listen", "client STARTTLS listener `host:port` (\"\" disables)")
	fs.Var(&cf.c2sTLSListen, "c2s-tls-listen", "client direct TLS listener `host:port` (XEP-0368; \"\" disables)")
	fs.Var(&cf.s2sListen, "s2s-listen", "server-to-server listener `host:port` (\"\" disables)")
	fs.Var(&cf.httpListen, "http-listen", "metrics and health listener `host:port` (\"\" disables)")
	fs.Var(&cf.cert, "cert", "TLS certificate chain PEM `file` (with -key)")
	fs.Var(&cf.key, "key", "TLS private key PEM `file` (with -cert)")
	fs.Var(&cf.logLevel, "log-level", "log `level`: debug, info, warn or error")
	return cf
}

// load builds the configuration from the defaults, the configuration file
// and the flags, and validates it. It also returns a description of where
// the configuration came from, for messages.
func (cf *configFlags) load() (server.Config, string, error) {
	cfg := server.DefaultConfig()
	path := cf.config.val
	if !cf.config.set {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			path = defaultConfigFile
		} else if !errors.Is(err, os.ErrNotExist) {
			return server.Config{}, "", fmt.Errorf("looking for %s: %w", defaultConfigFile, err)
		}
	} else if path == "" {
		return server.Config{}, "", &usageError{err: errors.New("-config: empty file name")}
	}
	source := "built-in defaults"
	if path != "" {
		if err := cfg.ApplyFile(path); err != nil {
			return server.Config{}, "", err
		}
		source = path
	}

	flagsSet := false
	for _, o := range []struct {
		flag *optString
		dst  *string
	}{
		{&cf.dataDir, &cfg.DataDir},
		{&cf.c2sListen, &cfg.C2S.Listen},
		{&cf.c2sTLSListen, &cfg.C2S.DirectTLSListen},
		{&cf.s2sListen, &cfg.S2S.Listen},
		{&cf.httpListen, &cfg.HTTP.Listen},
		{&cf.cert, &cfg.TLS.CertFile},
		{&cf.key, &cfg.TLS.KeyFile},
		{&cf.logLevel, &cfg.Log.Level},
	} {
		if o.flag.set {
			*o.dst = o.flag.val
			flagsSet = true
		}
	}
	if cf.domains.set {
		cfg.Domains = append([]string(nil), cf.domains.vals...)
		flagsSet = true
	}
	if flagsSet {
		source += " and command-line flags"
	}
	if err := cfg.Validate(); err != nil {
		return server.Config{}, source, fmt.Errorf("invalid configuration (%s):\n%w", source, err)
	}
	return cfg, source, nil
}

// optString is a string flag that remembers whether it was given, so that
// an explicitly empty value ("disable this listener") can be told from an
// absent flag.
type optString struct {
	val string
	set bool
}

// String implements flag.Value.
func (o *optString) String() string { return o.val }

// Set implements flag.Value.
func (o *optString) Set(s string) error {
	o.val, o.set = s, true
	return nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag struct {
	vals []string
	set  bool
}

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(s string) error {
	l.set = true
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

// synopsis returns the usage line of cmd, which is called name.
func synopsis(name string, cmd command) string {
	return strings.TrimSpace("herald " + name + " " + cmd.synopsis)
}
