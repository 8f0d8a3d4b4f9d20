// Package secret seals integration credentials at rest with AES-256-GCM and redacts
// secret values from anything printed.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// EnvKey and EnvKeyFile name the environment variables that supply the key.
const (
	EnvKey     = "INTAKE_SECRET_KEY"
	EnvKeyFile = "INTAKE_SECRET_KEY_FILE"
)

// ErrNoKey means no key was configured.
var ErrNoKey = errors.New("no secret key: set " + EnvKey + " (32 random bytes, base64 or hex), point " + EnvKeyFile + " or --key-file at a key file, or create one with `intake key generate`")

// Box seals and opens credentials with one 256-bit key.
type Box struct {
	aead cipher.AEAD
	id   string
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("intake key id\x00"), key...))
	return &Box{aead: aead, id: hex.EncodeToString(sum[:6])}, nil
}

// KeyID identifies the key without revealing it, so a wrong key is named in errors.
func (b *Box) KeyID() string { return b.id }

// Seal encrypts plaintext; the associated data binds the ciphertext to its row so a
// sealed value cannot be copied onto another integration.
func (b *Box) Seal(plaintext, associated []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return b.aead.Seal(nonce, nonce, plaintext, associated), nil
}

// Open decrypts what Seal produced.
func (b *Box) Open(sealed, associated []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], associated)
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt with key %s: wrong key or corrupted value", b.id)
	}
	return out, nil
}

// ParseKey reads a key written as base64 (standard or URL) or 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("secret key must be 32 bytes written as base64 or 64 hex digits")
}

// DefaultKeyFile is where `intake key generate` writes and the CLI looks last.
func DefaultKeyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return filepath.Join(".intake", "secret.key")
	}
	return filepath.Join(dir, "intake", "secret.key")
}

// LoadBox finds the key: INTAKE_SECRET_KEY, then the key file named by keyFile, then
// INTAKE_SECRET_KEY_FILE, then DefaultKeyFile. ErrNoKey when none exists.
func LoadBox(getenv func(string) string, keyFile string) (*Box, error) {
	if v := getenv(EnvKey); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return NewBox(k)
	}
	explicit := true
	if keyFile == "" {
		keyFile = getenv(EnvKeyFile)
	}
	if keyFile == "" {
		keyFile, explicit = DefaultKeyFile(), false
	}
	data, err := ReadFile(keyFile, nil)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", keyFile, err)
	}
	return NewBox(k)
}

// GenerateKeyFile writes a new random key to path with mode 0600, refusing to replace
// an existing one (that would make every sealed credential unreadable).
func GenerateKeyFile(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; refusing to replace a key that may seal stored credentials", path)
		}
		return err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Redactor replaces known secret values in text. The zero value redacts nothing. It
// is safe for concurrent use: tokens obtained during a sync are added as they come.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Mask is what a redacted value reads as.
const Mask = "[REDACTED]"

// NewRedactor redacts each non-trivial value, and its URL-encoded forms.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add registers more secret values.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if slices.Contains(r.secrets, v) {
			continue
		}
		if len(v) < 4 { // too short to redact without mangling ordinary text
			continue
		}
		for _, f := range encodings(v) {
			if !slices.Contains(r.secrets, f) {
				r.secrets = append(r.secrets, f)
			}
		}
	}
}

// encodings are the forms in which a secret value can reach printed text: as is; in
// a URL (every byte escaped but the unreserved ones, as url.QueryEscape writes it with
// + for a space, as url.PathEscape writes it); inside a JSON string; and in base64
// (a Basic header, say).
func encodings(v string) []string {
	forms := []string{v, queryEscape(v), url.QueryEscape(v), url.PathEscape(v)}
	if j, err := json.Marshal(v); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	b := []byte(v)
	forms = append(forms, base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
	var out []string
	for _, f := range forms {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// String redacts s. Every occurrence of every form is found in s as given, and each
// stretch they cover is masked once: replaced one secret after the other, a secret
// inside or overlapping another (a four-character PIN within a token) cut the longer
// one's match, and the rest of it showed around the mask.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var spans [][2]int
	for _, v := range r.secrets {
		for i := 0; i+len(v) <= len(s); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{i + j, i + j + len(v)})
			i += j + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	at := 0
	for k := 0; k < len(spans); {
		start, end := spans[k][0], spans[k][1]
		for k++; k < len(spans) && spans[k][0] <= end; k++ {
			end = max(end, spans[k][1])
		}
		b.WriteString(s[at:start])
		b.WriteString(Mask)
		at = end
	}
	b.WriteString(s[at:])
	return b.String()
}

// Error wraps err so its text is redacted while errors.Is/As still reach the cause.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil {
		return err
	}
	return &redactedError{msg: r.String(err.Error()), cause: err}
}

type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
