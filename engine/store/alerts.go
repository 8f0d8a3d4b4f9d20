package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/secret"
)

// Alert kinds.
const (
	AlertSyncFailed          = "sync_failed"
	AlertIntegrationDisabled = "integration_disabled"
	AlertRecovered           = "recovered"
)

// Delivery targets.
const (
	TargetOperator = "operator"
	TargetCustomer = "customer"
)

// Delivery states, derived from a delivery's columns.
const (
	DeliveryDelivered = "delivered"
	DeliveryPending   = "pending"
	DeliveryFailed    = "failed" // given up
)

// Alert is a notable event of a sync: the first failure of a streak, an integration
// disabled, a recovery.
type Alert struct {
	ID            int64
	CreatedAt     time.Time
	Kind          string // Alert*
	CustomerID    string
	IntegrationID string
	Provider      string
	Type          string // interaction type
	RunID         int64  // sync run that raised it
	Class         string // spec.Class* of that run; "" for recovered
	Message       string
	Deliveries    []Delivery
}

// Delivery is one alert sent (or to send) to one webhook.
type Delivery struct {
	ID            int64
	AlertID       int64
	Target        string // TargetOperator or TargetCustomer
	URL           string
	Attempts      int
	DeliveredAt   time.Time // zero until a 2xx answer
	LastError     string
	NextAttemptAt time.Time // zero once delivered or given up
}

// State is delivered, pending (a flush will retry it) or failed (given up).
func (d Delivery) State() string {
	switch {
	case !d.DeliveredAt.IsZero():
		return DeliveryDelivered
	case !d.NextAttemptAt.IsZero():
		return DeliveryPending
	default:
		return DeliveryFailed
	}
}

// NewDelivery is a delivery recorded together with its alert.
type NewDelivery struct {
	Target        string
	URL           string
	NextAttemptAt time.Time // when it is due; zero means now
	LastError     string    // why it could not be attempted yet, if so
}

func nullSlot(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTS(t), Valid: true}
}

// CreateAlert stores an alert and its pending deliveries in one transaction, so that a
// crash right after cannot lose a delivery: a later flush sends it. It sets a.ID,
// a.CreatedAt (when zero) and a.Deliveries.
func (s *Store) CreateAlert(ctx context.Context, a *Alert, deliveries []NewDelivery) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.Deliveries = nil
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO alerts (created_at, kind, customer_id, integration_id, provider, interaction_type, sync_run_id, class, message)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			formatTS(a.CreatedAt), a.Kind, a.CustomerID, a.IntegrationID, a.Provider, a.Type, nullInt(a.RunID), nullStr(a.Class), a.Message).Scan(&a.ID)
		if err != nil {
			return err
		}
		for _, d := range deliveries {
			next := d.NextAttemptAt
			if next.IsZero() {
				next = a.CreatedAt
			}
			var id int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO alert_deliveries (alert_id, target, url, last_error, next_attempt_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
				a.ID, d.Target, d.URL, nullStr(d.LastError), formatTS(next)).Scan(&id); err != nil {
				return fmt.Errorf("delivery to %s: %w", d.Target, err)
			}
			a.Deliveries = append(a.Deliveries, Delivery{ID: id, AlertID: a.ID, Target: d.Target, URL: d.URL, LastError: d.LastError, NextAttemptAt: roundSlot(next)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create %s alert for %s: %w", a.Kind, a.IntegrationID, err)
	}
	return nil
}

// roundSlot is t as it reads back from next_attempt_at.
func roundSlot(t time.Time) time.Time {
	r, _ := time.Parse(tsLayout, formatTS(t))
	return r
}

func nullInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

// AlertFilter narrows ListAlerts; zero fields match everything.
type AlertFilter struct {
	IntegrationID string
	CustomerID    string
	Kind          string
	Limit         int // 0: all
}

const alertCols = `id, created_at, kind, customer_id, integration_id, provider, interaction_type, sync_run_id, class, message`

func scanAlert(row interface{ Scan(...any) error }) (*Alert, error) {
	var a Alert
	var created, class sql.NullString
	var run sql.NullInt64
	if err := row.Scan(&a.ID, &created, &a.Kind, &a.CustomerID, &a.IntegrationID, &a.Provider, &a.Type, &run, &class, &a.Message); err != nil {
		return nil, err
	}
	a.CreatedAt, a.RunID, a.Class = parseTS(created), run.Int64, class.String
	return &a, nil
}

// Alert returns one alert with its deliveries.
func (s *Store) Alert(ctx context.Context, id int64) (*Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("alert %d: %w", id, err)
	}
	if err := s.attachDeliveries(ctx, []*Alert{a}); err != nil {
		return nil, fmt.Errorf("alert %d: %w", id, err)
	}
	return a, nil
}

