package store

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// In WAL mode a commit appends pages to the WAL, and a checkpoint copies them into
// the database file. SQLite checkpoints on the committing connection, after the
// commit that takes the WAL past wal_autocheckpoint pages (1,000 by default): the
// writer then stops to copy and sync, and a first sync of 1,000-record pages spent a
// sixth of its time waiting on it. The store checkpoints instead on a connection of
// its own, in the background, shortly after writes: SQLite lets a checkpoint run
// beside the writer. The writer keeps an automatic checkpoint only as a bound on the
// WAL (walLimitPages), for when the background ones cannot keep up.
//
// Durability is unchanged: a commit is in the WAL when it returns, with or without
// a checkpoint after it.

const (
	// walLimitPages is the writer's wal_autocheckpoint: 64 MiB of 4 KiB pages.
	walLimitPages = 16384
	// checkpointEvery is how long the checkpointer waits after one checkpoint before
	// the next, so a busy writer gets a checkpoint every interval rather than one per
	// commit (each syncs the WAL and the database file).
	checkpointEvery = 20 * time.Millisecond
)

// checkpointer runs PASSIVE checkpoints on its own connection when kicked.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	stop context.CancelFunc
	done sync.WaitGroup
	log  *slog.Logger
}

// startCheckpointer opens its connection to the database file at path and starts it.
func startCheckpointer(path string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: stop, log: log}
	c.done.Go(func() { c.loop(ctx) })
	return c, nil
}

// wrote tells the checkpointer that a transaction committed. It never blocks.
func (c *checkpointer) wrote() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			// The writer's own checkpoint (walLimitPages) still bounds the WAL.
			c.log.Warn("background checkpoint failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// checkpoint copies into the database what it can of the WAL without waiting for the
// writer or readers.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	var busy, frames, copied int
	return c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	c.done.Wait()
	return c.db.Close()
}
