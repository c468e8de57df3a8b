//go:build race

package stream

// raceEnabled is true under the race detector, whose sync.Pool drops items
// at random: allocation counts are not stable there.
const raceEnabled = true
