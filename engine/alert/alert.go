// Package alert is the failure policy of the Retriever. After each sync run of an
// integration object it logs a failure, raises alerts (the alerts table, the log, the
// operator's webhook and the customer's webhook) and disables an integration whose
// credentials were refused or that keeps failing. Alerts are raised once per failure
// streak, not once per failed run, so a provider that is down does not flood anyone.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Outcome is what the pipeline reports after each sync run of one integration object.
type Outcome struct {
	IntegrationID, CustomerID, Provider, Type string
	// Run is the finished run: its Status, ErrorClass, Error and ID are used.
	Run *store.Run
	// ConsecutiveFailures of this integration object, after this run.
	ConsecutiveFailures int
	// PreviousFailures is the object's consecutive failures before this run.
	PreviousFailures int
}

// Policy decides what a finished run sets off. It is safe for concurrent use.
type Policy struct {
	Store *store.Store
	// Box opens customers' webhook secrets. When nil, customer webhooks are not sent
	// (a warning is logged); their deliveries stay pending for a Flush that has a key.
	Box *secret.Box
	// Operator receives every alert; nil for none.
	Operator *Webhook
	// DisableAfter is the number of consecutive failed runs of an integration object
	// that disables its integration; 0 never does. Auth failures disable at once.
	DisableAfter int
	Logger       *slog.Logger
	// HTTPClient posts webhooks; nil is a client with a 10 s timeout that does not
	// follow redirects.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// OnAlert, when set, is told of each alert raised (the daemon counts them).
	OnAlert func(*store.Alert)

	// backoff is the wait before each quick retry of a delivery (tests shorten it).
	backoff []time.Duration

	once   sync.Once
	client *http.Client
}

// Defaults of the policy.
const (
	// DefaultDisableAfter is the threshold DisableAfterFromEnv uses when unset.
	DefaultDisableAfter = 10
	// QuickAttempts is how many times a delivery is tried right away.
	QuickAttempts = 3
	// MaxAttempts is how many times a delivery is tried in all before it is given up.
	MaxAttempts = QuickAttempts + 7
	// maxMessage bounds an alert's message (bytes).
	maxMessage = 4000
	// claimLease is how long a flushing process holds a delivery it is sending.
	claimLease = 2 * time.Minute
)

// defaultBackoff is the wait before the 2nd and 3rd quick attempts: about 1 s in all.
var defaultBackoff = []time.Duration{250 * time.Millisecond, 750 * time.Millisecond}

