package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/engine/view"
)

// entityCommands are the root-level commands that look at what the processor made of
// the synced records: accounts, contacts, sync runs, quarantined records and match
// reviews.
func (a *app) entityCommands() []*cobra.Command {
	return []*cobra.Command{a.accountsCmd(), a.contactsCmd(), a.runsCmd(), a.quarantineCmd(), a.reviewsCmd(), a.linksCmd()}
}

// entityTime is how the processor commands print times, in tables and JSON.
func entityTime(t time.Time) string { return view.Time(t) }

// parseEntityID reads the ID argument of accounts show and contacts show.
func parseEntityID(what, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s ID %q: use the number in the ID column of `intake %ss list`", what, arg, what)
	}
	return id, nil
}

// entityNotFound rewords the store's not-found error for a show command.
func entityNotFound(err error, what string, id int64) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %d: not found; see `intake %ss list`", what, id, what)
	}
	return err
}

// valueCell renders a JSON value for a table: strings without quotes, on one line.
func valueCell(v json.RawMessage, n int) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return orDash(oneLine(s, n))
	}
	return oneLine(string(v), n)
}

// flagDomain and flagEmail put a flag value in the form the store keeps.
func flagDomain(s string) string { return view.Domain(s) }

func flagEmail(s string) string { return view.Email(s) }

// The JSON shapes these commands print are engine/view's, shared with the admin API.
type (
	accountJSON       = view.Account
	accountDetailJSON = view.AccountDetail
	contactJSON       = view.Contact
	contactDetailJSON = view.ContactDetail
)

func printAttributes(w io.Writer, as []store.Attribute) error {
	if len(as) == 0 {
		fmt.Fprintln(w, "attributes: none")
		return nil
	}
	fmt.Fprintln(w, "attributes:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ATTRIBUTE\tVALUE\tPROVIDER\tCHANGED")
	for _, at := range as {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", at.Name, valueCell(at.Value, 60), orDash(at.Provider), orDash(entityTime(at.At)))
	}
	return tw.Flush()
}

func printLinks(w io.Writer, ls []store.EntityLink) error {
	if len(ls) == 0 {
		fmt.Fprintln(w, "links: none")
		return nil
	}
	fmt.Fprintln(w, "links:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROVIDER\tINTEGRATION\tEXTERNAL ID\tMATCHED BY\tLINKED")
	for _, l := range ls {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l.Provider, l.IntegrationID, l.ExternalID, l.MatchedBy, entityTime(l.CreatedAt))
	}
	return tw.Flush()
}

// ---- accounts

// perTypeFlag is --per-type of accounts show and contacts show.
func perTypeFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "per-type", store.LatestPerType, "show the latest N interactions of each interaction type")
}

func checkPerType(n int) error {
	if n < 1 {
		return fmt.Errorf("--per-type %d: use 1 or more", n)
	}
	return nil
}

