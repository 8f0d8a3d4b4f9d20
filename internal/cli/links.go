package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/engine/view"
)

// The JSON shapes of links unresolved are engine/view's, shared with the admin API.
type (
	unresolvedJSON  = view.Unresolved
	reasonCountJSON = view.ReasonCount
)

func (a *app) linksCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "links",
		Short: "Look at how interactions link to accounts and contacts",
	}
	var (
		f        store.UnresolvedFilter
		asJSON   bool
		byReason bool
	)
	unresolved := &cobra.Command{
		Use:   "unresolved [--customer C] [--integration ID] [--type T] [--reason R] [--limit N] [--by-reason] [--json]",
		Short: "List references to accounts and contacts that resolve to nothing (yet), with why",
		Long: `List the references of stored records that resolve to no account or contact, oldest
first, after a count by reason. A reference is what an interaction type's links
name (a ticket's requester and organization), a contact record's company, or an
update_only or link_only record still waiting for its account or contact
(docs/linking.md). Each is linked as soon as an account or contact that satisfies it
is stored, whatever the order: this list is what is still missing.

Reasons:
  not_found           no account or contact has the ids, address or domain named
  ambiguous           several have them: never a guess
  no_account          the record names no account, and its contact has none
  contact_unresolved  the record names no account, and its contact is unresolved
  unmatched           an update_only or link_only record that matched nothing

--type filters by the interaction type of the record holding the reference;
--by-reason prints only the counts (with --json, one object per reason).`,
		Example: "  intake links unresolved --customer acme\n  intake links unresolved --integration acme-zendesk --type tickets --reason not_found --json | jq -r .detail",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Reason != "" && !oneOf(store.Reasons, f.Reason) {
				return fmt.Errorf("--reason %q: use %s", f.Reason, strings.Join(store.Reasons, ", "))
			}
			if f.Limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (all) or more", f.Limit)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			counts, err := db.CountUnresolved(cmd.Context(), f)
			if err != nil {
				return err
			}
			if byReason {
				if asJSON {
					return writeJSONLines(a.env.Stdout, view.ReasonCounts(counts))
				}
				return printReasonCounts(a, counts)
			}
			rows, err := db.ListUnresolved(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]unresolvedJSON, 0, len(rows))
				for _, u := range rows {
					out = append(out, view.UnresolvedOf(u))
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if err := printReasonCounts(a, counts); err != nil || len(rows) == 0 {
				return err
			}
			w := a.env.Stdout
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCUSTOMER\tINTEGRATION\tTYPE\tEXTERNAL ID\tREFERS TO\tREASON\tDETAIL")
			for _, u := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.CustomerID, u.IntegrationID, u.Type, u.ExternalID, refersTo(u), u.Reason, oneLine(u.Detail, 80))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			total := 0
			for _, c := range counts {
				if f.Reason == "" || c.Reason == f.Reason {
					total += c.Count
				}
			}
			if len(rows) < total {
				fmt.Fprintf(w, "showing %d of %d; --limit 0 shows all\n", len(rows), total)
			}
			return nil
		},
	}
	unresolved.Flags().StringVar(&f.CustomerID, "customer", "", "only this customer")
	unresolved.Flags().StringVar(&f.IntegrationID, "integration", "", "only references of this integration's records")
	unresolved.Flags().StringVar(&f.Type, "type", "", "only references of records of this interaction type")
	unresolved.Flags().StringVar(&f.Reason, "reason", "", "only this reason: "+strings.Join(store.Reasons, ", "))
	unresolved.Flags().IntVar(&f.Limit, "limit", 50, "at most N references (0: all)")
	unresolved.Flags().BoolVar(&byReason, "by-reason", false, "only the counts by reason")
	unresolved.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.AddCommand(unresolved)
	return cmd
}

// refersTo reads like "contact" or "account (its contact's)" or "account (itself)".
func refersTo(u *store.UnresolvedLink) string {
	switch u.Origin {
	case store.OriginContact:
		return u.Role + " (via contact)"
	case store.OriginCompany:
		return u.Role + " (company)"
	case store.OriginSelf:
		return u.Role + " (itself)"
	}
	return u.Role
}

func printReasonCounts(a *app, counts []store.ReasonCount) error {
	w := a.env.Stdout
	total := 0
	for _, c := range counts {
		total += c.Count
	}
	if total == 0 {
		fmt.Fprintln(w, "no unresolved references: every reference of the matching records is linked")
		return nil
	}
	fmt.Fprintf(w, "%d unresolved references:\n", total)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range counts {
		fmt.Fprintf(tw, "  %s\t%d\n", c.Reason, c.Count)
	}
	return tw.Flush()
}
