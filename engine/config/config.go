// Package config reads intake.yaml, the configuration of the daemon (intake run):
// where the database and the specs are, how many workers run, leases, the schedule,
// the admin API, alerts, shutdown and logging.
//
// Loading is strict, like connector specs: an unknown key, a value of the wrong type
// or out of range is an error that names the file, line, column and key, and every
// problem is reported at once. Values come, in order of precedence, from command-line
// flags, then the file, then environment variables, then defaults (Load). Strings in
// the file may read the environment with ${NAME} (an unset variable is an error that
// names it) or ${NAME:-default}; $$ is a literal $.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/alert"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Config is the daemon's configuration. Every field is documented in docs/config.md.
type Config struct {
	// Store is the database: a SQLite file (optionally "sqlite:PATH") or a
	// postgres:// URL.
	Store string `yaml:"store"`
	// Connectors is the directory of connector specs (they replace bundled ones).
	Connectors string `yaml:"connectors"`
	// Customers is the directory of per-customer overrides, CUSTOMER/PROVIDER.yaml.
	Customers string `yaml:"customers"`
	// KeyFile holds the key that encrypts credentials; "" uses INTAKE_SECRET_KEY,
	// INTAKE_SECRET_KEY_FILE, then the default key file.
	KeyFile string `yaml:"key_file"`
	// Workers is how many integrations this daemon syncs at once.
	Workers       int                 `yaml:"workers"`
	Lease         Lease               `yaml:"lease"`
	Schedule      Schedule            `yaml:"schedule"`
	Providers     map[string]Provider `yaml:"providers"`
	Admin         Admin               `yaml:"admin"`
	Alerts        Alerts              `yaml:"alerts"`
	ShutdownGrace Duration            `yaml:"shutdown_grace"`
	Log           Log                 `yaml:"log"`

	// File is the file the configuration was read from, "" when none.
	File string `yaml:"-"`
	// origins says where each key's value came from, for errors.
	origins map[string]origin
}

// Lease is how long a daemon holds an integration it syncs without renewing it, and
// how often it renews it.
type Lease struct {
	Duration  Duration `yaml:"duration"`
	Heartbeat Duration `yaml:"heartbeat"`
}

// Schedule tunes when integration objects are due.
type Schedule struct {
	// DefaultFrequency applies to interaction types whose spec and overrides set no
	// sync_every.
	DefaultFrequency Duration `yaml:"default_frequency"`
	// Jitter delays each object by up to this fraction of its frequency (a fixed
	// amount per object), so objects synced together spread out.
	Jitter float64 `yaml:"jitter"`
	// RetryMin is the wait after a first failed run; it doubles with each further
	// consecutive failure, up to RetryMax.
	RetryMin Duration `yaml:"retry_min"`
	RetryMax Duration `yaml:"retry_max"`
}

// Provider holds per-provider limits.
type Provider struct {
	// Concurrency is how many integrations of the provider this daemon syncs at once.
	Concurrency int `yaml:"concurrency"`
}

// Admin is the admin HTTP API.
type Admin struct {
	// Listen is host:port; "" turns the API off.
	Listen string `yaml:"listen"`
	// Token is the bearer token every endpoint but /healthz and the OAuth pages
	// requires; "" makes the daemon generate one at start and print it.
	Token string `yaml:"token"`
	// PublicURL is where customers' browsers reach the OAuth endpoints.
	PublicURL string `yaml:"public_url"`
}

// Alerts configures the operator's webhook and the failure policy.
type Alerts struct {
	Webhook *Webhook `yaml:"webhook"`
	// DisableAfter consecutive failed runs of an object disable its integration; 0
	// never does.
	DisableAfter int `yaml:"disable_after"`
	// FlushEvery is how often undelivered webhook deliveries are retried.
	FlushEvery Duration `yaml:"flush_every"`
}

// Webhook is the operator's alert webhook. Secret and SecretFile are exclusive.
type Webhook struct {
	URL        string `yaml:"url"`
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// Log is the daemon's log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Duration is a duration written like the specs' (30s, 5m, 1h30m, 7d).
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return spec.FormatDuration(time.Duration(d)) }

// MarshalText prints the duration as it is written.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults.
const (
	DefaultStore         = "intake.db"
	DefaultListen        = "127.0.0.1:8780"
	DefaultWorkers       = 4
	DefaultLease         = 2 * time.Minute
	DefaultHeartbeat     = 30 * time.Second
	DefaultJitter        = 0.1
	DefaultRetryMin      = time.Minute
	DefaultRetryMax      = time.Hour
	DefaultFlushEvery    = time.Minute
	DefaultShutdownGrace = 30 * time.Second
	// MinTokenLen is the shortest admin token accepted.
	MinTokenLen = 16
)

