package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"golang.org/x/text/secure/precis"

	"github.com/herald-im/herald/internal/control"
	"github.com/herald-im/herald/server"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
)

// parseCommand builds the flag set of the command called name with the
// common configuration flags plus those addFlags registers (if not nil),
// parses args, and checks that between minArgs and maxArgs positional
// arguments remain. The configuration is not loaded yet: call load on the
// returned configFlags.
func parseCommand(e *env, name string, args []string, minArgs, maxArgs int, addFlags func(*flag.FlagSet)) (*configFlags, []string, error) {
	fs := newFlagSet(name, e.stderr)
	if addFlags != nil {
		addFlags(fs)
	}
	cf := registerConfigFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	pos := fs.Args()
	switch {
	case len(pos) < minArgs:
		return nil, nil, usagef("missing argument")
	case len(pos) > maxArgs:
		return nil, nil, usagef("unexpected argument %q", pos[maxArgs])
	}
	return cf, pos, nil
}

// configCommand parses a command that takes no arguments and loads the
// configuration; source says where it came from.
func configCommand(e *env, name string, args []string) (cfg server.Config, source string, err error) {
	cf, _, err := parseCommand(e, name, args, 0, 0, nil)
	if err != nil {
		return server.Config{}, "", err
	}
	return cf.load()
}

// accountCommand parses a command taking one user@domain argument, loads
// the configuration, normalises the JID and opens the account store. The
// caller must close the returned DB.
func accountCommand(ctx context.Context, e *env, name string, args []string, addFlags func(*flag.FlagSet)) (cfg server.Config, jid string, db *sqlite.DB, err error) {
	cf, pos, err := parseCommand(e, name, args, 1, 1, addFlags)
	if err != nil {
		return server.Config{}, "", nil, err
	}
	jid, _, err = normalizeBareJID(pos[0])
	if err != nil {
		return server.Config{}, "", nil, usagef("%w", err)
	}
	if cfg, _, err = cf.load(); err != nil {
		return server.Config{}, "", nil, err
	}
	if db, err = openAccounts(ctx, cfg); err != nil {
		return server.Config{}, "", nil, err
	}
	return cfg, jid, db, nil
}

// openAccounts opens the configured account store, creating the database
// directory (mode 0700) if needed.
func openAccounts(ctx context.Context, cfg server.Config) (*sqlite.DB, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Storage.Path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the database directory: %w", err)
	}
	db, err := sqlite.Open(ctx, cfg.Storage.Path)
	if err != nil {
		return nil, fmt.Errorf("opening the account database: %w", err)
	}
	return db, nil
}

// closeDB closes db, keeping the first error in *errp.
func closeDB(db *sqlite.DB, errp *error) {
	if err := db.Close(); err != nil && *errp == nil {
		*errp = fmt.Errorf("closing the account database: %w", err)
	}
}

// runAddUser implements "herald adduser".
func runAddUser(ctx context.Context, e *env, args []string) (err error) {
	var pw passwordFlags
	cfg, jid, db, err := accountCommand(ctx, e, "adduser", args, pw.register)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	if _, domain, _ := strings.Cut(jid, "@"); !slices.Contains(cfg.Domains, domain) {
		return fmt.Errorf("%s: domain %q is not served by this server (configured domains: %s)", jid, domain, strings.Join(cfg.Domains, ", "))
	}
	// Fail before asking for a password if the account exists.
	exists, err := db.AccountExists(ctx, jid)
	if err != nil {
		return fmt.Errorf("checking for account %s: %w", jid, err)
	}
	if exists {
		return fmt.Errorf("account %s already exists", jid)
	}
	creds, err := pw.credentials(e, jid)
	if err != nil {
		return err
	}
	if err := db.CreateAccount(ctx, jid, creds); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("account %s already exists", jid)
		}
		return fmt.Errorf("creating account %s: %w", jid, err)
	}
	fmt.Fprintf(e.stdout, "created account %s\n", jid)
	return nil
}

