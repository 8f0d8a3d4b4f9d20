// Package pgtest gives tests a fresh PostgreSQL schema of the database named by
// INTAKE_TEST_POSTGRES_DSN, or skips them with how to run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env names the database the PostgreSQL tests use (CI sets it).
const Env = "INTAKE_TEST_POSTGRES_DSN"

// SkipMessage says how to run a skipped PostgreSQL test.
const SkipMessage = "set " + Env + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run against PostgreSQL"

// DSN creates a schema of its own in the test database and returns a URL whose
// connections use it (search_path); the schema is dropped when the test ends. The
// test is skipped when INTAKE_TEST_POSTGRES_DSN is not set.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skip(SkipMessage)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "intake_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("create a schema in the database of %s: %v", Env, err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
