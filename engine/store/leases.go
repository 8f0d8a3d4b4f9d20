package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The daemon's queue. Integration objects carry when they are due (next_due_at);
// integrations carry the lease of the daemon syncing them. A daemon claims an
// integration that has a due object and no live lease, renews the lease by
// heartbeats while it syncs, and releases it when done; a daemon that dies stops
// renewing, its leases expire, and another daemon claims the integration and resumes
// from the last committed cursor. The lease is per integration, not per object, so
// that one daemon at a time talks to a customer's account and the connector's rate
// limit holds across all its interaction types.

// ErrLeaseLost means a daemon no longer holds the lease it was syncing under.
var ErrLeaseLost = errors.New("lease lost: the integration's lease expired and another daemon may hold it")

// Never is the NextDueAt of an object the daemon does not run (its interaction type
// is no longer in the effective spec, or its integration is disabled).
var Never = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

// clearDeadRefreshLock is the part of a lease takeover (Claim, AcquireLease) that
// clears the OAuth refresh lock (credentials.go) the previous lease holder left: its
// lease expired, so it is dead or fenced out, and the new holder is the one process
// that talks to the provider for the integration from now on. A process killed during
// a token request never releases that lock; without this its successor would wait out
// the lock's TTL (45s, longer than a short lease) with its sync stalled. A lock held
// by anyone but the previous lease holder is left to expire. Its two parameters are
// the new owner (a holder renewing its own lease keeps its lock). Every expression in
// a SET reads the row as it was before the UPDATE, on SQLite and PostgreSQL alike.
const clearDeadRefreshLock = `refresh_lock_owner = CASE WHEN refresh_lock_owner = lease_owner AND lease_owner <> ? THEN NULL ELSE refresh_lock_owner END,
		refresh_lock_until = CASE WHEN refresh_lock_owner = lease_owner AND lease_owner <> ? THEN NULL ELSE refresh_lock_until END`

// Claim is an integration leased to a daemon.
type Claim struct {
	IntegrationID string
	CustomerID    string
	Provider      string
	Owner         string
	ExpiresAt     time.Time
}

// ClaimRequest says who claims and which integrations it cannot take now.
type ClaimRequest struct {
	Owner string
	TTL   time.Duration // how long the lease lasts unless renewed
	// SkipProviders are providers this daemon is running as many integrations of
	// as its per-provider cap allows.
	SkipProviders []string
	// Running are the integrations this daemon is syncing now. They are never
	// claimed again by it: its lease on one may have expired under the sync (its
	// heartbeats could not reach the database for a whole lease), and a second worker
	// would pass the lease checks as well as the first. Another daemon may take
	// them over; the fence then stops the first worker.
	Running []string
}

// Claim leases to r.Owner the enabled integration that is most overdue, never-synced
// objects first, among those with a due object (or no objects yet) and no live
// lease. It returns nil when there is none. On PostgreSQL concurrent claimers skip
// each other's candidate rows (FOR UPDATE SKIP LOCKED), so N daemons claim N
// different integrations without waiting; on SQLite the write lock serialises them.
//
// The candidates are looked for in claimOrder, one statement per kind, each reading
// an index in due order and stopping at the first integration it can lease: a claim
// costs O(log n) plus the due rows it passes over (of integrations leased or of a
// provider at its cap; disabled integrations' objects are retired, Never), not a join
// and sort of every object (docs/scheduler-scale.md).
func (s *Store) Claim(ctx context.Context, r ClaimRequest) (*Claim, error) {
	if r.Owner == "" || r.TTL <= 0 {
		return nil, errors.New("claim: an owner and a positive lease duration are required")
	}
	now := s.now()
	nowTS, until := formatTS(now), formatTS(now.Add(r.TTL))
	skip, skipArgs := notIn("i.provider", r.SkipProviders)
	running, runningArgs := notIn("i.id", r.Running)
	skip, skipArgs = skip+running, append(skipArgs, runningArgs...)
	lock := ""
	if s.dialect == Postgres {
		lock = ` FOR UPDATE OF i SKIP LOCKED`
	}
	for _, cand := range claimOrder {
		args := cand.sqlArgs(r.Owner, until, nowTS, skipArgs)
		c := &Claim{Owner: r.Owner, ExpiresAt: roundSlot(now.Add(r.TTL))}
		err := s.db.QueryRowContext(ctx, cand.sql(skip, lock), args...).Scan(&c.IntegrationID, &c.CustomerID, &c.Provider)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("claim an integration: %w", err)
		}
		return c, nil
	}
	return nil, nil
}

