//go:build !unix

package cli

import "os"

// notifyHUP: there is no SIGHUP here; reload with POST /v1/reload.
func notifyHUP(chan<- os.Signal) bool { return false }
