//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyHUP relays SIGHUP (reload) to c.
func notifyHUP(c chan<- os.Signal) bool {
	signal.Notify(c, syscall.SIGHUP)
	return true
}