// printInteractions lists an account's or contact's latest interactions by type.
func printInteractions(w io.Writer, its []store.LinkedInteraction, counts []store.TypeCount, perType int) error {
	if len(its) == 0 {
		fmt.Fprintln(w, "interactions: none")
		return nil
	}
	var parts []string
	more := false
	for _, c := range counts {
		parts = append(parts, fmt.Sprintf("%s %d", c.Type, c.Count))
		more = more || c.Count > perType
	}
	fmt.Fprintf(w, "interactions (%s; latest %d of each type, across providers):\n", strings.Join(parts, ", "), perType)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tPROVIDER\tINTEGRATION\tEXTERNAL ID\tVIA\tCHANGED\tDATA")
	for _, it := range its {
		// When the provider changed it, if the type says (incremental), else when stored.
		changed := it.SourceUpdatedAt
		if changed == "" {
			changed = it.UpdatedAt
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Type, it.Provider, it.IntegrationID, it.ExternalID, it.Via, changed, oneLine(string(it.Data), 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more {
		fmt.Fprintln(w, "  more: --per-type N, or intake interactions list")
	}
	return nil
}

func (a *app) accountsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "accounts",
		Aliases: []string{"account"},
		Short:   "Look at accounts: the customers' companies, resolved across providers",
	}
	cmd.AddCommand(a.accountsListCmd(), a.accountsShowCmd())
	return cmd
}

func (a *app) accountsListCmd() *cobra.Command {
	var (
		f      store.AccountFilter
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--customer C] [--domain D] [--search TEXT] [--limit N] [--json]",
		Short: "List accounts, most recently changed first, with their contacts and links",
		Long: `List accounts, most recently changed first. An account is a customer's company,
matched or created from the account records of every provider (by crosswalk, then
registrable domain, then name when the spec asks for it). CONTACTS counts the
contacts attached to it; LINKS counts the provider records linked to it, from
PROVIDERS.

--domain takes a domain, URL or address and compares its registrable domain;
--search matches part of the name or the domain, ignoring (ASCII) letter case.`,
		Example: "  intake accounts list --customer acme\n  intake accounts list --domain https://www.acme.com --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (all) or more", f.Limit)
			}
			if f.Domain != "" {
				f.Domain = flagDomain(f.Domain)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.ListAccounts(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]accountJSON, 0, len(rows))
				for _, r := range rows {
					out = append(out, view.AccountOf(r))
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.env.Stdout, "no accounts match; accounts are made when a sync stores account records (`intake sync --integration ID`)")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCUSTOMER\tDOMAIN\tNAME\tCONTACTS\tLINKS\tPROVIDERS\tUPDATED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.ID, r.CustomerID, orDash(r.Domain), orDash(oneLine(r.Name, 40)),
					r.ContactCount, r.LinkCount, orDash(strings.Join(r.Providers, ",")), entityTime(r.UpdatedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&f.CustomerID, "customer", "", "only this customer")
	cmd.Flags().StringVar(&f.Domain, "domain", "", "only the account of this domain")
	cmd.Flags().StringVar(&f.Search, "search", "", "only accounts whose name or domain contains TEXT")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most N accounts (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func (a *app) accountsShowCmd() *cobra.Command {
	var (
		asJSON  bool
		perType int
	)
	cmd := &cobra.Command{
		Use:   "show ID [--per-type N] [--json]",
		Short: "Show an account: attributes and their sources, links, contacts, latest interactions",
		Long: fmt.Sprintf(`Show an account: its attributes, each with the provider and time of the value
kept; the provider records linked to it (and how each was matched); its contacts
(the first %d); and its latest interactions by interaction type across providers
(--per-type, default %d, newest first), with how many there are of each type.

Its interactions are its own records in each provider (VIA record) and the records
that refer to it through their interaction type's links (docs/linking.md): a ticket
naming its organization (VIA crosswalk or domain), or naming one of its people and no
account (VIA contact).`, store.AccountContactsShown, store.LatestPerType),
		Example: "  intake accounts show 12\n  intake accounts show 12 --per-type 20 --json | jq '.interactions[] | select(.interaction_type == \"tickets\")'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseEntityID("account", args[0])
			if err != nil {
				return err
			}
			if err := checkPerType(perType); err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			d, err := db.AccountDetail(cmd.Context(), "", id, perType)
			if err != nil {
				return entityNotFound(err, "account", id)
			}
			if asJSON {
				return writeJSONLines(a.env.Stdout, []accountDetailJSON{view.AccountDetailOf(d)})
			}
			return printAccount(a.env.Stdout, d, perType)
		},
	}
	perTypeFlag(cmd, &perType)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object")
	return cmd
}

func printAccount(w io.Writer, d *store.AccountDetail, perType int) error {
	fmt.Fprintf(w, "account:   %d\n", d.ID)
	fmt.Fprintf(w, "customer:  %s\n", d.CustomerID)
	fmt.Fprintf(w, "domain:    %s\n", orDash(d.Domain))
	fmt.Fprintf(w, "name:      %s\n", orDash(d.Name))
	fmt.Fprintf(w, "created:   %s\n", entityTime(d.CreatedAt))
	fmt.Fprintf(w, "updated:   %s\n", entityTime(d.UpdatedAt))
	if err := printAttributes(w, d.Attributes); err != nil {
		return err
	}
	if err := printLinks(w, d.Links); err != nil {
		return err
	}
	if d.ContactCount == 0 {
		fmt.Fprintln(w, "contacts: none")
	} else {
		fmt.Fprintf(w, "contacts (%d):\n", d.ContactCount)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tEMAIL\tNAME")
		for _, c := range d.Contacts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", c.ID, orDash(c.Email), orDash(c.Name))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if more := d.ContactCount - len(d.Contacts); more > 0 {
			fmt.Fprintf(w, "  and %d more: intake contacts list --account %d --limit 0\n", more, d.ID)
		}
	}
	return printInteractions(w, d.Interactions, d.InteractionCounts, perType)
}

// ---- contacts

func (a *app) contactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "contacts",
		Aliases: []string{"contact"},
		Short:   "Look at contacts: the customers' people, resolved across providers",
	}
	cmd.AddCommand(a.contactsListCmd(), a.contactsShowCmd())
	return cmd
}

