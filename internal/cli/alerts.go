package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/alert"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

// alertCommands are the root-level commands of the failure policy: alerts and
// customers (their alert webhooks).
func (a *app) alertCommands() []*cobra.Command {
	return []*cobra.Command{a.alertsCmd(), a.customersCmd()}
}

func (a *app) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Look at alerts: failed syncs, disabled integrations, recoveries",
	}
	var (
		f      store.AlertFilter
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list [--integration ID] [--customer C] [--kind K] [--limit N] [--json]",
		Short: "List alerts, newest first, with where each was delivered",
		Long: `List alerts, newest first. An alert is raised on the first failed run of a
streak (sync_failed), when an integration is disabled (integration_disabled) and
when an integration object syncs again after failures (recovered). Each is posted
to the operator's webhook and the customer's webhook, if set; DELIVERY shows how
that went (see docs/operations.md).`,
		Example: "  intake alerts list\n  intake alerts list --integration acme-zendesk --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch f.Kind {
			case "", store.AlertSyncFailed, store.AlertIntegrationDisabled, store.AlertRecovered:
			default:
				return fmt.Errorf("--kind %q: use %s, %s or %s", f.Kind, store.AlertSyncFailed, store.AlertIntegrationDisabled, store.AlertRecovered)
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			alerts, err := db.ListAlerts(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]any, len(alerts))
				for i, al := range alerts {
					out[i] = alertJSON(al)
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(alerts) == 0 {
				fmt.Fprintln(a.env.Stdout, "no alerts; they are raised when a sync fails (see docs/operations.md)")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tKIND\tCUSTOMER\tINTEGRATION\tTYPE\tCLASS\tDELIVERY\tMESSAGE")
			for _, al := range alerts {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", al.ID, al.CreatedAt.Format(time.RFC3339), al.Kind, al.CustomerID,
					al.IntegrationID, orDash(al.Type), orDash(al.Class), deliverySummary(al.Deliveries), oneLine(al.Message, 80))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.IntegrationID, "integration", "", "only this integration")
	list.Flags().StringVar(&f.CustomerID, "customer", "", "only this customer")
	list.Flags().StringVar(&f.Kind, "kind", "", "only this kind: sync_failed, integration_disabled or recovered")
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most N alerts (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: the webhook payload plus deliveries")
	cmd.AddCommand(list)
	return cmd
}

// alertJSON is the webhook payload of an alert plus its deliveries (URLs left out:
// they may carry tokens).
func alertJSON(al *store.Alert) map[string]any {
	p := alert.PayloadOf(al)
	ds := []map[string]any{}
	for _, d := range al.Deliveries {
		m := map[string]any{"target": d.Target, "state": d.State(), "attempts": d.Attempts}
		if !d.DeliveredAt.IsZero() {
			m["delivered_at"] = d.DeliveredAt.Format(time.RFC3339)
		}
		if !d.NextAttemptAt.IsZero() {
			m["next_attempt_at"] = d.NextAttemptAt.Format(time.RFC3339)
		}
		if d.LastError != "" {
			m["last_error"] = d.LastError
		}
		ds = append(ds, m)
	}
	return map[string]any{"id": p.ID, "kind": p.Kind, "created_at": p.CreatedAt, "customer": p.Customer, "integration": p.Integration,
		"provider": p.Provider, "interaction_type": p.InteractionType, "run_id": p.RunID, "class": p.Class, "message": p.Message,
		"deliveries": ds}
}

// deliverySummary reads like "operator delivered, customer pending (3 tries)".
func deliverySummary(ds []store.Delivery) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		s := d.Target + " " + d.State()
		if d.State() != store.DeliveryDelivered && d.Attempts > 0 {
			s += fmt.Sprintf(" (%d tries)", d.Attempts)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func (a *app) integrationsEnableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "enable ID",
		Short: "Enable an integration again (after fixing what disabled it)",
		Long: `Enable an integration that was disabled, by an operator or by the failure
policy (refused credentials, or too many consecutive failed runs). Its next sync
runs as usual; when it succeeds a "recovered" alert is sent. Failure counts are
kept: if it fails again past the threshold, it is disabled again at once.`,
		Example: "  intake integrations enable acme-zendesk",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.IntegrationState(ctx, id)
			if err != nil {
				return err
			}
			if st.Status == store.StatusEnabled {
				fmt.Fprintf(a.env.Stdout, "integration %s is already enabled\n", id)
				return nil
			}
			if err := db.SetIntegrationStatus(ctx, id, store.StatusEnabled, ""); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "enabled integration %s (it was disabled %s: %s)\nsync it:  intake sync --integration %s\n",
				id, disabledSince(st.DisabledAt), orDash(st.DisabledReason), id)
			return nil
		},
	}
}

