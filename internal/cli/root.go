// Package cli is the intake command line: it parses flags and wires engine packages.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Env is the process environment the CLI runs in; tests supply their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether a writer is an interactive terminal (progress bars).
	IsTerminal func(io.Writer) bool
}

type app struct {
	env        Env
	db         string
	connectors string
	customers  string
	keyFile    string
	logLevel   string
	logFormat  string
	logger     *slog.Logger
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(io.Writer) bool { return false }
	}
	a := &app{env: env}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(env.Stderr, "intake: "+ee.msg)
			}
			return ee.code
		}
		fmt.Fprintln(env.Stderr, "intake: "+err.Error())
		return 1
	}
	return 0
}

// exitError ends the command with a code, after output that already explained why.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "intake",
		Short: "intake pulls your customers' data out of their tools, declaratively",
		Long: `intake is a declarative connector engine. A provider is one YAML spec in
connectors/; an integration is one customer's connection to a provider; a sync
retrieves what changed, maps it with jq and stores it exactly once.

Start with the demo:   intake demo
Write a connector:     docs/tutorial.md
Run the daemon:        intake run (docs/operations.md)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&a.db, "db", a.envOr("INTAKE_DB", "intake.db"), "database: a SQLite file, or a postgres:// URL (env INTAKE_DB)")
	f.StringVar(&a.connectors, "connectors", a.envOr("INTAKE_CONNECTORS", "connectors"), "directory of connector specs; they replace bundled specs of the same provider (env INTAKE_CONNECTORS)")
	f.StringVar(&a.customers, "customers", a.envOr("INTAKE_CUSTOMERS", "customers"), "directory of per-customer overrides, CUSTOMER/PROVIDER.yaml (env INTAKE_CUSTOMERS)")
	f.StringVar(&a.keyFile, "key-file", "", "file holding the key that encrypts credentials (default: env INTAKE_SECRET_KEY, then env INTAKE_SECRET_KEY_FILE, then "+secret.DefaultKeyFile()+")")
	f.StringVar(&a.logLevel, "log-level", a.envOr("INTAKE_LOG_LEVEL", "warn"), "debug, info, warn or error (env INTAKE_LOG_LEVEL)")
	f.StringVar(&a.logFormat, "log-format", a.envOr("INTAKE_LOG_FORMAT", "text"), "text or json (env INTAKE_LOG_FORMAT)")
	root.AddCommand(a.validateCmd(), a.previewCmd(), a.integrationsCmd(), a.syncCmd(), a.runCmd(), a.interactionsCmd(), a.demoCmd(), a.keyCmd(), a.oauthCmd(), a.explainCmd(), a.changesCmd())
	root.AddCommand(a.alertCommands()...)
	root.AddCommand(a.entityCommands()...)
	return root
}

func (a *app) envOr(k, def string) string {
	if v := a.env.Getenv(k); v != "" {
		return v
	}
	return def
}

func (a *app) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch a.logFormat {
	case "text":
		a.logger = slog.New(slog.NewTextHandler(a.env.Stderr, opts))
	case "json":
		a.logger = slog.New(slog.NewJSONHandler(a.env.Stderr, opts))
	default:
		return fmt.Errorf("--log-format %q: use text or json", a.logFormat)
	}
	return nil
}

func (a *app) openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, a.db, store.WithLogger(a.logger))
}

func (a *app) box() (*secret.Box, error) {
	return secret.LoadBox(a.env.Getenv, a.keyFile)
}

// catalog loads bundled connectors and the connectors directory, warning about specs
// that do not load (they are refused, the rest keep working).
func (a *app) catalog() *spec.Catalog {
	cat := spec.LoadCatalog(a.connectors, connectors.FS)
	cat.CustomersDir = a.customers
	for _, p := range cat.Problems {
		a.logger.Warn("connector spec refused", "error", p.Error())
	}
	return cat
}

// settingsFlags collects --config K=V and --config-file FILE.
type settingsFlags struct {
	pairs []string
	files []string
}

func (s *settingsFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&s.pairs, "config", nil, "a config or credentials value, KEY=VALUE (repeatable). Prefer --config-file for secrets: command lines are visible to other users")
	cmd.Flags().StringArrayVar(&s.files, "config-file", nil, "YAML or JSON file of KEY: VALUE config and credentials; - reads standard input (repeatable)")
}

func (s *settingsFlags) resolve(conn *spec.Connector, stdin io.Reader) (spec.Settings, error) {
	vals := map[string]any{}
	for _, f := range s.files {
		m, err := readSettingsFile(f, stdin)
		if err != nil {
			return spec.Settings{}, err
		}
		maps.Copy(vals, m)
	}
	pairs, err := conn.ConvertPairs(s.pairs)
	if err != nil {
		return spec.Settings{}, err
	}
	maps.Copy(vals, pairs)
	return conn.ResolveSettings(vals)
}

func readSettingsFile(name string, stdin io.Reader) (map[string]any, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("--config-file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("--config-file %s: %w", name, err)
	}
	for k, v := range m {
		switch x := v.(type) {
		case int:
			m[k] = json.Number(strconv.Itoa(x))
		case float64:
			m[k] = json.Number(strconv.FormatFloat(x, 'g', -1, 64))
		}
	}
	return m, nil
}

// writeJSONLines writes one JSON object per line, the --json form of every list.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