// ListAlerts returns alerts, newest first, with their deliveries.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]*Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE 1 = 1`
	var args []any
	if f.IntegrationID != "" {
		q += ` AND integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	if f.CustomerID != "" {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	var out []*Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	if err := s.attachDeliveries(ctx, out); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

const deliveryCols = `id, alert_id, target, url, attempts, delivered_at, last_error, next_attempt_at`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var delivered, lastErr, next sql.NullString
	if err := row.Scan(&d.ID, &d.AlertID, &d.Target, &d.URL, &d.Attempts, &delivered, &lastErr, &next); err != nil {
		return Delivery{}, err
	}
	d.DeliveredAt, d.LastError, d.NextAttemptAt = parseTS(delivered), lastErr.String, parseTS(next)
	return d, nil
}

func (s *Store) attachDeliveries(ctx context.Context, alerts []*Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	byID := make(map[int64]*Alert, len(alerts))
	args := make([]any, 0, len(alerts))
	for _, a := range alerts {
		byID[a.ID] = a
		a.Deliveries = nil
		args = append(args, a.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM alert_deliveries WHERE alert_id IN (?`+strings.Repeat(", ?", len(args)-1)+`) ORDER BY alert_id, id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return err
		}
		a := byID[d.AlertID]
		a.Deliveries = append(a.Deliveries, d)
	}
	return rows.Err()
}

// DueDeliveries returns undelivered deliveries to the given targets whose next
// attempt is at or before now, oldest due first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, targets []string, limit int) ([]Delivery, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	args := []any{formatTS(now)}
	for _, t := range targets {
		args = append(args, t)
	}
	q := `SELECT ` + deliveryCols + ` FROM alert_deliveries WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?
		AND target IN (?` + strings.Repeat(", ?", len(targets)-1) + `) ORDER BY next_attempt_at, id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("due alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("due alert deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDelivery moves a due delivery's next attempt to until, if it is still the one
// d was read with, and reports whether it did: of several processes flushing at once,
// only one sends it.
func (s *Store) ClaimDelivery(ctx context.Context, d Delivery, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ? AND delivered_at IS NULL AND next_attempt_at = ?`,
		formatTS(until), d.ID, formatTS(d.NextAttemptAt))
	if err != nil {
		return false, fmt.Errorf("claim alert delivery %d: %w", d.ID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DeliveryResult is what one delivery attempt (or decision not to attempt) did.
type DeliveryResult struct {
	URL       string    // where it was sent; "" keeps the recorded URL
	Attempted bool      // an HTTP request was made: attempts goes up by one
	Delivered bool      // the webhook answered 2xx
	At        time.Time // when; the delivered_at of a delivered one
	Error     string    // why it failed, or why it was not attempted
	// NextAttemptAt is when a flush retries an undelivered one; zero gives up.
	NextAttemptAt time.Time
}

// RecordDelivery records the result of an attempt on delivery id.
func (s *Store) RecordDelivery(ctx context.Context, id int64, r DeliveryResult) error {
	attempted := 0
	if r.Attempted {
		attempted = 1
	}
	var delivered, next sql.NullString
	if r.Delivered {
		at := r.At
		if at.IsZero() {
			at = s.now()
		}
		delivered = sql.NullString{String: formatTS(at), Valid: true}
	} else {
		next = nullSlot(r.NextAttemptAt)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE alert_deliveries SET url = COALESCE(?, url), attempts = attempts + ?, delivered_at = ?,
		last_error = COALESCE(?, last_error), next_attempt_at = ? WHERE id = ?`,
		nullStr(r.URL), attempted, delivered, nullStr(r.Error), next, id)
	if err != nil {
		return fmt.Errorf("record alert delivery %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("alert delivery %d: %w", id, ErrNotFound)
	}
	return nil
}

// IntegrationState is an integration's status and, when disabled, since when and why.
type IntegrationState struct {
	ID             string
	CustomerID     string
	Provider       string
	Status         string
	DisabledAt     time.Time
	DisabledReason string
}

const stateCols = `id, customer_id, provider, status, disabled_at, disabled_reason`

func scanState(row interface{ Scan(...any) error }) (*IntegrationState, error) {
	var st IntegrationState
	var at, reason sql.NullString
	if err := row.Scan(&st.ID, &st.CustomerID, &st.Provider, &st.Status, &at, &reason); err != nil {
		return nil, err
	}
	st.DisabledAt, st.DisabledReason = parseTS(at), reason.String
	return &st, nil
}

// IntegrationState returns one integration's status.
func (s *Store) IntegrationState(ctx context.Context, id string) (*IntegrationState, error) {
	st, err := scanState(s.db.QueryRowContext(ctx, `SELECT `+stateCols+` FROM integrations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("integration %q: %w", id, err)
	}
	return st, nil
}

// IntegrationStates lists the status of each integration of a customer, by id.
func (s *Store) IntegrationStates(ctx context.Context, customerID string) ([]*IntegrationState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+stateCols+` FROM integrations WHERE customer_id = ? ORDER BY id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("integrations of %s: %w", customerID, err)
	}
	defer rows.Close()
	var out []*IntegrationState
	for rows.Next() {
		st, err := scanState(rows)
		if err != nil {
			return nil, fmt.Errorf("integrations of %s: %w", customerID, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// SetIntegrationStatus enables an integration (clearing disabled_at and
// disabled_reason) or disables it (setting them; reason says why).
//
// A disabled integration's objects are retired from the schedule (Never), so that
// claims and wake-ups, which walk due objects in order, never pass over them however
// long they stay disabled; enabling one makes them unscheduled (due at once), and the
// worker that claims it schedules them again from what the database holds
// (docs/scheduler-scale.md).
func (s *Store) SetIntegrationStatus(ctx context.Context, id, status, reason string) error {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		switch status {
		case StatusEnabled:
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET next_due_at = NULL WHERE integration_id = ? AND next_due_at = ?
				AND EXISTS (SELECT 1 FROM integrations i WHERE i.id = ? AND i.status <> ?)`, id, formatTS(Never), id, StatusEnabled); err != nil {
				return err
			}
			res, err = tx.ExecContext(ctx, `UPDATE integrations SET status = ?, disabled_at = NULL, disabled_reason = NULL, updated_at = ? WHERE id = ?`, StatusEnabled, s.ts(), id)
		case StatusDisabled:
			now := s.ts()
			res, err = tx.ExecContext(ctx, `UPDATE integrations SET status = ?, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`, StatusDisabled, now, nullStr(reason), now, id)
			if err == nil {
				err = retireObjects(ctx, tx, id)
			}
		default:
			return fmt.Errorf("unknown status %q (use %s or %s)", status, StatusEnabled, StatusDisabled)
		}
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return fmt.Errorf("set status of integration %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	if status == StatusEnabled {
		s.notify(ctx)
	}
	return nil
}

// retireObjects takes a disabled integration's objects off the schedule (Never).
func retireObjects(ctx context.Context, tx *sql.Tx, integrationID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE integration_objects SET next_due_at = ? WHERE integration_id = ?`, formatTS(Never), integrationID)
	return err
}

// DisableIntegration disables an integration that is not already disabled and reports
// whether it did, so that of several failing runs only one announces it. Its objects
// leave the schedule as with SetIntegrationStatus.
func (s *Store) DisableIntegration(ctx context.Context, id, reason string) (bool, error) {
	now := s.ts()
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE integrations SET status = ?, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND status <> ?`,
			StatusDisabled, now, nullStr(reason), now, id, StatusDisabled)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 1 {
			return retireObjects(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("disable integration %s: %w", id, err)
	}
	if n == 0 {
		if _, err := s.IntegrationState(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// Customer is a tenant, with its alert webhook (never its secret).
type Customer struct {
	ID               string
	Name             string
	CreatedAt        time.Time
	WebhookURL       string
	HasWebhookSecret bool
	WebhookKeyID     string // key that sealed the webhook secret
}

// Customer returns one customer.
func (s *Store) Customer(ctx context.Context, id string) (*Customer, error) {
	var c Customer
	var created, url, keyID sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, name, created_at, webhook_url, webhook_secret IS NOT NULL, webhook_key_id FROM customers WHERE id = ?`, id).
		Scan(&c.ID, &c.Name, &created, &url, &c.HasWebhookSecret, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("customer %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("customer %q: %w", id, err)
	}
	c.CreatedAt, c.WebhookURL, c.WebhookKeyID = parseTS(created), url.String, keyID.String
	return &c, nil
}

func webhookAD(customerID string) []byte { return []byte("customer:" + customerID) }

// SetCustomerWebhook sets the webhook a customer's alerts are posted to and the secret
// they are signed with, sealed with box and bound to the customer. An empty url
// removes the webhook.
func (s *Store) SetCustomerWebhook(ctx context.Context, customerID, url string, secretValue []byte, box *secret.Box) error {
	var sealed []byte
	var keyID string
	if url != "" {
		if len(secretValue) == 0 {
			return fmt.Errorf("set webhook of customer %s: a signing secret is required", customerID)
		}
		if box == nil {
			return fmt.Errorf("set webhook of customer %s: %w", customerID, secret.ErrNoKey)
		}
		var err error
		if sealed, err = box.Seal(secretValue, webhookAD(customerID)); err != nil {
			return fmt.Errorf("set webhook of customer %s: seal secret: %w", customerID, err)
		}
		keyID = box.KeyID()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE customers SET webhook_url = ?, webhook_secret = ?, webhook_key_id = ? WHERE id = ?`, nullStr(url), sealed, nullStr(keyID), customerID)
	if err != nil {
		return fmt.Errorf("set webhook of customer %s: %w", customerID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("customer %q: %w (customers are created with their first integration)", customerID, ErrNotFound)
	}
	return nil
}

// CustomerWebhook returns a customer's webhook URL and opens its signing secret; url
// is "" when the customer has no webhook.
func (s *Store) CustomerWebhook(ctx context.Context, id string, box *secret.Box) (url string, secretValue []byte, err error) {
	var u, keyID sql.NullString
	var sealed []byte
	err = s.db.QueryRowContext(ctx, `SELECT webhook_url, webhook_secret, webhook_key_id FROM customers WHERE id = ?`, id).Scan(&u, &sealed, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("customer %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", nil, fmt.Errorf("webhook of customer %s: %w", id, err)
	}
	if u.String == "" {
		return "", nil, nil
	}
	if sealed == nil {
		return "", nil, fmt.Errorf("webhook of customer %s: no signing secret stored", id)
	}
	if box == nil {
		return "", nil, fmt.Errorf("webhook secret of customer %s: %w", id, secret.ErrNoKey)
	}
	if keyID.String != box.KeyID() {
		return "", nil, fmt.Errorf("webhook secret of customer %s: it was sealed with key %s but the configured key is %s; set the key it was stored with", id, keyID.String, box.KeyID())
	}
	plain, err := box.Open(sealed, webhookAD(id))
	if err != nil {
		return "", nil, fmt.Errorf("webhook secret of customer %s: %w", id, err)
	}
	return u.String, plain, nil
}