// runPasswd implements "herald passwd".
func runPasswd(ctx context.Context, e *env, args []string) (err error) {
	var pw passwordFlags
	_, jid, db, err := accountCommand(ctx, e, "passwd", args, pw.register)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	exists, err := db.AccountExists(ctx, jid)
	if err != nil {
		return fmt.Errorf("checking for account %s: %w", jid, err)
	}
	if !exists {
		return fmt.Errorf("no account %s", jid)
	}
	creds, err := pw.credentials(e, jid)
	if err != nil {
		return err
	}
	if err := db.SetCredentials(ctx, jid, creds); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no account %s", jid)
		}
		return fmt.Errorf("changing the password of %s: %w", jid, err)
	}
	fmt.Fprintf(e.stdout, "changed the password of %s\n", jid)
	return nil
}

// runDelUser implements "herald deluser".
func runDelUser(ctx context.Context, e *env, args []string) (err error) {
	cfg, jid, db, err := accountCommand(ctx, e, "deluser", args, nil)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	if err := db.DeleteAccount(ctx, jid); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no account %s", jid)
		}
		return fmt.Errorf("deleting account %s: %w", jid, err)
	}
	fmt.Fprintf(e.stdout, "deleted account %s\n", jid)
	tellServer(ctx, e, cfg, jid, control.ChangeDeleted)
	return nil
}

// tellServer reports an account deleted or disabled in the database to the
// server running on the same data directory, if one is, so that it ends
// the account's sessions and forgets its cached lists. The database change
// stands either way; a server that cannot be told is only mentioned.
func tellServer(ctx context.Context, e *env, cfg server.Config, jid, change string) {
	resp, err := control.Call(ctx, filepath.Join(cfg.DataDir, control.SocketName),
		control.Request{Op: control.OpAccountChanged, JID: jid, Change: change})
	switch {
	case errors.Is(err, control.ErrNotRunning):
	case err != nil:
		fmt.Fprintf(e.stderr, "herald: the running server could not be told (its sessions of %s stay open until they log in again): %v\n", jid, err)
	case resp.Closed > 0:
		fmt.Fprintf(e.stdout, "the running server ended %d session(s) of %s\n", resp.Closed, jid)
	}
}

// runSetDisabled implements "herald disable" and "herald enable".
func runSetDisabled(ctx context.Context, e *env, name string, args []string, disabled bool) (err error) {
	cfg, jid, db, err := accountCommand(ctx, e, name, args, nil)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	if err := db.SetDisabled(ctx, jid, disabled); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no account %s", jid)
		}
		return fmt.Errorf("%s account %s: %w", strings.TrimSuffix(name, "e")+"ing", jid, err)
	}
	fmt.Fprintf(e.stdout, "%sd account %s\n", name, jid)
	if disabled {
		tellServer(ctx, e, cfg, jid, control.ChangeDisabled)
	}
	return nil
}

// runSessions implements "herald sessions": the bound client sessions of
// the server running on the configured data directory.
func runSessions(ctx context.Context, e *env, args []string) error {
	cfg, _, err := configCommand(e, "sessions", args)
	if err != nil {
		return err
	}
	sock := filepath.Join(cfg.DataDir, control.SocketName)
	resp, err := control.Call(ctx, sock, control.Request{Op: control.OpSessions})
	if errors.Is(err, control.ErrNotRunning) {
		return fmt.Errorf("no server is running on the data directory %s (no answer on %s)", cfg.DataDir, sock)
	}
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JID\tREMOTE\tLISTENER\tSINCE\tIDLE")
	for _, s := range resp.Sessions {
		parked := ""
		if s.Parked {
			parked = "parked"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.JID, s.Remote, s.Listener, s.Since.Format(time.RFC3339), parked)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	fmt.Fprintf(e.stdout, "%d session(s)\n", len(resp.Sessions))
	return nil
}

// runUsers implements "herald users [domain]".
func runUsers(ctx context.Context, e *env, args []string) (err error) {
	cf, pos, err := parseCommand(e, "users", args, 0, 1, nil)
	if err != nil {
		return err
	}
	domain := ""
	if len(pos) == 1 {
		if domain, err = server.NormalizeDomain(pos[0]); err != nil {
			return usagef("domain %q: %w", pos[0], err)
		}
	}
	cfg, _, err := cf.load()
	if err != nil {
		return err
	}
	db, err := openAccounts(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB(db, &err)
	jids, err := db.ListAccounts(ctx, domain)
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	w := bufio.NewWriter(e.stdout)
	for _, j := range jids {
		fmt.Fprintln(w, j)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}

// passwordFlags are the -password and -password-stdin flags of adduser and
// passwd.
type passwordFlags struct {
	password  optString
	fromStdin bool
}

// register defines the flags on fs.
func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.password, "password", "the new `password` (visible to other local users in the process list; prefer -password-stdin)")
	fs.BoolVar(&p.fromStdin, "password-stdin", false, "read the password as one line from standard input")
}

// credentials obtains the password for jid as the flags say and derives
// SCRAM credentials from it (storage.NewCredentials prepares it with the
// PRECIS OpaqueString profile, RFC 8265 §4.2).
func (p *passwordFlags) credentials(e *env, jid string) (storage.Credentials, error) {
	password, err := p.read(e, jid)
	if err != nil {
		return storage.Credentials{}, err
	}
	creds, err := storage.NewCredentials(password, storage.DefaultIterations)
	if err != nil {
		return storage.Credentials{}, fmt.Errorf("password for %s: %w", jid, err)
	}
	return creds, nil
}

// read returns the password: from -password, from one line of standard
// input with -password-stdin or when standard input is not a terminal, or
// typed twice on the terminal without echo.
func (p *passwordFlags) read(e *env, jid string) (string, error) {
	var (
		password string
		err      error
	)
	switch {
	case p.password.set && p.fromStdin:
		return "", usagef("-password and -password-stdin cannot be used together")
	case p.password.set:
		password = p.password.val
	case p.fromStdin:
		password, err = readLine(e.stdin)
	default:
		if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			password, err = promptPassword(int(f.Fd()), e.stderr, jid)
		} else {
			password, err = readLine(e.stdin)
		}
	}
	if err != nil {
		return "", err
	}
	if password == "" {
		return "", errors.New("the password is empty")
	}
	return password, nil
}

