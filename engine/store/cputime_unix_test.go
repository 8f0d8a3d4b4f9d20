//go:build unix

package store

import (
	"syscall"
	"time"
)

// processCPU is the process's user and system time so far: a benchmark's cost on a
// machine busy with other work, which the wall clock overstates.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