func (a *app) contactsListCmd() *cobra.Command {
	var (
		f         store.ContactFilter
		accountID string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "list [--customer C] [--account ID] [--email E] [--search TEXT] [--limit N] [--json]",
		Short: "List contacts, most recently changed first, with their account",
		Long: `List contacts, most recently changed first. A contact is a customer's person,
matched or created from the contact records of every provider (by crosswalk, then
normalised email). Its account comes from the provider's company reference, else
from the company domain of the address (never from a mailbox provider's domain).

--email compares the normalised address (trimmed, lower case); --search matches
part of the name or the address, ignoring (ASCII) letter case.`,
		Example: "  intake contacts list --account 12\n  intake contacts list --email Ana.Lopez@acme.com --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (all) or more", f.Limit)
			}
			if accountID != "" {
				id, err := strconv.ParseInt(accountID, 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("--account %q: use the number in the ID column of `intake accounts list`", accountID)
				}
				f.AccountID = id
			}
			if f.Email != "" {
				f.Email = flagEmail(f.Email)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.ListContacts(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]contactJSON, 0, len(rows))
				for _, r := range rows {
					out = append(out, view.ContactOf(r))
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.env.Stdout, "no contacts match; contacts are made when a sync stores contact records (`intake sync --integration ID`)")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCUSTOMER\tEMAIL\tNAME\tACCOUNT\tLINKS\tPROVIDERS\tUPDATED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.CustomerID, orDash(r.Email), orDash(oneLine(r.Name, 40)),
					accountLabel(r.AccountID, r.AccountDomain, r.AccountName), r.LinkCount, orDash(strings.Join(r.Providers, ",")), entityTime(r.UpdatedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&f.CustomerID, "customer", "", "only this customer")
	cmd.Flags().StringVar(&accountID, "account", "", "only the contacts of this account (its ID)")
	cmd.Flags().StringVar(&f.Email, "email", "", "only the contact with this address")
	cmd.Flags().StringVar(&f.Search, "search", "", "only contacts whose name or address contains TEXT")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most N contacts (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

// accountLabel reads like "12 (acme.com)".
func accountLabel(id int64, domain, name string) string {
	if id == 0 {
		return "-"
	}
	label := domain
	if label == "" {
		label = oneLine(name, 30)
	}
	if label == "" {
		return strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf("%d (%s)", id, label)
}

func (a *app) contactsShowCmd() *cobra.Command {
	var (
		asJSON  bool
		perType int
	)
	cmd := &cobra.Command{
		Use:   "show ID [--per-type N] [--json]",
		Short: "Show a contact: its account, attributes and their sources, links, latest interactions",
		Long: fmt.Sprintf(`Show a contact: its account, its attributes, each with the provider and time of
the value kept; the provider records linked to it; and its latest interactions by
interaction type across providers (--per-type, default %d, newest first): its own
records (VIA record) and the records that name it, such as the tickets it asked
(VIA crosswalk or email).`, store.LatestPerType),
		Example: "  intake contacts show 40\n  intake contacts show 40 --json | jq .links",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseEntityID("contact", args[0])
			if err != nil {
				return err
			}
			if err := checkPerType(perType); err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			d, err := db.ContactDetail(cmd.Context(), "", id, perType)
			if err != nil {
				return entityNotFound(err, "contact", id)
			}
			if asJSON {
				return writeJSONLines(a.env.Stdout, []contactDetailJSON{view.ContactDetailOf(d)})
			}
			w := a.env.Stdout
			fmt.Fprintf(w, "contact:   %d\n", d.ID)
			fmt.Fprintf(w, "customer:  %s\n", d.CustomerID)
			fmt.Fprintf(w, "email:     %s\n", orDash(d.Email))
			fmt.Fprintf(w, "name:      %s\n", orDash(d.Name))
			if d.AccountID == 0 {
				fmt.Fprintln(w, "account:   none")
			} else {
				label := accountLabel(d.AccountID, d.AccountDomain, d.AccountName)
				if d.AccountDomain != "" && d.AccountName != "" {
					label += " " + oneLine(d.AccountName, 60)
				}
				fmt.Fprintf(w, "account:   %s\n", label)
			}
			fmt.Fprintf(w, "created:   %s\n", entityTime(d.CreatedAt))
			fmt.Fprintf(w, "updated:   %s\n", entityTime(d.UpdatedAt))
			if err := printAttributes(w, d.Attributes); err != nil {
				return err
			}
			if err := printLinks(w, d.Links); err != nil {
				return err
			}
			return printInteractions(w, d.Interactions, d.InteractionCounts, perType)
		},
	}
	perTypeFlag(cmd, &perType)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object")
	return cmd
}

// ---- runs

type runJSON struct {
	ID           int64  `json:"id"`
	Customer     string `json:"customer"`
	Integration  string `json:"integration"`
	Type         string `json:"interaction_type"`
	Status       string `json:"status"`
	ErrorClass   string `json:"error_class"`
	Error        string `json:"error"`
	StartedAt    string `json:"started_at"`
	FinishedAt   string `json:"finished_at"`
	DurationMS   int64  `json:"duration_ms"`
	Pages        int    `json:"pages"`
	New          int    `json:"records_new"`
	Updated      int    `json:"records_updated"`
	Unchanged    int    `json:"records_unchanged"`
	Quarantined  int    `json:"records_quarantined"`
	Filtered     int    `json:"records_filtered"`
	Unmatched    int    `json:"records_unmatched"`
	Deleted      int    `json:"records_deleted"`
	CursorBefore string `json:"cursor_before"`
	CursorAfter  string `json:"cursor_after"`
}

var runStatuses = []string{store.RunRunning, store.RunSucceeded, store.RunFailed, store.RunCancelled, store.RunInterrupted}

func (a *app) runsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "runs",
		Aliases: []string{"run"},
		Short:   "Look at sync runs: what each sync fetched, stored and why it failed",
	}
	var (
		f      store.RunFilter
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list [--integration ID] [--status S] [--limit N] [--json]",
		Short: "List sync runs, newest first",
		Long: `List sync runs, newest first: one per sync of an integration object. NEW, UPD,
SAME, QUAR and FILT count the records stored new, updated, unchanged, quarantined
(see intake quarantine list) and skipped by the interaction type's filter (or, for
client_side and newest-first incremental types, older than the cursor); UNM the
records of an update_only or link_only type that matched no account or contact yet
(see intake links unresolved --reason unmatched); DEL counts the stored records the
run marked deleted at the source. CLASS
says why a failed run failed (auth, permanent, transient, rate_limited, bad_data).
The table shortens the error; --json has it whole. A running run's duration is
how long it has run so far.`,
		Example: "  intake runs list --integration acme-demo-crm\n  intake runs list --status failed --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Status != "" && !oneOf(runStatuses, f.Status) {
				return fmt.Errorf("--status %q: use %s", f.Status, strings.Join(runStatuses, ", "))
			}
			if f.Limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (all) or more", f.Limit)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.ListRuns(cmd.Context(), f)
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON {
				out := make([]runJSON, 0, len(runs))
				for _, r := range runs {
					out = append(out, runJSON{ID: r.ID, Customer: r.CustomerID, Integration: r.IntegrationID, Type: r.Type, Status: r.Status,
						ErrorClass: r.ErrorClass, Error: r.Error, StartedAt: entityTime(r.StartedAt), FinishedAt: entityTime(r.FinishedAt),
						DurationMS: r.Duration(now).Milliseconds(), Pages: r.Pages, New: r.RecordsNew, Updated: r.RecordsUpdated,
						Unchanged: r.RecordsUnchanged, Quarantined: r.RecordsQuarantined, Filtered: r.RecordsFiltered, Unmatched: r.RecordsUnmatched, Deleted: r.RecordsDeleted,
						CursorBefore: r.CursorBefore, CursorAfter: r.CursorAfter})
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(runs) == 0 {
				fmt.Fprintln(a.env.Stdout, "no sync runs match; run one with `intake sync --integration ID`")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTARTED\tINTEGRATION\tTYPE\tSTATUS\tCLASS\tPAGES\tNEW\tUPD\tSAME\tQUAR\tFILT\tUNM\tDEL\tDURATION\tERROR")
			for _, r := range runs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, entityTime(r.StartedAt), r.IntegrationID, r.Type, r.Status,
					orDash(r.ErrorClass), r.Pages, r.RecordsNew, r.RecordsUpdated, r.RecordsUnchanged, r.RecordsQuarantined, r.RecordsFiltered, r.RecordsUnmatched, r.RecordsDeleted,
					runDuration(r.Duration(now)), orDash(oneLine(r.Error, 60)))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.IntegrationID, "integration", "", "only this integration")
	list.Flags().StringVar(&f.Status, "status", "", "only runs in this status: "+strings.Join(runStatuses, ", "))
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most N runs (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, with the whole error")
	cmd.AddCommand(list)
	return cmd
}

// runDuration reads like 850ms, 12.3s or 4m05s.
func runDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

func oneOf(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---- quarantine

type quarantineJSON struct {
	ID          int64           `json:"id"`
	Integration string          `json:"integration"`
	Type        string          `json:"interaction_type"`
	RunID       int64           `json:"run_id"`
	ExternalID  string          `json:"external_id"`
	Reason      string          `json:"reason"`
	Raw         json.RawMessage `json:"raw"`
	CreatedAt   string          `json:"created_at"`
}

func (a *app) quarantineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "Look at quarantined records: records a sync could not map or validate",
	}
	var (
		f      store.QuarantineFilter
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list [--integration ID] [--run N] [--limit N] [--json]",
		Short: "List quarantined records, newest first, with why",
		Long: `List records a sync could not store, newest first, with the reason: a mapping
that failed, a record that does not match its kind's schema, match keys that could
not be computed. They do not stop the sync or move the cursor past them. RUN is the
sync run (see intake runs list). The raw payload the provider sent is only in
--json, as "raw".`,
		Example: "  intake quarantine list --integration acme-demo-crm\n  intake quarantine list --run 42 --json | jq .raw",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (all) or more", f.Limit)
			}
			if f.RunID < 0 {
				return fmt.Errorf("--run %d: use a run id from `intake runs list`", f.RunID)
			}
			f.WithRaw = asJSON
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.ListQuarantine(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]quarantineJSON, 0, len(rows))
				for _, r := range rows {
					raw := r.Raw
					if !json.Valid(raw) {
						raw, _ = json.Marshal(string(raw))
					}
					out = append(out, quarantineJSON{r.ID, r.IntegrationID, r.Type, r.RunID, r.ExternalID, r.Reason, raw, entityTime(r.CreatedAt)})
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.env.Stdout, "no quarantined records")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tINTEGRATION\tTYPE\tRUN\tEXTERNAL ID\tREASON\tCREATED")
			for _, r := range rows {
				run := "-"
				if r.RunID != 0 {
					run = strconv.FormatInt(r.RunID, 10)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.IntegrationID, r.Type, run, orDash(r.ExternalID), oneLine(r.Reason, 80), entityTime(r.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.IntegrationID, "integration", "", "only this integration")
	list.Flags().Int64Var(&f.RunID, "run", 0, "only records of this sync run")
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most N records (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, with the raw payload")
	cmd.AddCommand(list)
	return cmd
}

// ---- reviews

type reviewJSON struct {
	ID          int64   `json:"id"`
	Customer    string  `json:"customer"`
	Entity      string  `json:"entity"`
	Provider    string  `json:"provider"`
	Integration string  `json:"integration"`
	ExternalID  string  `json:"external_id"`
	Reason      string  `json:"reason"`
	Candidates  []int64 `json:"candidates"`
	CreatedAt   string  `json:"created_at"`
}

func (a *app) reviewsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reviews",
		Aliases: []string{"review"},
		Short:   "Look at match reviews: records that matched several accounts or contacts",
	}
	var (
		f      store.ReviewFilter
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list [--customer C] [--json]",
		Short: "List open match reviews, oldest first",
		Long: `List the open match reviews, oldest first. A record that matches several
existing accounts (or contacts) is never merged on a guess: it is left unlinked
and a review names the record (provider and external id), the reason and the
CANDIDATES (account or contact ids; see intake accounts show ID).`,
		Example: "  intake reviews list --customer acme\n  intake reviews list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.ListReviews(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]reviewJSON, 0, len(rows))
				for _, r := range rows {
					out = append(out, reviewJSON{r.ID, r.CustomerID, r.Entity, r.Provider, r.IntegrationID, r.ExternalID, r.Reason, r.Candidates, entityTime(r.CreatedAt)})
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.env.Stdout, "no open match reviews")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCUSTOMER\tENTITY\tPROVIDER\tEXTERNAL ID\tREASON\tCANDIDATES\tCREATED")
			for _, r := range rows {
				ids := make([]string, 0, len(r.Candidates))
				for _, c := range r.Candidates {
					ids = append(ids, strconv.FormatInt(c, 10))
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.CustomerID, r.Entity, r.Provider, r.ExternalID, oneLine(r.Reason, 60),
					orDash(strings.Join(ids, ",")), entityTime(r.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.CustomerID, "customer", "", "only this customer")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.AddCommand(list)
	return cmd
}
