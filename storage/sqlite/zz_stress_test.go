package sqlite

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	sqlite3 "modernc.org/sqlite"
)

func TestZZStress(t *testing.T) {
	fails := map[string]int{}
	for iter := 0; iter < 200; iter++ {
		path := filepath.Join(t.TempDir(), "herald.db")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range 8 {
			wg.Go(func() {
				db, err := Open(t.Context(), path)
				errs[i] = err
				if err == nil {
					db.Close()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				var se *sqlite3.Error
				code := -1
				if errors.As(err, &se) {
					code = se.Code()
				}
				fails[err.Error()[len(path)+17:]+" code="+string(rune('0'+code%10))]++
				_ = code
				t.Logf("code %d: %v", code, err)
			}
		}
	}
	t.Log(fails)
}