// claimCandidates is one kind of claimable integration: FROM and WHERE clauses (with
// the alias i for integrations), the order among them, and the WHERE's arguments
// given the current time.
type claimCandidates struct {
	from, where, order string
	args               func(now string) []any
}

// sql is the claim statement of c's candidates, with skip (notIn) and lock.
func (c claimCandidates) sql(skip, lock string) string {
	return `UPDATE integrations SET ` + clearDeadRefreshLock + `, lease_owner = ?, lease_expires_at = ?, lease_heartbeat_at = ?
		WHERE id = (
			SELECT i.id FROM ` + c.from + `
			WHERE ` + c.where + ` AND i.status = ? AND (i.lease_expires_at IS NULL OR i.lease_expires_at <= ?)` + skip + `
			ORDER BY ` + c.order + `
			LIMIT 1` + lock + `)
		AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
		RETURNING id, customer_id, provider`
}

// sqlArgs are the arguments of c.sql: the new owner twice (clearDeadRefreshLock), the
// lease, c's, the status and time, skip's, the time again.
func (c claimCandidates) sqlArgs(owner, until, now string, skipArgs []any) []any {
	return slices.Concat([]any{owner, owner, owner, until, now}, c.args(now), []any{StatusEnabled, now}, skipArgs, []any{now})
}

// claimOrder is the order in which Claim looks for work, the same order as a sort
// of every candidate by (never synced first, due time with unscheduled first,
// integration id) would give:
//  1. never synced and unscheduled: new integrations, whose objects do not exist yet
//     (integrations_new), and objects not scheduled yet (integration_objects_never);
//  2. never synced and due, earliest first (integration_objects_never);
//  3. synced and not scheduled (integration_objects_due, NULL);
//  4. synced and due, earliest first (integration_objects_due).
//
// Sets 1 and 2 are small (new work, and objects failing since their first run); sets
// 3 and 4 are read in index order up to the first integration that can be leased.
// TestClaimQueriesUseIndexes checks the plans.
var claimOrder = []claimCandidates{
	{
		from: `integrations i`,
		where: `i.id IN (SELECT n.id FROM integrations n WHERE n.has_objects = 0
				AND NOT EXISTS (SELECT 1 FROM integration_objects o WHERE o.integration_id = n.id)
			UNION ALL SELECT o.integration_id FROM integration_objects o WHERE o.last_synced_at IS NULL AND o.next_due_at IS NULL)`,
		order: `i.id`,
		args:  func(string) []any { return nil },
	},
	{
		from:  `integration_objects o JOIN integrations i ON i.id = o.integration_id`,
		where: `o.last_synced_at IS NULL AND o.next_due_at <= ?`,
		order: `o.next_due_at, o.integration_id`,
		args:  func(now string) []any { return []any{now} },
	},
	{
		from:  `integration_objects o JOIN integrations i ON i.id = o.integration_id`,
		where: `o.next_due_at IS NULL AND o.last_synced_at IS NOT NULL`,
		order: `o.integration_id`,
		args:  func(string) []any { return nil },
	},
	{
		from:  `integration_objects o JOIN integrations i ON i.id = o.integration_id`,
		where: `o.next_due_at <= ? AND o.last_synced_at IS NOT NULL`,
		order: `o.next_due_at, o.integration_id`,
		args:  func(now string) []any { return []any{now} },
	},
}

