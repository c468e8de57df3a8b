package servertest

import "github.com/herald-im/herald/server"

// DataDir is an Option that runs the server on dir instead of a fresh
// temporary directory. Given the data directory of a server the test has
// shut down (Server.Shutdown; the second shutdown at the end of the test
// is harmless), the new server finds the accounts, rosters, subscription
// requests and offline messages the first one stored, and the same
// development certificate.
func DataDir(dir string) Option {
	return func(c *server.Config) { c.DataDir = dir }
}
