package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/store"
)

// changeJSON is one line of `intake changes --json`. Every key is always present;
// what a change does not have is "".
type changeJSON struct {
	Seq         int64  `json:"seq"`
	At          string `json:"at"`
	Entity      string `json:"entity"`
	Op          string `json:"op"`
	EntityID    int64  `json:"entity_id"`
	Customer    string `json:"customer"`
	Integration string `json:"integration"`
	Type        string `json:"interaction_type"`
	ExternalID  string `json:"external_id"`
}

// changeTimeLayout is the store's: RFC 3339 UTC with a fixed millisecond width.
const changeTimeLayout = "2006-01-02T15:04:05.000Z"

func (a *app) changesCmd() *cobra.Command {
	var (
		f      store.ChangeFilter
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "changes --since N [--limit N] [--customer C] [--entity E] [--json]",
		Short: "Read the change feed: what was inserted, updated or deleted after position N",
		Long: `Print the changes after position N (exclusive), oldest first. Every insert, update
and delete of an interaction, account or contact takes the next position (seq) of
one sequence, in the same transaction as the change, so a change is listed if and
only if it committed. Unchanged records re-read by a sync take no position.

After the rows, standard error says where to resume:
  next: intake changes --since LAST
Remember LAST once you have processed the rows, and ask again from it. Start from
0 to read everything. With --customer or --entity, resume with the same filters.

See docs/changes.md for the contract.`,
		Example: "  intake changes --since 0 --json\n  intake changes --since 480 --customer acme --entity interaction",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Since < 0 {
				return fmt.Errorf("--since %d: positions start at 0", f.Since)
			}
			if f.Limit < 1 || f.Limit > store.MaxChangeLimit {
				return fmt.Errorf("--limit %d: use 1 to %d", f.Limit, store.MaxChangeLimit)
			}
			switch f.Entity {
			case "", store.EntityInteraction, store.EntityAccount, store.EntityContact:
			default:
				return fmt.Errorf("--entity %q: use %s, %s or %s", f.Entity, store.EntityInteraction, store.EntityAccount, store.EntityContact)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.Changes(cmd.Context(), f)
			if err != nil {
				return err
			}
			last := f.Since
			if len(rows) > 0 {
				last = rows[len(rows)-1].Seq
			}
			if asJSON {
				out := make([]changeJSON, len(rows))
				for i, c := range rows {
					out[i] = changeJSON{Seq: c.Seq, At: c.At.UTC().Format(changeTimeLayout), Entity: c.Entity, Op: c.Op, EntityID: c.EntityID,
						Customer: c.CustomerID, Integration: c.IntegrationID, Type: c.Type, ExternalID: c.ExternalID}
				}
				if err := writeJSONLines(a.env.Stdout, out); err != nil {
					return err
				}
			} else if len(rows) == 0 {
				fmt.Fprintf(a.env.Stdout, "no changes after %d\n", f.Since)
			} else {
				tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tAT\tENTITY\tOP\tID\tCUSTOMER\tINTEGRATION\tTYPE\tEXTERNAL ID")
				for _, c := range rows {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.Seq, c.At.UTC().Format(changeTimeLayout), c.Entity, c.Op, c.EntityID,
						orDash(c.CustomerID), orDash(c.IntegrationID), orDash(c.Type), orDash(c.ExternalID))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			fmt.Fprintln(a.env.Stderr, "next: "+nextChanges(last, f))
			return nil
		},
	}
	cmd.Flags().Int64Var(&f.Since, "since", 0, "only changes after this position (exclusive); 0 reads from the beginning")
	cmd.Flags().IntVar(&f.Limit, "limit", store.DefaultChangeLimit, fmt.Sprintf("at most N changes (1 to %d)", store.MaxChangeLimit))
	cmd.Flags().StringVar(&f.CustomerID, "customer", "", "only changes of this customer")
	cmd.Flags().StringVar(&f.Entity, "entity", "", "only changes of interaction, account or contact")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	_ = cmd.MarkFlagRequired("since")
	return cmd
}

// nextChanges is the command that resumes after last with the same filters.
func nextChanges(last int64, f store.ChangeFilter) string {
	s := "intake changes --since " + strconv.FormatInt(last, 10)
	if f.CustomerID != "" {
		s += " --customer " + shellWord(f.CustomerID)
	}
	if f.Entity != "" {
		s += " --entity " + f.Entity
	}
	return s
}

// shellWord quotes s for a POSIX shell when it holds anything but safe characters.
func shellWord(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+=,", r)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