// Default returns the configuration with every default and nothing else: SQLite in
// ./intake.db, ./connectors, ./customers, the admin API on 127.0.0.1:8780.
func Default() *Config {
	return &Config{
		Store:         DefaultStore,
		Connectors:    "connectors",
		Customers:     "customers",
		Workers:       DefaultWorkers,
		Lease:         Lease{Duration: Duration(DefaultLease), Heartbeat: Duration(DefaultHeartbeat)},
		Schedule:      Schedule{DefaultFrequency: Duration(spec.DefaultSyncEvery), Jitter: DefaultJitter, RetryMin: Duration(DefaultRetryMin), RetryMax: Duration(DefaultRetryMax)},
		Admin:         Admin{Listen: DefaultListen},
		Alerts:        Alerts{DisableAfter: alert.DefaultDisableAfter, FlushEvery: Duration(DefaultFlushEvery)},
		ShutdownGrace: Duration(DefaultShutdownGrace),
		Log:           Log{Level: "info", Format: "text"},
		origins:       map[string]origin{},
	}
}

// Flags are values given on the command line; nil fields were not given. They win
// over the file and the environment.
type Flags struct {
	Store, Connectors, Customers, KeyFile *string
	LogLevel, LogFormat                   *string
	Listen                                *string
	Workers                               *int
	ShutdownGrace                         *time.Duration
}

// Options say where Load finds the configuration.
type Options struct {
	// File is intake.yaml's path; "" reads no file (defaults, environment and flags).
	File string
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	Flags  Flags
}

// Environment variables read as defaults (the file and flags win over them). They
// are the ones the other intake commands read, so one environment serves both.
var envKeys = []struct{ env, key string }{
	{"INTAKE_DB", "store"},
	{"INTAKE_CONNECTORS", "connectors"},
	{"INTAKE_CUSTOMERS", "customers"},
	{"INTAKE_LOG_LEVEL", "log.level"},
	{"INTAKE_LOG_FORMAT", "log.format"},
	{"INTAKE_ADMIN_TOKEN", "admin.token"},
	{alert.EnvDisableAfter, "alerts.disable_after"},
}

