package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

// TokenDB is the part of the store that keeps token state.
type TokenDB interface {
	LoadCredentials(ctx context.Context, id string, box *secret.Box) (store.VersionedCredentials, error)
	SaveCredentials(ctx context.Context, id string, creds map[string]any, expect int64, owner string, box *secret.Box) (int64, error)
	AcquireRefreshLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error)
	ReleaseRefreshLock(ctx context.Context, id, owner string) error
}

// StoreCredentials persists one integration's token state in the database.
type StoreCredentials struct {
	Store         TokenDB
	Box           *secret.Box
	IntegrationID string
}

// Load reads the credentials and their version.
func (c *StoreCredentials) Load(ctx context.Context) (store.VersionedCredentials, error) {
	return c.Store.LoadCredentials(ctx, c.IntegrationID, c.Box)
}

// Save writes the credentials if their version is still expect.
func (c *StoreCredentials) Save(ctx context.Context, creds map[string]any, expect int64, owner string) (int64, error) {
	return c.Store.SaveCredentials(ctx, c.IntegrationID, creds, expect, owner, c.Box)
}

// Lock takes the refresh lease.
func (c *StoreCredentials) Lock(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	return c.Store.AcquireRefreshLock(ctx, c.IntegrationID, owner, ttl)
}

// Unlock gives the lease up.
func (c *StoreCredentials) Unlock(ctx context.Context, owner string) error {
	return c.Store.ReleaseRefreshLock(ctx, c.IntegrationID, owner)
}

// MemoryCredentials keeps token state in the process, for runs that store nothing
// (intake preview). A rotated refresh token is lost when the process ends.
type MemoryCredentials struct {
	mu      sync.Mutex
	creds   map[string]any
	version int64
	owner   string
}

// NewMemoryCredentials starts from creds.
func NewMemoryCredentials(creds map[string]any) *MemoryCredentials {
	return &MemoryCredentials{creds: maps.Clone(creds)}
}

// Load returns the current credentials.
func (m *MemoryCredentials) Load(context.Context) (store.VersionedCredentials, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return store.VersionedCredentials{Values: maps.Clone(m.creds), Version: m.version}, nil
}

// Save replaces the credentials if expect is current.
func (m *MemoryCredentials) Save(_ context.Context, creds map[string]any, expect int64, owner string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if expect != m.version {
		return 0, store.ErrConflict
	}
	m.creds, m.version = maps.Clone(creds), m.version+1
	if m.owner == owner {
		m.owner = ""
	}
	return m.version, nil
}

// Lock takes the in-process lease.
func (m *MemoryCredentials) Lock(_ context.Context, owner string, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner != "" && m.owner != owner {
		return false, nil
	}
	m.owner = owner
	return true, nil
}

// Unlock releases it.
func (m *MemoryCredentials) Unlock(_ context.Context, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner == owner {
		m.owner = ""
	}
	return nil
}

// captureTransport keeps the JSON body of the last successful token response, so the
// fields golang.org/x/oauth2 does not model (instance_url, scope) reach .auth.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	body map[string]any
}

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 {
		return resp, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		t.mu.Lock()
		t.body = m
		t.mu.Unlock()
	}
	return resp, nil
}

func (t *captureTransport) last() map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.body
}