func (a *app) integrationsDisableCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:     "disable ID [--reason TEXT]",
		Short:   "Disable an integration: it is not synced until enabled again",
		Example: `  intake integrations disable acme-zendesk --reason "customer is migrating accounts"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.IntegrationState(ctx, id)
			if err != nil {
				return err
			}
			if st.Status == store.StatusDisabled {
				fmt.Fprintf(a.env.Stdout, "integration %s is already disabled (%s: %s)\n", id, disabledSince(st.DisabledAt), orDash(st.DisabledReason))
				return nil
			}
			if err := db.SetIntegrationStatus(ctx, id, store.StatusDisabled, reason); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "disabled integration %s: %s\nre-enable it:  intake integrations enable %s\n", id, reason, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "disabled by an operator", "why: kept with the integration and shown by intake customers show")
	return cmd
}

func (a *app) customersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "customers",
		Aliases: []string{"customer"},
		Short:   "Show customers and set where their alerts are posted",
	}
	cmd.AddCommand(a.customersSetWebhookCmd(), a.customersShowCmd())
	return cmd
}

func (a *app) customersSetWebhookCmd() *cobra.Command {
	var (
		customer, url, secretFile string
		remove                    bool
	)
	cmd := &cobra.Command{
		Use:   "set-webhook --customer C --url URL --secret-file FILE",
		Short: "Post a customer's alerts to its webhook, signed with a secret",
		Long: `Set the webhook that receives the alerts of a customer's integrations. Each
alert is a JSON POST signed with HMAC-SHA256 under the secret (see
docs/operations.md for how the receiver verifies it). The secret is read from a
file, or from standard input with --secret-file -, never from the command line;
it is at least 16 bytes, and surrounding whitespace is not part of it. It is
encrypted with the secret key before it is stored. --clear removes the webhook.`,
		Example: `  openssl rand -hex 32 > acme-webhook.secret
  intake customers set-webhook --customer acme --url https://acme.example/hooks/intake --secret-file acme-webhook.secret
  intake customers set-webhook --customer acme --clear`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if remove {
				if url != "" || secretFile != "" {
					return errors.New("--clear removes the webhook; it takes no --url or --secret-file")
				}
				db, err := a.openStore(ctx)
				if err != nil {
					return err
				}
				defer db.Close()
				if err := db.SetCustomerWebhook(ctx, customer, "", nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "removed the alert webhook of customer %s\n", customer)
				return nil
			}
			if url == "" || secretFile == "" {
				return errors.New("--url and --secret-file are required (or --clear to remove the webhook)")
			}
			sec, err := alert.ReadSecretFile(secretFile, a.env.Stdin)
			if err != nil {
				return err
			}
			if err := alert.ValidateWebhook(url, sec); err != nil {
				return err
			}
			box, err := a.box()
			if err != nil {
				return err
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.SetCustomerWebhook(ctx, customer, url, sec, box); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "alerts of customer %s will be posted to %s, signed with its secret (stored encrypted, key %s)\n", customer, url, box.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&customer, "customer", "", "customer id (required)")
	cmd.Flags().StringVar(&url, "url", "", "https:// (or http://) URL that receives the alerts")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the signing secret; - reads standard input")
	cmd.Flags().BoolVar(&remove, "clear", false, "remove the customer's webhook")
	_ = cmd.MarkFlagRequired("customer")
	return cmd
}

func (a *app) customersShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show C [--json]",
		Short: "Show a customer: its alert webhook (never the secret) and its integrations",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			c, err := db.Customer(ctx, id)
			if err != nil {
				return err
			}
			ins, err := db.IntegrationStates(ctx, id)
			if err != nil {
				return err
			}
			if asJSON {
				list := []map[string]any{}
				for _, in := range ins {
					m := map[string]any{"id": in.ID, "provider": in.Provider, "status": in.Status}
					if !in.DisabledAt.IsZero() {
						m["disabled_at"] = in.DisabledAt.Format(time.RFC3339)
						m["disabled_reason"] = in.DisabledReason
					}
					list = append(list, m)
				}
				out := map[string]any{"id": c.ID, "name": c.Name, "created_at": c.CreatedAt.Format(time.RFC3339),
					"webhook_url": c.WebhookURL, "webhook_secret": "", "integrations": list}
				if c.HasWebhookSecret {
					out["webhook_secret"] = secret.Mask
					out["webhook_key_id"] = c.WebhookKeyID
				}
				enc := json.NewEncoder(a.env.Stdout)
				enc.SetEscapeHTML(false)
				return enc.Encode(out)
			}
			w := a.env.Stdout
			fmt.Fprintf(w, "customer:  %s\n", c.ID)
			if c.Name != c.ID {
				fmt.Fprintf(w, "name:      %s\n", c.Name)
			}
			fmt.Fprintf(w, "created:   %s\n", c.CreatedAt.Format(time.RFC3339))
			if c.WebhookURL == "" {
				fmt.Fprintf(w, "webhook:   none; set one with `intake customers set-webhook --customer %s --url URL --secret-file FILE`\n", c.ID)
			} else {
				fmt.Fprintf(w, "webhook:   %s (signing secret %s, key %s)\n", c.WebhookURL, secret.Mask, orDash(c.WebhookKeyID))
			}
			if len(ins) == 0 {
				fmt.Fprintln(w, "integrations: none")
				return nil
			}
			fmt.Fprintln(w, "integrations:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  ID\tPROVIDER\tSTATUS\tDISABLED\tREASON")
			for _, in := range ins {
				since := "-"
				if !in.DisabledAt.IsZero() {
					since = in.DisabledAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", in.ID, in.Provider, in.Status, since, orDash(oneLine(in.DisabledReason, 100)))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object")
	return cmd
}

func disabledSince(t time.Time) string {
	if t.IsZero() {
		return "since an unknown time"
	}
	return "since " + t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shorten keeps a table cell on one line and at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}
