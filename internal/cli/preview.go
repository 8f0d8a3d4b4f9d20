package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

func (a *app) previewCmd() *cobra.Command {
	var (
		file     string
		typ      string
		limit    int
		trace    bool
		settings settingsFlags
	)
	cmd := &cobra.Command{
		Use:   "preview --connector FILE [--config KEY=VALUE]... [--type T] [--limit N] [--trace]",
		Short: "Fetch and map records with a connector, writing nothing",
		Long: `Run a connector against its API, database or files and print the mapped records
as JSON Lines on stdout, one object per record: {"type", "id", "data"}. Nothing is
stored and no cursor moves. With --trace, each request (URL with secrets redacted)
and its status, each SQL page query with its arguments, or each file read, the
records on each page (and each part of a large page), and what pagination: auto
detected go to stderr.

Records that cannot be mapped, and rows a file source cannot read, are reported on
stderr and skipped.`,
		Example: `  intake preview --connector connectors/demo-crm.yaml --config api_key=demo-key --limit 5
  intake preview --connector my.yaml --config-file secrets.yaml --type tickets --trace | jq .data
  intake preview --connector connectors/postgres.yaml --config-file acme-db.yaml --type accounts --trace
  intake preview --connector connectors/csv-files.yaml --config location=/srv/drops/acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := spec.LoadFile(file)
			if err != nil {
				return err
			}
			s, err := settings.resolve(conn, a.env.Stdin)
			if err != nil {
				return err
			}
			opts := retrieve.Options{Logger: a.logger}
			if trace {
				opts.Trace = a.tracer()
			}
			client, err := pipeline.NewClient(cmd.Context(), retrieve.Source{Connector: conn, Config: s.Config, Credentials: s.Credentials}, opts)
			if err != nil {
				return err
			}
			types := conn.InteractionTypes.Keys
			if typ != "" {
				if _, ok := conn.InteractionTypes.Get(typ); !ok {
					return fmt.Errorf("%s has no interaction type %q (it has: %v)", conn.Provider, typ, types)
				}
				types = []string{typ}
			}
			enc := json.NewEncoder(a.env.Stdout)
			enc.SetEscapeHTML(false)
			for _, t := range types {
				it := conn.InteractionTypes.Map[t]
				err := pipeline.Preview(cmd.Context(), client, it, limit, func(m *process.Mapped, err error) error {
					if err != nil {
						fmt.Fprintf(a.env.Stderr, "%s: skipped: %v\n", t, client.Redact(err.Error()))
						return nil
					}
					return enc.Encode(struct {
						Type string          `json:"type"`
						ID   string          `json:"id"`
						Data json.RawMessage `json:"data"`
					}{t, m.ExternalID, m.Data})
				})
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "connector", "", "connector spec file (required)")
	cmd.Flags().StringVar(&typ, "type", "", "only this interaction type (default: all)")
	cmd.Flags().IntVar(&limit, "limit", 20, "stop after N records per interaction type (0: no limit)")
	cmd.Flags().BoolVar(&trace, "trace", false, "print each request, its status and records per page on stderr")
	settings.register(cmd)
	_ = cmd.MarkFlagRequired("connector")
	return cmd
}

// tracer prints requests and pages on stderr. URLs arrive already redacted.
func (a *app) tracer() func(retrieve.TraceEvent) {
	return func(ev retrieve.TraceEvent) {
		switch ev.Kind {
		case "request":
			if ev.Err != "" {
				fmt.Fprintf(a.env.Stderr, "→ %s %s: %s (%s)\n", ev.Method, ev.URL, ev.Err, ev.Duration.Round(time.Millisecond))
				return
			}
			if ev.Status == 0 { // a SQL query has no status
				fmt.Fprintf(a.env.Stderr, "→ %s %s (%s)\n", ev.Method, ev.URL, ev.Duration.Round(time.Millisecond))
				return
			}
			fmt.Fprintf(a.env.Stderr, "→ %s %s %d (%s)\n", ev.Method, ev.URL, ev.Status, ev.Duration.Round(time.Millisecond))
		case "page":
			if ev.Part > 1 || !ev.Last {
				// A large response comes in parts.
				fmt.Fprintf(a.env.Stderr, "  %s page %d part %d: %d records\n", ev.Type, ev.Page, ev.Part, ev.Records)
				return
			}
			fmt.Fprintf(a.env.Stderr, "  %s page %d: %d records\n", ev.Type, ev.Page, ev.Records)
		case "detect":
			fmt.Fprintf(a.env.Stderr, "  %s pagination auto-detected: %s\n", ev.Type, ev.Detail)
		}
	}
}