// retryDelays is the wait before each flush retry once the quick attempts failed:
// 1m, 5m, 30m, 2h, 6h, 12h, 24h, then the delivery is given up (about 45 h in all).
var retryDelays = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// nextAttempt is when a flush retries a delivery that failed attempts times; zero
// gives up.
func nextAttempt(now time.Time, attempts int) time.Time {
	i := max(attempts-QuickAttempts, 0)
	if attempts >= MaxAttempts || i >= len(retryDelays) {
		return time.Time{}
	}
	return now.Add(retryDelays[i])
}

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Policy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Policy) httpClient() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	p.once.Do(func() {
		p.client = &http.Client{
			Timeout: 10 * time.Second,
			// A redirected POST turns into a GET without its body: treat 3xx as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return p.client
}

func (p *Policy) quickBackoff() []time.Duration {
	if p.backoff != nil {
		return p.backoff
	}
	return defaultBackoff
}

// RunFinished applies the policy to a finished run:
//   - failed: a warning is logged; the first failure of a streak raises sync_failed;
//     an auth failure, or DisableAfter consecutive failures, disables the integration
//     and raises integration_disabled (once, however many objects fail);
//   - succeeded after failures: raises recovered;
//   - cancelled (or anything else): nothing.
//
// Alerts and integration status are written even if ctx is cancelled meanwhile; ctx
// only bounds the webhook attempts, and what they do not deliver a Flush retries.
// Delivery failures are logged and recorded, not returned.
func (p *Policy) RunFinished(ctx context.Context, o Outcome) error {
	if o.Run == nil {
		return nil
	}
	switch o.Run.Status {
	case store.RunFailed:
		return p.failed(ctx, o)
	case store.RunSucceeded:
		if o.PreviousFailures <= 0 {
			return nil
		}
		if err := p.complete(ctx, &o); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s of %s syncs again, after %d failed run%s", o.Type, o.IntegrationID, o.PreviousFailures, plural(o.PreviousFailures))
		return p.raise(ctx, o, store.AlertRecovered, "", msg)
	}
	return nil
}

func (p *Policy) failed(ctx context.Context, o Outcome) error {
	cerr := p.complete(ctx, &o)
	run := o.Run
	p.logger().Warn("sync run failed", "integration", o.IntegrationID, "customer", o.CustomerID, "provider", o.Provider, "type", o.Type,
		"run", run.ID, "class", run.ErrorClass, "consecutive_failures", o.ConsecutiveFailures, "error", run.Error)
	if cerr != nil {
		return cerr
	}
	var errs []error
	// Only the first failure of a streak alerts (<= 1: a caller that does not count
	// failures gets an alert per failure rather than none).
	if o.ConsecutiveFailures <= 1 {
		errs = append(errs, p.raise(ctx, o, store.AlertSyncFailed, run.ErrorClass, run.Error))
	}
	if reason := p.disableReason(o); reason != "" {
		changed, err := p.Store.DisableIntegration(context.WithoutCancel(ctx), o.IntegrationID, reason)
		switch {
		case err != nil:
			errs = append(errs, err)
		case changed:
			p.logger().Warn("integration disabled", "integration", o.IntegrationID, "customer", o.CustomerID, "reason", reason)
			errs = append(errs, p.raise(ctx, o, store.AlertIntegrationDisabled, run.ErrorClass, reason))
		}
	}
	return errors.Join(errs...)
}

// disableReason says why the run disables its integration, or "" when it does not.
func (p *Policy) disableReason(o Outcome) string {
	run := o.Run
	switch {
	case run.ErrorClass == spec.ClassAuth:
		return fmt.Sprintf("%s refused the credentials (auth) while syncing %s: %s", o.Provider, o.Type, run.Error)
	case p.DisableAfter > 0 && o.ConsecutiveFailures >= p.DisableAfter:
		class := run.ErrorClass
		if class == "" {
			class = "unclassified"
		}
		return fmt.Sprintf("%d consecutive failed runs of %s (%s); last: %s", o.ConsecutiveFailures, o.Type, class, run.Error)
	}
	return ""
}

// complete fills the customer and provider from the store when the caller left them out.
func (p *Policy) complete(ctx context.Context, o *Outcome) error {
	if o.CustomerID != "" && o.Provider != "" {
		return nil
	}
	st, err := p.Store.IntegrationState(context.WithoutCancel(ctx), o.IntegrationID)
	if err != nil {
		return fmt.Errorf("alert policy: %w", err)
	}
	if o.CustomerID == "" {
		o.CustomerID = st.CustomerID
	}
	if o.Provider == "" {
		o.Provider = st.Provider
	}
	return nil
}

// raise records an alert with a delivery per webhook, logs it, and tries each
// delivery right away.
func (p *Policy) raise(ctx context.Context, o Outcome, kind, class, msg string) error {
	wctx := context.WithoutCancel(ctx)
	now := p.now()
	a := &store.Alert{CreatedAt: now, Kind: kind, CustomerID: o.CustomerID, IntegrationID: o.IntegrationID, Provider: o.Provider,
		Type: o.Type, RunID: o.Run.ID, Class: class, Message: truncate(msg, maxMessage)}

	hooks := map[string]*Webhook{}
	var deliveries []store.NewDelivery
	if p.Operator != nil {
		hooks[store.TargetOperator] = p.Operator
		deliveries = append(deliveries, store.NewDelivery{Target: store.TargetOperator, URL: p.Operator.URL, NextAttemptAt: now})
	}
	if nd, hook := p.customerDelivery(wctx, o.CustomerID, now); nd != nil {
		deliveries = append(deliveries, *nd)
		if hook != nil {
			hooks[store.TargetCustomer] = hook
		}
	}
	if err := p.Store.CreateAlert(wctx, a, deliveries); err != nil {
		return err
	}
	if p.OnAlert != nil {
		p.OnAlert(a)
	}
	level := slog.LevelWarn
	if kind == store.AlertRecovered {
		level = slog.LevelInfo
	}
	p.logger().Log(wctx, level, "alert", "id", a.ID, "kind", a.Kind, "integration", a.IntegrationID, "customer", a.CustomerID,
		"provider", a.Provider, "type", a.Type, "run", a.RunID, "class", a.Class, "message", a.Message)

	body, err := PayloadOf(a).encode()
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range a.Deliveries {
		hook := hooks[d.Target]
		if hook == nil {
			continue // not attemptable now; a Flush with what it lacks sends it
		}
		errs = append(errs, p.deliverQuick(ctx, a, d, hook, body))
	}
	return errors.Join(errs...)
}

// customerDelivery is the delivery to the customer's webhook, if it has one, and the
// webhook when it can be sent now.
func (p *Policy) customerDelivery(ctx context.Context, customerID string, now time.Time) (*store.NewDelivery, *Webhook) {
	c, err := p.Store.Customer(ctx, customerID)
	if err != nil {
		p.logger().Warn("customer webhook skipped", "customer", customerID, "error", err)
		return nil, nil
	}
	if c.WebhookURL == "" {
		return nil, nil
	}
	nd := &store.NewDelivery{Target: store.TargetCustomer, URL: c.WebhookURL, NextAttemptAt: now}
	if p.Box == nil {
		nd.LastError = "not sent: no secret key to open the customer's webhook secret"
		p.logger().Warn("customer webhook skipped: no secret key configured to open its signing secret; the delivery stays pending",
			"customer", customerID, "webhook", hostOf(c.WebhookURL))
		return nd, nil
	}
	url, sec, err := p.Store.CustomerWebhook(ctx, customerID, p.Box)
	if err != nil {
		nd.LastError = "not sent: " + err.Error()
		p.logger().Warn("customer webhook skipped; the delivery stays pending", "customer", customerID, "webhook", hostOf(c.WebhookURL), "error", err)
		return nd, nil
	}
	nd.URL = url
	return nd, &Webhook{URL: url, Secret: sec}
}

// deliverQuick tries a delivery up to QuickAttempts times with a short backoff, then
// leaves it to Flush. A timeout ends the quick attempts at once, so a receiver that
// hangs costs one client timeout, not three.
func (p *Policy) deliverQuick(ctx context.Context, a *store.Alert, d store.Delivery, hook *Webhook, body []byte) error {
	backoff := p.quickBackoff()
	for i := 0; i < QuickAttempts; i++ {
		if i > 0 && len(backoff) > 0 && !sleep(ctx, backoff[min(i-1, len(backoff)-1)]) {
			// Cancelled while waiting: the delivery is due now, for the next Flush.
			return nil
		}
		timeout, err := p.post(ctx, hook, a.Kind, body)
		d.Attempts++
		more := i < QuickAttempts-1 && !timeout && ctx.Err() == nil
		done, rerr := p.record(ctx, a, d, hook, err, more)
		if rerr != nil || done || !more {
			return rerr
		}
	}
	return nil
}

// record stores the result of one attempt and reports whether the delivery is settled
// (delivered or given up). more says quick attempts follow a failure.
func (p *Policy) record(ctx context.Context, a *store.Alert, d store.Delivery, hook *Webhook, err error, more bool) (bool, error) {
	now := p.now()
	res := store.DeliveryResult{URL: hook.URL, Attempted: true, At: now}
	log := p.logger().With("alert", a.ID, "kind", a.Kind, "target", d.Target, "webhook", hostOf(hook.URL), "attempt", d.Attempts)
	if err == nil {
		res.Delivered = true
		log.Info("alert delivered")
	} else {
		res.Error = err.Error()
		if more {
			res.NextAttemptAt = now // due at once should the quick attempts be cut short
		} else {
			res.NextAttemptAt = nextAttempt(now, d.Attempts)
		}
		switch {
		case res.NextAttemptAt.IsZero():
			log.Error("alert delivery given up", "error", res.Error)
		case more:
			log.Debug("alert delivery failed; retrying", "error", res.Error)
		default:
			log.Warn("alert delivery failed", "error", res.Error, "next_attempt_at", res.NextAttemptAt)
		}
	}
	if rerr := p.Store.RecordDelivery(context.WithoutCancel(ctx), d.ID, res); rerr != nil {
		return true, rerr
	}
	return err == nil || res.NextAttemptAt.IsZero(), nil
}

// Flush retries the undelivered webhook deliveries that are due, once each. Call it
// periodically (the daemon) or after a sync (the CLI). Operator deliveries need
// Operator set and customer deliveries need Box; the others wait.
func (p *Policy) Flush(ctx context.Context) error {
	var targets []string
	if p.Operator != nil {
		targets = append(targets, store.TargetOperator)
	}
	if p.Box != nil {
		targets = append(targets, store.TargetCustomer)
	}
	if len(targets) == 0 {
		return nil
	}
	var errs []error
	for round := 0; round < 100; round++ {
		now := p.now()
		due, err := p.Store.DueDeliveries(ctx, now, targets, 100)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if len(due) == 0 {
			break
		}
		for _, d := range due {
			if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
			if err := p.flushOne(ctx, d, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Policy) flushOne(ctx context.Context, d store.Delivery, now time.Time) error {
	ok, err := p.Store.ClaimDelivery(ctx, d, now.Add(claimLease))
	if err != nil || !ok {
		return err
	}
	a, err := p.Store.Alert(ctx, d.AlertID)
	if err != nil {
		return err
	}
	var hook *Webhook
	switch d.Target {
	case store.TargetOperator:
		hook = p.Operator
	case store.TargetCustomer:
		url, sec, err := p.Store.CustomerWebhook(ctx, a.CustomerID, p.Box)
		switch {
		case err != nil:
			d.Attempts++
			_, rerr := p.record(ctx, a, d, &Webhook{URL: d.URL}, fmt.Errorf("not sent: %w", err), false)
			return rerr
		case url == "":
			p.logger().Info("alert delivery dropped: the customer's webhook was removed", "alert", a.ID, "customer", a.CustomerID)
			return p.Store.RecordDelivery(ctx, d.ID, store.DeliveryResult{Error: "dropped: the customer's webhook was removed"})
		}
		hook = &Webhook{URL: url, Secret: sec}
	default:
		return p.Store.RecordDelivery(ctx, d.ID, store.DeliveryResult{Error: "dropped: unknown target " + d.Target})
	}
	body, err := PayloadOf(a).encode()
	if err != nil {
		return err
	}
	_, perr := p.post(ctx, hook, a.Kind, body)
	d.Attempts++
	_, err = p.record(ctx, a, d, hook, perr, false)
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Rejected disables an integration whose configuration cannot be loaded (a bad
// override), and raises integration_disabled. Only that integration stops: the rest of
// the catalog and other customers keep syncing.
func (p *Policy) Rejected(ctx context.Context, integrationID string, cause error) error {
	o := Outcome{IntegrationID: integrationID, Run: &store.Run{}}
	if err := p.complete(ctx, &o); err != nil {
		return err
	}
	reason := "its configuration was refused: " + cause.Error()
	changed, err := p.Store.DisableIntegration(context.WithoutCancel(ctx), integrationID, reason)
	if err != nil || !changed {
		return err
	}
	p.logger().Warn("integration disabled", "integration", integrationID, "customer", o.CustomerID, "reason", reason)
	return p.raise(ctx, o, store.AlertIntegrationDisabled, spec.ClassPermanent, reason)
}
