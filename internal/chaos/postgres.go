package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// pgSchema creates a schema of its own in the PostgreSQL database of dsn and returns a
// URL whose connections use it (search_path), its name, and a function that drops it.
// The campaign's store is then fresh, however many campaigns shared the database.
func pgSchema(ctx context.Context, dsn string) (string, string, func() error, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", nil, fmt.Errorf("-store: not a PostgreSQL URL")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "intake_chaos_" + hex.EncodeToString(b[:])
	exec := func(ctx context.Context, stmt string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("connect to the -store database: %w", err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() error { return exec(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE") }
	return u.String(), schema, drop, nil
}
