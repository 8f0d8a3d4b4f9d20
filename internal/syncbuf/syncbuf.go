// Package syncbuf is a bytes.Buffer that several goroutines may write at once: the
// logs of a test's daemon, the output a child process writes while the test reads.
//
// It has no ReadFrom on purpose. exec.Cmd copies a child's output into a writer with
// io.Copy, which uses a bytes.Buffer's ReadFrom: that holds the buffer's storage while
// it waits on the child, and a write made meanwhile is lost when the copy returns.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for concurrent use. The zero value is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of what was written so far.
func (s *Buffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