// Load builds the configuration: defaults, then the environment, then the file,
// then flags, and validates the result. The error lists every problem, each with
// the file, line and column (or the flag or variable) that set the value.
func Load(opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	var errs spec.Errors
	for _, e := range envKeys {
		if v := getenv(e.env); v != "" {
			if err := c.set(e.key, v); err != nil {
				errs = append(errs, &spec.Error{File: "environment variable " + e.env, Path: e.key, Msg: err.Error()})
				continue
			}
			c.origins[e.key] = origin{source: "environment variable " + e.env}
		}
	}
	if hook, err := alert.OperatorFromEnv(getenv); err != nil {
		errs = append(errs, &spec.Error{File: "environment", Path: "alerts.webhook", Msg: err.Error()})
	} else if hook != nil {
		c.Alerts.Webhook = &Webhook{URL: hook.URL, Secret: string(hook.Secret)}
		c.origins["alerts.webhook"] = origin{source: "environment variable " + alert.EnvWebhookURL}
	}
	if opts.File != "" {
		c.File = opts.File
		data, err := os.ReadFile(opts.File)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		errs = append(errs, c.decodeFile(opts.File, data, getenv)...)
	}
	errs = append(errs, c.applyFlags(opts.Flags)...)
	if len(errs) == 0 {
		errs = c.validate()
	}
	if len(errs) > 0 {
		// File order, as the spec loader reports: what the file says, then the
		// flags and variables (no position).
		sort.SliceStable(errs, func(i, j int) bool {
			a, b := errs[i], errs[j]
			if (a.Line == 0) != (b.Line == 0) {
				return a.Line != 0
			}
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, errs
	}
	return c, nil
}

// set assigns a string value (from the environment or a flag) to a key.
func (c *Config) set(key, v string) error {
	switch key {
	case "store":
		c.Store = v
	case "connectors":
		c.Connectors = v
	case "customers":
		c.Customers = v
	case "key_file":
		c.KeyFile = v
	case "log.level":
		c.Log.Level = v
	case "log.format":
		c.Log.Format = v
	case "admin.token":
		c.Admin.Token = v
	case "admin.listen":
		c.Admin.Listen = v
	case "alerts.disable_after":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("must be a whole number of consecutive failed runs, 0 for never (got %q)", v)
		}
		c.Alerts.DisableAfter = n
	default:
		return fmt.Errorf("internal: no key %s", key)
	}
	return nil
}

func (c *Config) applyFlags(f Flags) spec.Errors {
	var errs spec.Errors
	str := []struct {
		v         *string
		flag, key string
	}{
		{f.Store, "--db", "store"}, {f.Connectors, "--connectors", "connectors"}, {f.Customers, "--customers", "customers"},
		{f.KeyFile, "--key-file", "key_file"}, {f.LogLevel, "--log-level", "log.level"}, {f.LogFormat, "--log-format", "log.format"},
		{f.Listen, "--listen", "admin.listen"},
	}
	for _, s := range str {
		if s.v == nil {
			continue
		}
		if err := c.set(s.key, *s.v); err != nil {
			errs = append(errs, &spec.Error{File: "flag " + s.flag, Path: s.key, Msg: err.Error()})
		}
		c.origins[s.key] = origin{source: "flag " + s.flag}
	}
	if f.Workers != nil {
		c.Workers = *f.Workers
		c.origins["workers"] = origin{source: "flag --workers"}
	}
	if f.ShutdownGrace != nil {
		c.ShutdownGrace = Duration(*f.ShutdownGrace)
		c.origins["shutdown_grace"] = origin{source: "flag --shutdown-grace"}
	}
	return errs
}

// origin is where a key's value was set: a file position, a flag or a variable.
type origin struct {
	source    string // file name, "flag --x" or "environment variable X"
	line, col int
	// env is the variable a file value was read from (${NAME}): its value is not
	// quoted in errors, since it is often a secret.
	env string
}

// errAt reports a problem with key.
func (c *Config) errAt(key, format string, args ...any) *spec.Error {
	o, ok := c.origins[key]
	if !ok {
		// A default, or a key set under a parent that has a position.
		for k := key; !ok && strings.Contains(k, "."); {
			k = k[:strings.LastIndex(k, ".")]
			o, ok = c.origins[k]
		}
	}
	e := &spec.Error{Path: key, Msg: fmt.Sprintf(format, args...)}
	if ok {
		e.File, e.Line, e.Col = o.source, o.line, o.col
	} else {
		e.File = "default"
	}
	return e
}

// quoted shows a value in an error, unless it came from the environment.
func (c *Config) quoted(key, v string) string {
	if o := c.origins[key]; o.env != "" {
		return "the value of $" + o.env
	}
	return strconv.Quote(v)
}

func (c *Config) validate() spec.Errors {
	var errs spec.Errors
	fail := func(key, format string, args ...any) { errs = append(errs, c.errAt(key, format, args...)) }

	switch {
	case strings.TrimPrefix(c.Store, "sqlite:") == "":
		fail("store", "is empty: give a SQLite file (intake.db) or a postgres:// URL")
	case store.IsPostgres(c.Store):
		u, err := url.Parse(c.Store)
		if err != nil || u.Host == "" && u.Query().Get("host") == "" {
			fail("store", "is not a valid PostgreSQL URL: use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=...")
		}
	case strings.Contains(c.Store, "://"):
		fail("store", "%s: use a SQLite file path or a postgres:// URL", c.quoted("store", store.RedactDSN(c.Store)))
	}
	for _, k := range []struct{ key, v string }{{"connectors", c.Connectors}, {"customers", c.Customers}} {
		if k.v == "" {
			fail(k.key, "is empty: give a directory (it may not exist yet)")
		}
	}
	if c.Workers < 1 || c.Workers > 1000 {
		fail("workers", "must be between 1 and 1000 (got %d)", c.Workers)
	}
	if c.Lease.Duration.D() < time.Second {
		fail("lease.duration", "must be at least 1s (got %s)", c.Lease.Duration)
	}
	if c.Lease.Heartbeat.D() <= 0 {
		fail("lease.heartbeat", "must be positive")
	} else if c.Lease.Heartbeat.D()*2 > c.Lease.Duration.D() {
		fail("lease.heartbeat", "(%s) must be at most half of lease.duration (%s), so that a lease survives one missed heartbeat", c.Lease.Heartbeat, c.Lease.Duration)
	}
	if c.Schedule.DefaultFrequency.D() < time.Second {
		fail("schedule.default_frequency", "must be at least 1s (got %s)", c.Schedule.DefaultFrequency)
	}
	if c.Schedule.Jitter < 0 || c.Schedule.Jitter > 0.5 {
		fail("schedule.jitter", "must be a fraction of the frequency between 0 and 0.5 (got %g)", c.Schedule.Jitter)
	}
	if c.Schedule.RetryMin.D() < time.Second {
		fail("schedule.retry_min", "must be at least 1s (got %s)", c.Schedule.RetryMin)
	}
	if c.Schedule.RetryMax.D() < c.Schedule.RetryMin.D() {
		fail("schedule.retry_max", "(%s) must be at least schedule.retry_min (%s)", c.Schedule.RetryMax, c.Schedule.RetryMin)
	}
	names := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if p := c.Providers[name]; p.Concurrency < 1 {
			fail("providers."+name+".concurrency", "must be at least 1 (got %d); remove the provider for no cap beyond workers", p.Concurrency)
		}
	}
	if c.Admin.Listen != "" {
		host, port, err := net.SplitHostPort(c.Admin.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			fail("admin.listen", "%s is not HOST:PORT (e.g. 127.0.0.1:8780, or :8780 for every interface)", c.quoted("admin.listen", c.Admin.Listen))
		case perr != nil || n < 0 || n > 65535:
			fail("admin.listen", "port %q is not a number from 0 to 65535", port)
		case host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ "):
			fail("admin.listen", "host %q is not a host name or IP address", host)
		}
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < MinTokenLen {
		fail("admin.token", "must be at least %d characters (got %d); generate one with `openssl rand -hex 32`", MinTokenLen, len(c.Admin.Token))
	}
	if c.Admin.PublicURL != "" {
		if u, err := url.Parse(c.Admin.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("admin.public_url", "must be an absolute http:// or https:// URL (got %s)", c.quoted("admin.public_url", c.Admin.PublicURL))
		}
	}
	if w := c.Alerts.Webhook; w != nil {
		switch {
		case w.URL == "":
			fail("alerts.webhook.url", "is required with alerts.webhook")
		case w.Secret != "" && w.SecretFile != "":
			fail("alerts.webhook", "set secret or secret_file, not both")
		case w.Secret == "" && w.SecretFile == "":
			fail("alerts.webhook", "needs a signing secret: secret (e.g. ${INTAKE_ALERT_WEBHOOK_SECRET}) or secret_file")
		default:
			sec := []byte(w.Secret)
			key := "alerts.webhook.secret"
			if w.SecretFile != "" {
				key = "alerts.webhook.secret_file"
				var err error
				if sec, err = alert.ReadSecretFile(w.SecretFile, nil); err != nil {
					fail(key, "%v", errors.Unwrap(err))
					break
				}
			}
			if err := alert.ValidateWebhook(w.URL, sec); err != nil {
				k := "alerts.webhook.url"
				if strings.Contains(err.Error(), "secret") {
					k = key
				}
				fail(k, "%v", err)
			}
		}
	}
	if c.Alerts.DisableAfter < 0 {
		fail("alerts.disable_after", "must be 0 (never) or more (got %d)", c.Alerts.DisableAfter)
	}
	if c.Alerts.FlushEvery.D() < time.Second {
		fail("alerts.flush_every", "must be at least 1s (got %s)", c.Alerts.FlushEvery)
	}
	if c.ShutdownGrace.D() < time.Second {
		fail("shutdown_grace", "must be at least 1s (got %s)", c.ShutdownGrace)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		fail("log.level", "must be debug, info, warn or error (got %s)", c.quoted("log.level", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		fail("log.format", "must be text or json (got %s)", c.quoted("log.format", c.Log.Format))
	}
	return errs
}

// OperatorWebhook is the operator's alert webhook with its secret read, nil when
// none is configured. Call it on a validated Config.
func (c *Config) OperatorWebhook() (*alert.Webhook, error) {
	w := c.Alerts.Webhook
	if w == nil {
		return nil, nil
	}
	sec := []byte(w.Secret)
	if w.SecretFile != "" {
		var err error
		if sec, err = alert.ReadSecretFile(w.SecretFile, nil); err != nil {
			return nil, fmt.Errorf("alerts.webhook.secret_file: %w", err)
		}
	}
	return &alert.Webhook{URL: w.URL, Secret: sec}, nil
}

// ProviderCaps is the concurrency cap of each provider that has one.
func (c *Config) ProviderCaps() map[string]int {
	out := make(map[string]int, len(c.Providers))
	for name, p := range c.Providers {
		out[name] = p.Concurrency
	}
	return out
}

// StoreShown is Store with any password hidden, for logs.
func (c *Config) StoreShown() string { return store.RedactDSN(c.Store) }

// resolve makes a path the file set relative to the file's directory.
func resolve(file, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}