// notIn is " AND col NOT IN (?, ...)" for values, and its arguments; "" for none.
func notIn(col string, values []string) (string, []any) {
	if len(values) == 0 {
		return "", nil
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return ` AND ` + col + ` NOT IN (?` + strings.Repeat(", ?", len(values)-1) + `)`, args
}

// AcquireLease takes the lease of one integration for owner (intake sync), when no
// one else holds a live one. When someone does, ok is false and holder names them.
func (s *Store) AcquireLease(ctx context.Context, integrationID, owner string, ttl time.Duration) (ok bool, holder string, err error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET `+clearDeadRefreshLock+`, lease_owner = ?, lease_expires_at = ?, lease_heartbeat_at = ?
		WHERE id = ? AND (lease_expires_at IS NULL OR lease_expires_at <= ? OR lease_owner = ?)`,
		owner, owner, owner, formatTS(now.Add(ttl)), formatTS(now), integrationID, formatTS(now), owner)
	if err != nil {
		return false, "", fmt.Errorf("lease of %s: %w", integrationID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, "", nil
	}
	in, err := s.Integration(ctx, integrationID)
	if err != nil {
		return false, "", err
	}
	return false, in.LeaseOwner, nil
}

// Leased is the store as a sync under owner's lease writes through it: every
// integration object it hands out carries the lease, so StartRun, CommitPage and
// FinishRun check it in their transactions.
type Leased struct {
	*Store
	Owner string
}

// EnsureObject is Store.EnsureObject with the lease set on the object.
func (l Leased) EnsureObject(ctx context.Context, integrationID, typ string) (*Object, error) {
	o, err := l.Store.EnsureObject(ctx, integrationID, typ)
	if err == nil {
		o.Lease = l.Owner
	}
	return o, err
}

// RenewLease extends owner's lease of an integration to ttl from now (a heartbeat).
// It reports false when owner no longer holds it.
func (s *Store) RenewLease(ctx context.Context, integrationID, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET lease_expires_at = ?, lease_heartbeat_at = ? WHERE id = ? AND lease_owner = ?`,
		formatTS(now.Add(ttl)), formatTS(now), integrationID, owner)
	if err != nil {
		return false, fmt.Errorf("renew lease of %s: %w", integrationID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseLease gives up owner's lease of an integration, if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, integrationID, owner string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL, lease_heartbeat_at = NULL WHERE id = ? AND lease_owner = ?`, integrationID, owner)
	if err != nil {
		return fmt.Errorf("release lease of %s: %w", integrationID, err)
	}
	return nil
}

// ReleaseLeases gives up every lease owner holds and returns how many there were.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL, lease_heartbeat_at = NULL WHERE lease_owner = ?`, owner)
	if err != nil {
		return 0, fmt.Errorf("release leases of %s: %w", owner, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// fence checks, inside tx, that obj's sync still holds its integration's lease. On
// PostgreSQL the row is share-locked until tx ends, so no claimer can take the lease
// over between the check and the commit.
func (s *Store) fence(ctx context.Context, tx *sql.Tx, obj *Object) error {
	if obj.Lease == "" {
		return nil
	}
	q := `SELECT 1 FROM integrations WHERE id = ? AND lease_owner = ? AND lease_expires_at > ?`
	if s.dialect == Postgres {
		q += ` FOR SHARE`
	}
	var one int
	err := tx.QueryRowContext(ctx, q, obj.IntegrationID, obj.Lease, s.ts()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("integration %s: %w", obj.IntegrationID, ErrLeaseLost)
	}
	return err
}

// NextWake is the earliest time at which an integration may become claimable by
// owner: the earliest due time of an object of an enabled integration, or, for an
// integration another daemon leases, the later of that and the lease's expiry.
// Integrations of skipProviders and owner's own leases are left out (the daemon is
// woken when its own work ends). ok is false when nothing is scheduled at all.
//
// Like Claim it reads indexes, not every object: an integration without a lease is
// due with its earliest object (integrations_new, integration_objects_due, read from
// the start); the leased ones are few and found through integrations_lease.
func (s *Store) NextWake(ctx context.Context, owner string, skipProviders []string) (at time.Time, ok bool, err error) {
	skip, skipArgs := notIn("i.provider", skipProviders)
	var next sql.NullString
	if err := s.db.QueryRowContext(ctx, nextWakeSQL(s.dialect, skip), nextWakeArgs(owner, skipArgs)...).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due time: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	if next.String == "" {
		return s.now(), true, nil // not scheduled yet: due now
	}
	return parseTS(next), true, nil
}

// nextWakeSQL is NextWake's query on d, with skip (notIn) on i.provider; its
// arguments are nextWakeArgs.
func nextWakeSQL(d Dialect, skip string) string {
	// The plan must walk the due index, not every integration without a lease: on
	// SQLite, which has no statistics (the store never runs ANALYZE), the lease test
	// is written so that no index can serve it (COALESCE); PostgreSQL estimates the
	// plain one well.
	free := `i.status = ? AND i.lease_expires_at IS NULL` + skip
	if d == SQLite {
		free = `i.status = ? AND COALESCE(i.lease_expires_at, '') = ''` + skip
	}
	return `SELECT MIN(t) FROM (
		SELECT (SELECT '' FROM integrations i WHERE i.has_objects = 0 AND ` + free + `
			AND NOT EXISTS (SELECT 1 FROM integration_objects o WHERE o.integration_id = i.id) LIMIT 1) AS t
		UNION ALL SELECT (SELECT '' FROM integration_objects o JOIN integrations i ON i.id = o.integration_id
			WHERE o.next_due_at IS NULL AND ` + free + ` LIMIT 1)
		UNION ALL SELECT (SELECT o.next_due_at FROM integration_objects o JOIN integrations i ON i.id = o.integration_id
			WHERE o.next_due_at < ? AND ` + free + ` ORDER BY o.next_due_at LIMIT 1)
		UNION ALL SELECT MIN(CASE WHEN i.lease_expires_at > COALESCE(o.next_due_at, '') THEN i.lease_expires_at ELSE COALESCE(o.next_due_at, '') END)
			FROM integrations i LEFT JOIN integration_objects o ON o.integration_id = i.id
			WHERE i.lease_expires_at > '' AND i.status = ? AND (o.id IS NULL OR o.next_due_at IS NULL OR o.next_due_at < ?)
				AND COALESCE(i.lease_owner, '') <> ?` + skip + `
	) w`
}

// nextWakeArgs are the arguments of nextWakeSQL.
func nextWakeArgs(owner string, skipArgs []any) []any {
	never := formatTS(Never)
	free := append([]any{StatusEnabled}, skipArgs...)
	return slices.Concat(free, free, []any{never}, free, []any{StatusEnabled, never, owner}, skipArgs)
}

// DueBacklog counts the work waiting for a daemon: objects of enabled integrations
// that are due and not leased, and enabled integrations that have no objects yet.
func (s *Store) DueBacklog(ctx context.Context) (int, error) {
	now := s.ts()
	var objects, fresh int
	// Both counts read the due rows only (integration_objects_due, integrations_new):
	// COALESCE keeps the lease test from driving SQLite's plan (see nextWakeSQL).
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM integration_objects o JOIN integrations i ON i.id = o.integration_id
		WHERE (o.next_due_at IS NULL OR o.next_due_at <= ?) AND i.status = ? AND COALESCE(i.lease_expires_at, '') <= ?`,
		now, StatusEnabled, now).Scan(&objects)
	if err != nil {
		return 0, fmt.Errorf("due backlog: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM integrations i WHERE i.has_objects = 0 AND i.status = ? AND COALESCE(i.lease_expires_at, '') <= ?
		AND NOT EXISTS (SELECT 1 FROM integration_objects o WHERE o.integration_id = i.id)`, StatusEnabled, now).Scan(&fresh)
	if err != nil {
		return 0, fmt.Errorf("due backlog: %w", err)
	}
	return objects + fresh, nil
}

// EnsureObjects creates the missing integration objects of types (not scheduled
// yet: due at once).
func (s *Store) EnsureObjects(ctx context.Context, integrationID string, types []string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range types {
			if _, err := tx.ExecContext(ctx, `INSERT INTO integration_objects (integration_id, interaction_type) VALUES (?, ?) ON CONFLICT (integration_id, interaction_type) DO NOTHING`, integrationID, t); err != nil {
				return err
			}
		}
		if len(types) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, markHasObjects, integrationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("integration objects of %s: %w", integrationID, err)
	}
	return nil
}

// Objects lists an integration's objects, in creation order.
func (s *Store) Objects(ctx context.Context, integrationID string) ([]*Object, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+objectCols+` FROM integration_objects WHERE integration_id = ? ORDER BY id`, integrationID)
	if err != nil {
		return nil, fmt.Errorf("integration objects of %s: %w", integrationID, err)
	}
	defer rows.Close()
	var out []*Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, fmt.Errorf("integration objects of %s: %w", integrationID, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetNextDue moves an object's due time to next if it is still old (zero for "not
// scheduled"), and reports whether it did: a reschedule computed from a stale read
// never overwrites what a finishing sync just wrote.
func (s *Store) SetNextDue(ctx context.Context, objectID int64, old, next time.Time) (bool, error) {
	oldTS := ""
	if !old.IsZero() {
		oldTS = formatTS(old)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE integration_objects SET next_due_at = ? WHERE id = ? AND COALESCE(next_due_at, '') = ?`, formatTS(next), objectID, oldTS)
	if err != nil {
		return false, fmt.Errorf("schedule integration object %d: %w", objectID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ScheduleObject sets when an object runs next, after a run that started at
// runStarted: next, unless a sync was requested during that run, in which case it is
// due at once. owner must still hold the integration's lease.
func (s *Store) ScheduleObject(ctx context.Context, objectID int64, owner string, runStarted, next time.Time) error {
	// A request that arrived during the run stays recorded until a run that started
	// after it ends, so that a reschedule (a reload) cannot drop it meanwhile.
	started := formatTS(runStarted)
	// An object retired during the run (Never: its integration was disabled, or its
	// type left the spec) stays retired.
	res, err := s.db.ExecContext(ctx, `UPDATE integration_objects
		SET next_due_at = CASE WHEN next_due_at = ? THEN next_due_at WHEN sync_requested_at IS NOT NULL AND sync_requested_at > ? THEN ? ELSE ? END,
			sync_requested_at = CASE WHEN sync_requested_at IS NOT NULL AND sync_requested_at > ? THEN sync_requested_at ELSE NULL END
		WHERE id = ? AND EXISTS (SELECT 1 FROM integrations i WHERE i.id = integration_objects.integration_id AND i.lease_owner = ?)`,
		formatTS(Never), started, s.ts(), formatTS(next), started, objectID, owner)
	if err != nil {
		return fmt.Errorf("schedule integration object %d: %w", objectID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("schedule integration object %d: %w", objectID, ErrLeaseLost)
	}
	return nil
}

// RequestSync makes an integration's objects (those of types; all when empty) due
// now, and, for one running now, due again as soon as that run ends. It returns the
// types it changed; an integration without objects yet is due anyway.
func (s *Store) RequestSync(ctx context.Context, integrationID string, types []string) ([]string, error) {
	in, err := s.Integration(ctx, integrationID)
	if err != nil {
		return nil, err
	}
	if in.Status != StatusEnabled {
		return nil, fmt.Errorf("integration %s is %s: enable it first", integrationID, in.Status)
	}
	now := s.ts()
	args := []any{now, now, integrationID, formatTS(Never)}
	only := ""
	if len(types) > 0 {
		only = ` AND interaction_type IN (?` + strings.Repeat(", ?", len(types)-1) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE integration_objects SET next_due_at = ?, sync_requested_at = ?
		WHERE integration_id = ? AND COALESCE(next_due_at, '') <> ?`+only+` RETURNING interaction_type`, args...)
	if err != nil {
		return nil, fmt.Errorf("request sync of %s: %w", integrationID, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("request sync of %s: %w", integrationID, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("request sync of %s: %w", integrationID, err)
	}
	s.notify(ctx)
	return out, nil
}

// DeleteIntegration deletes an integration with its objects, runs, interactions and
// quarantined records (accounts and contacts, which belong to the customer, stay).
// A daemon syncing it loses its lease at its next commit.
func (s *Store) DeleteIntegration(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM integrations WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete integration %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	return nil
}

// ScheduledIntegration is an enabled integration with its objects, as the daemon
// reconciles them with its spec (EachEnabledIntegration).
type ScheduledIntegration struct {
	ID, CustomerID, Provider string
	Override                 string // the attached override file, "" for none
	Objects                  []*Object
}

// EachEnabledIntegration calls fn with every enabled integration and its objects
// (in id order), one integration at a time, in two queries whatever their number: a
// start or a reload reconciles 100,000 objects without a query per integration, and
// without holding them all in memory at once. fn must not write to the store (its
// rows are being read); collect the changes and apply them afterwards (SetNextDues).
func (s *Store) EachEnabledIntegration(ctx context.Context, fn func(*ScheduledIntegration) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, customer_id, provider, override FROM integrations WHERE status = ?`, StatusEnabled)
	if err != nil {
		return fmt.Errorf("enabled integrations: %w", err)
	}
	ins := map[string]*ScheduledIntegration{}
	for rows.Next() {
		var in ScheduledIntegration
		var override sql.NullString
		if err := rows.Scan(&in.ID, &in.CustomerID, &in.Provider, &override); err != nil {
			rows.Close()
			return fmt.Errorf("enabled integrations: %w", err)
		}
		in.Override = override.String
		ins[in.ID] = &in
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("enabled integrations: %w", err)
	}
	err = func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT `+objectCols+` FROM integration_objects ORDER BY integration_id, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var cur *ScheduledIntegration
		flush := func() error {
			if cur == nil {
				return nil
			}
			delete(ins, cur.ID)
			err := fn(cur)
			cur = nil
			return err
		}
		for rows.Next() {
			o, err := scanObject(rows)
			if err != nil {
				return err
			}
			if cur != nil && cur.ID != o.IntegrationID {
				if err := flush(); err != nil {
					return err
				}
			}
			if cur == nil {
				if cur = ins[o.IntegrationID]; cur == nil {
					continue // not enabled
				}
			}
			cur.Objects = append(cur.Objects, o)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return flush()
	}()
	if err != nil {
		return fmt.Errorf("integration objects: %w", err)
	}
	// Integrations without objects yet.
	for _, id := range slices.Sorted(maps.Keys(ins)) {
		if err := fn(ins[id]); err != nil {
			return err
		}
	}
	return nil
}

// ObjectKey names an integration object: an integration and an interaction type.
type ObjectKey struct {
	IntegrationID, Type string
}

// EnsureObjectsOf is EnsureObjects for many integrations at once, in transactions of
// a few hundred objects: a reload that adds an interaction type to a connector creates
// one object per integration. The new objects are due at due (the schedule of an
// object that never ran: now).
func (s *Store) EnsureObjectsOf(ctx context.Context, keys []ObjectKey, due time.Time) error {
	dueTS := formatTS(due)
	for batch := range slices.Chunk(keys, 500) {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for i, k := range batch {
				if _, err := tx.ExecContext(ctx, `INSERT INTO integration_objects (integration_id, interaction_type, next_due_at) VALUES (?, ?, ?) ON CONFLICT (integration_id, interaction_type) DO NOTHING`, k.IntegrationID, k.Type, dueTS); err != nil {
					return err
				}
				if i == len(batch)-1 || batch[i+1].IntegrationID != k.IntegrationID {
					if _, err := tx.ExecContext(ctx, markHasObjects, k.IntegrationID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create integration objects: %w", err)
		}
	}
	return nil
}

// NextDue is a due time to set on an object if it still has Old (SetNextDue).
type NextDue struct {
	ObjectID  int64
	Old, Next time.Time
}

// SetNextDues applies SetNextDue to each change, in transactions of a few hundred,
// and returns how many it applied.
func (s *Store) SetNextDues(ctx context.Context, changes []NextDue) (int, error) {
	applied := 0
	for batch := range slices.Chunk(changes, 500) {
		n := 0
		err := s.tx(ctx, func(tx *sql.Tx) error {
			n = 0
			for _, c := range batch {
				oldTS := ""
				if !c.Old.IsZero() {
					oldTS = formatTS(c.Old)
				}
				res, err := tx.ExecContext(ctx, `UPDATE integration_objects SET next_due_at = ? WHERE id = ? AND COALESCE(next_due_at, '') = ?`, formatTS(c.Next), c.ObjectID, oldTS)
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				n += int(k)
			}
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("schedule integration objects: %w", err)
		}
		applied += n
	}
	return applied, nil
}
