package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

// Webhook is where alerts are posted, and the secret that signs them. Its String,
// GoString and LogValue show the host only: never the secret, nor a URL path that may
// carry a token.
type Webhook struct {
	URL    string
	Secret []byte
}

func (w Webhook) String() string                 { return "webhook " + hostOf(w.URL) }
func (w Webhook) GoString() string               { return "alert.Webhook{" + hostOf(w.URL) + "}" }
func (w Webhook) LogValue() slog.Value           { return slog.StringValue(hostOf(w.URL)) }
func (w Webhook) validate() error                { return ValidateWebhook(w.URL, w.Secret) }
func (w Webhook) sign(ts int64, b []byte) string { return Sign(w.Secret, ts, b) }

// Webhook request headers.
const (
	HeaderEvent     = "X-Intake-Event"     // the alert kind
	HeaderTimestamp = "X-Intake-Timestamp" // unix seconds when this attempt was sent
	HeaderSignature = "X-Intake-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// MinSecretLen is the shortest webhook signing secret accepted, in bytes.
const MinSecretLen = 16

// Environment variables that configure the operator's webhook and the policy.
const (
	EnvWebhookURL        = "INTAKE_ALERT_WEBHOOK_URL"
	EnvWebhookSecret     = "INTAKE_ALERT_WEBHOOK_SECRET"
	EnvWebhookSecretFile = "INTAKE_ALERT_WEBHOOK_SECRET_FILE"
	EnvDisableAfter      = "INTAKE_DISABLE_AFTER"
)

// Payload is the JSON body of a webhook: one alert.
type Payload struct {
	ID              int64  `json:"id"`
	Kind            string `json:"kind"`
	CreatedAt       string `json:"created_at"` // RFC 3339, UTC
	Customer        string `json:"customer"`
	Integration     string `json:"integration"`
	Provider        string `json:"provider"`
	InteractionType string `json:"interaction_type"`
	RunID           int64  `json:"run_id"`
	Class           string `json:"class"`
	Message         string `json:"message"`
}

// PayloadOf is the webhook body of an alert.
func PayloadOf(a *store.Alert) Payload {
	return Payload{ID: a.ID, Kind: a.Kind, CreatedAt: a.CreatedAt.UTC().Format(time.RFC3339), Customer: a.CustomerID,
		Integration: a.IntegrationID, Provider: a.Provider, InteractionType: a.Type, RunID: a.RunID, Class: a.Class, Message: a.Message}
}

func (pl Payload) encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pl); err != nil {
		return nil, fmt.Errorf("alert %d payload: %w", pl.ID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Sign is the X-Intake-Signature of body sent at timestamp (unix seconds):
// "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>." + body)).
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post makes one signed delivery attempt. 2xx is success; the error never holds the
// secret nor the URL's path or query. timeout reports an attempt that timed out.
func (p *Policy) post(ctx context.Context, hook *Webhook, kind string, body []byte) (timeout bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: invalid URL", hostOf(hook.URL))
	}
	ts := p.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "intake-alerts/1")
	req.Header.Set(HeaderEvent, kind)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, hook.sign(ts, body))
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return isTimeout(err), safeError(hook.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("POST %s: HTTP %s", hostOf(hook.URL), resp.Status)
	}
	return false, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// safeError describes a failed request by the URL's host only: webhook URLs often
// carry a token in their path.
func safeError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("POST %s: %v", hostOf(raw), err)
}

// hostOf is the scheme and host of a URL, for logs and errors.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// ValidateWebhook checks a webhook URL (absolute http or https) and its signing secret
// (at least MinSecretLen bytes). Errors never quote the secret.
func ValidateWebhook(rawURL string, secret []byte) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook URL must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return fmt.Errorf("webhook URL must not carry a user or password; alerts are authenticated by their signature")
	}
	if len(secret) < MinSecretLen {
		return fmt.Errorf("webhook secret must be at least %d bytes (got %d); generate one with `openssl rand -hex 32`", MinSecretLen, len(secret))
	}
	return nil
}

// ReadSecretFile reads a webhook secret from a file, or from stdin when name is "-"
// (see secret.ReadFile).
func ReadSecretFile(name string, stdin io.Reader) ([]byte, error) {
	data, err := secret.ReadFile(name, stdin)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	return data, nil
}

// OperatorFromEnv reads the operator's webhook: INTAKE_ALERT_WEBHOOK_URL, signed with
// INTAKE_ALERT_WEBHOOK_SECRET or the content of INTAKE_ALERT_WEBHOOK_SECRET_FILE. It
// is nil, nil when no URL is set.
func OperatorFromEnv(getenv func(string) string) (*Webhook, error) {
	u, sec, file := getenv(EnvWebhookURL), getenv(EnvWebhookSecret), getenv(EnvWebhookSecretFile)
	if u == "" {
		if sec != "" || file != "" {
			return nil, fmt.Errorf("a webhook secret is set but %s is not", EnvWebhookURL)
		}
		return nil, nil
	}
	var secret []byte
	switch {
	case sec != "" && file != "":
		return nil, fmt.Errorf("set %s or %s, not both", EnvWebhookSecret, EnvWebhookSecretFile)
	case sec != "":
		secret = []byte(sec)
	case file != "":
		var err error
		if secret, err = ReadSecretFile(file, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvWebhookSecretFile, err)
		}
	default:
		return nil, fmt.Errorf("%s is set without a signing secret: set %s or %s", EnvWebhookURL, EnvWebhookSecret, EnvWebhookSecretFile)
	}
	w := &Webhook{URL: u, Secret: secret}
	if err := w.validate(); err != nil {
		return nil, fmt.Errorf("operator webhook (%s): %w", EnvWebhookURL, err)
	}
	return w, nil
}

// DisableAfterFromEnv reads INTAKE_DISABLE_AFTER: the consecutive failed runs that
// disable an integration (0 never), DefaultDisableAfter when unset.
func DisableAfterFromEnv(getenv func(string) string) (int, error) {
	v := getenv(EnvDisableAfter)
	if v == "" {
		return DefaultDisableAfter, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a number of consecutive failed runs, 0 for never", EnvDisableAfter, v)
	}
	return n, nil
}
