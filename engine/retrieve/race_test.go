//go:build race

package retrieve_test

// raceEnabled: the race detector slows decoding tenfold, so the streaming memory test
// streams less.
const raceEnabled = true