// readLine reads one line from r without its line terminator ("\n" or
// "\r\n"). A final line without a terminator counts; no input at all is an
// error. Nothing else is trimmed: spaces may be part of a password.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on standard input")
		}
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// promptPassword asks for the password for jid twice on the terminal fd,
// without echo, writing the prompts to w.
func promptPassword(fd int, w io.Writer, jid string) (string, error) {
	fmt.Fprintf(w, "Password for %s: ", jid)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(w, "Repeat the password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the passwords do not match")
	}
	return string(first), nil
}

// normalizeBareJID parses s as a bare JID "localpart@domainpart" naming an
// account and returns it in canonical form, plus its domainpart.
//
// It covers what account administration needs and no more: surrounding
// white space is trimmed; a resourcepart (anything from '/') is rejected; a
// JID without a localpart is rejected; the localpart is enforced with the
// PRECIS UsernameCaseMapped profile (RFC 7622 §3.3, which lowercases it) and
// must not contain the characters RFC 7622 §3.3.1 excludes; the domainpart
// is normalised as in the server configuration (server.NormalizeDomain). JID
// escaping (XEP-0106) is not interpreted, and IP-address domainparts are
// rejected because they cannot be hosted domains.
func normalizeBareJID(s string) (jid, domain string, err error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		return "", "", fmt.Errorf("%q: expected a bare JID user@domain, without a /resource", s)
	}
	local, dom, ok := strings.Cut(s, "@")
	if !ok {
		return "", "", fmt.Errorf("%q: expected a JID of the form user@domain", s)
	}
	if local == "" {
		return "", "", fmt.Errorf("%q: the user part before '@' is empty", s)
	}
	if dom == "" {
		return "", "", fmt.Errorf("%q: the domain after '@' is empty", s)
	}
	if strings.Contains(dom, "@") {
		return "", "", fmt.Errorf("%q: more than one '@'", s)
	}
	local, err = precis.UsernameCaseMapped.String(local)
	if err != nil {
		return "", "", fmt.Errorf("%q: invalid user part (RFC 7622 §3.3): %w", s, err)
	}
	if i := strings.IndexAny(local, "\"&'/:<>@"); i >= 0 {
		return "", "", fmt.Errorf("%q: the user part may not contain %q (RFC 7622 §3.3.1)", s, local[i])
	}
	if len(local) > 1023 {
		return "", "", fmt.Errorf("%q: the user part is longer than 1023 bytes (RFC 7622 §3.3)", s)
	}
	if domain, err = server.NormalizeDomain(dom); err != nil {
		return "", "", fmt.Errorf("%q: %w", s, err)
	}
	return local + "@" + domain, domain, nil
}
