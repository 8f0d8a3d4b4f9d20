package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/store"
)

func (a *app) interactionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "interactions",
		Short: "Look at stored interactions",
	}
	var (
		f      store.InteractionFilter
		since  string
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list [--integration ID] [--type T] [--since RFC3339] [--deleted show|hide|only] [--limit N] [--json]",
		Short: "List stored interactions, most recently changed first",
		Long: `List stored interactions, most recently changed first. --since keeps the rows
stored or changed at or after a time (their updated_at, RFC 3339, e.g.
2026-03-01T10:00:00Z): what the syncs since then brought in.

A record the provider deleted keeps its row; DELETED (deleted_at in --json) says
since when it is gone. --deleted hide lists only the records that exist at the
source, --deleted only the deleted ones.`,
		Example: "  intake interactions list --type contacts --limit 10\n  intake interactions list --since 2026-03-01T10:00:00Z --json\n  intake interactions list --deleted only",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch f.Deleted {
			case store.DeletedShow, store.DeletedHide, store.DeletedOnly:
			default:
				return fmt.Errorf("--deleted %q: use %s, %s or %s", f.Deleted, store.DeletedShow, store.DeletedHide, store.DeletedOnly)
			}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since %q: use an RFC 3339 time, like 2026-03-01T10:00:00Z", since)
				}
				f.Since = t
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.ListInteractions(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONLines(a.env.Stdout, rows)
			}
			if len(rows) == 0 && since != "" {
				fmt.Fprintf(a.env.Stdout, "no interactions changed since %s\n", since)
				return nil
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.env.Stdout, "no interactions stored yet; run `intake sync --integration ID`")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INTEGRATION\tTYPE\tEXTERNAL ID\tKIND\tUPDATED\tDELETED\tDATA")
			for _, r := range rows {
				data := string(r.Data)
				if len(data) > 80 {
					data = data[:77] + "..."
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.IntegrationID, r.Type, r.ExternalID, r.Kind, r.UpdatedAt, orDash(r.DeletedAt), data)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.IntegrationID, "integration", "", "only this integration")
	list.Flags().StringVar(&f.Type, "type", "", "only this interaction type")
	list.Flags().StringVar(&since, "since", "", "only rows stored or changed at or after this RFC 3339 time")
	list.Flags().StringVar(&f.Deleted, "deleted", store.DeletedShow, "records deleted at the source: show (with DELETED set), hide, or only")
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most N rows (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.AddCommand(list)
	return cmd
}
