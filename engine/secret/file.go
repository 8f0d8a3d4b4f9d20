package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds what ReadFile reads. A key, token or signing secret is a few
// hundred bytes at most; the bound keeps a mistyped path (/dev/zero, a log file, a
// FIFO no one writes to the end of) from filling memory.
const MaxFileSize = 64 << 10

// ReadFile reads a secret from the file name, or from stdin when name is "-",
// without the surrounding whitespace an editor or echo adds. A file larger than
// MaxFileSize is an error, never a truncated secret.
func ReadFile(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("no standard input to read the secret from")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", name)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		where := name
		if name == "-" {
			where = "standard input"
		}
		return nil, fmt.Errorf("%s holds more than %d KiB; a secret is far shorter (is it the right file?)", where, MaxFileSize>>10)
	}
	return bytes.TrimSpace(data), nil
}
