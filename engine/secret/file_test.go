package secret

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	full := strings.Repeat("k", MaxFileSize)
	cases := []struct {
		name    string
		file    string
		stdin   io.Reader
		want    string
		wantErr string
	}{
		{name: "trailing newline trimmed", file: write("a", "  s3cret\n"), want: "s3cret"},
		{name: "exactly the bound", file: write("full", full), want: full},
		{name: "one byte over", file: write("over", full+"k"), wantErr: "holds more than 64 KiB"},
		{name: "stdin", file: "-", stdin: strings.NewReader("from-stdin\n"), want: "from-stdin"},
		{name: "stdin over", file: "-", stdin: strings.NewReader(full + "k"), wantErr: "standard input holds more than 64 KiB"},
		{name: "no stdin", file: "-", wantErr: "no standard input"},
		{name: "directory", file: dir, wantErr: "is a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFile(tc.file, tc.stdin)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

// A missing file keeps os.ErrNotExist, which LoadBox tells apart from other
// failures (no key file at the default path is not an error).
func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"), nil)
	assert.True(t, errors.Is(err, os.ErrNotExist), "got %v", err)
}

// A path to an endless stream fails at the bound instead of reading forever.
func TestReadFileEndless(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	_, err := ReadFile("/dev/zero", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/zero holds more than 64 KiB")
}
