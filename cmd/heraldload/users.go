package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
)

// runUsers creates the load accounts <prefix>0@domain … directly in the
// server's SQLite database, as "herald adduser" would, but without a
// process per account. Existing accounts are left alone, so it can be run
// again.
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users", stderr)
	db := fs.String("db", "", "the server's SQLite database `file` (e.g. herald-data/herald.db)")
	n := fs.Int("n", 100, "number of accounts to create")
	domain := fs.String("domain", "localhost", "the accounts' `domain`")
	prefix := fs.String("prefix", "load", "account localpart `prefix`")
	password := fs.String("password", "load", "the accounts' `password`")
	workers := fs.Int("workers", 2, "number of goroutines deriving SCRAM keys")
	iterations := fs.Int("iterations", storage.DefaultIterations, "PBKDF2 iteration `count` (at least 4096)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *db == "":
		return usagef("-db is required")
	case *n < 1:
		return usagef("-n must be at least 1")
	case *workers < 1:
		return usagef("-workers must be at least 1")
	}
	start := time.Now()
	created, existed, err := createUsers(ctx, *db, *domain, *prefix, *password, *n, *workers, *iterations)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "users: %d created, %d already existed (%s%d@%s … %s%d@%s) in %s\n",
		created, existed, *prefix, 0, *domain, *prefix, *n-1, *domain, time.Since(start).Round(time.Millisecond))
	return nil
}

// createUsers creates accounts prefix0@domain … prefix(n-1)@domain with
// password. Key derivation runs on workers goroutines; the inserts share
// one storage handle.
func createUsers(ctx context.Context, path, domain, prefix, password string, n, workers, iterations int) (created, existed int, err error) {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return 0, 0, fmt.Errorf("open storage: %w", err)
	}
	defer db.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				bare := fmt.Sprintf("%s%d@%s", prefix, i, domain)
				creds, err := storage.NewCredentials(password, iterations)
				if err != nil {
					cancel(fmt.Errorf("credentials for %s: %w", bare, err))
					return
				}
				err = db.CreateAccount(ctx, bare, creds)
				mu.Lock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, storage.ErrExists):
					existed++
				default:
					cancel(fmt.Errorf("create %s: %w", bare, err))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return created, existed, err
	}
	return created, existed, nil
}
