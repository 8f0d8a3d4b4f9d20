package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	box, err := NewBox(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	a, err := box.Seal([]byte("hunter2"), []byte("integration:a"))
	require.NoError(t, err)
	b, err := box.Seal([]byte("hunter2"), []byte("integration:a"))
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "a fresh nonce per seal")
	assert.False(t, bytes.Contains(a, []byte("hunter2")))

	got, err := box.Open(a, []byte("integration:a"))
	require.NoError(t, err)
	assert.Equal(t, "hunter2", string(got))

	_, err = box.Open(a, []byte("integration:b"))
	assert.Error(t, err, "bound to its associated data")
	other, err := NewBox(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	_, err = other.Open(a, []byte("integration:a"))
	assert.ErrorContains(t, err, "key "+other.KeyID())
	assert.NotEqual(t, box.KeyID(), other.KeyID())
	tampered := append([]byte(nil), a...)
	tampered[len(tampered)-1] ^= 1
	_, err = box.Open(tampered, []byte("integration:a"))
	assert.Error(t, err)
	_, err = box.Open([]byte{1, 2}, nil)
	assert.Error(t, err)

	_, err = NewBox([]byte("short"))
	assert.Error(t, err)
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		hex.EncodeToString(key),
		"  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		require.NoError(t, err, s)
		assert.Equal(t, key, got)
	}
	for _, s := range []string{"", "abc", base64.StdEncoding.EncodeToString(key[:16]), strings.Repeat("z", 64)} {
		_, err := ParseKey(s)
		assert.Error(t, err, s)
	}
}

func TestLoadBoxOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))), 0o600))
		return p
	}
	flagFile, envFile := write("flag.key", 1), write("env.key", 2)
	idOf := func(b byte) string {
		box, err := NewBox(bytes.Repeat([]byte{b}, 32))
		require.NoError(t, err)
		return box.KeyID()
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	env[EnvKeyFile] = envFile
	box, err := LoadBox(getenv, flagFile)
	require.NoError(t, err)
	assert.Equal(t, idOf(1), box.KeyID(), "--key-file wins over INTAKE_SECRET_KEY_FILE")

	box, err = LoadBox(getenv, "")
	require.NoError(t, err)
	assert.Equal(t, idOf(2), box.KeyID())

	env[EnvKey] = hex.EncodeToString(bytes.Repeat([]byte{3}, 32))
	box, err = LoadBox(getenv, flagFile)
	require.NoError(t, err)
	assert.Equal(t, idOf(3), box.KeyID(), "INTAKE_SECRET_KEY wins")

	env[EnvKey] = "garbage"
	_, err = LoadBox(getenv, "")
	assert.ErrorContains(t, err, EnvKey)
	assert.NotContains(t, err.Error(), "garbage", "the bad key is not echoed")

	delete(env, EnvKey)
	_, err = LoadBox(getenv, filepath.Join(dir, "missing.key"))
	assert.Error(t, err)
	assert.False(t, errors.Is(err, ErrNoKey), "an explicit file that is missing is an error of its own")

	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "empty-config"))
	delete(env, EnvKeyFile)
	_, err = LoadBox(getenv, "")
	assert.ErrorIs(t, err, ErrNoKey)
}

func TestGenerateKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b", "secret.key")
	require.NoError(t, GenerateKeyFile(p))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	_, err = ParseKey(string(data))
	require.NoError(t, err)
	assert.ErrorContains(t, GenerateKeyFile(p), "refusing to replace")
	again, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, data, again)
}

func TestRedactor(t *testing.T) {
	r := NewRedactor("s3cr3t/value+1", "abc")
	cases := map[string]string{
		"token s3cr3t/value+1 here": "token [REDACTED] here",
		"q=s3cr3t%2Fvalue%2B1&x=1":  "q=[REDACTED]&x=1",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("s3cr3t/value+1")): "Basic [REDACTED]",
		"abc is too short to redact": "abc is too short to redact",
	}
	for in, want := range cases {
		assert.Equal(t, want, r.String(in), in)
	}
	var nilR *Redactor
	assert.Equal(t, "x s3cr3t", nilR.String("x s3cr3t"))

	// A short secret inside a longer one (a PIN and a token) no longer cuts the
	// longer one's match: the token is masked whole, whichever was added first.
	for _, order := range [][]string{{"1234", "tok-1234-abcd"}, {"tok-1234-abcd", "1234"}} {
		assert.Equal(t, "t=[REDACTED]&pin=[REDACTED]", NewRedactor(order...).String("t=tok-1234-abcd&pin=1234"), order)
	}
	// Overlapping occurrences are masked as one stretch.
	assert.Equal(t, "<[REDACTED]>", NewRedactor("abcdef", "defg").String("<abcdefg>"))
	// A space written as + in a query string (url.Values), and a secret inside JSON.
	pw := NewRedactor(`pass word "q"`)
	assert.Equal(t, "p=[REDACTED]&x=1", pw.String("p=pass+word+%22q%22&x=1"))
	assert.Equal(t, `{"password":"[REDACTED]"}`, pw.String(`{"password":"pass word \"q\""}`))

	cause := errors.New("dial: s3cr3t/value+1 refused")
	err := r.Error(fmt.Errorf("fetch: %w", cause))
	assert.Equal(t, "fetch: dial: [REDACTED] refused", err.Error())
	assert.ErrorIs(t, err, cause)
	assert.Nil(t, r.Error(nil))
}
