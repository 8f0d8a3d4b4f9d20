package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

func (a *app) integrationsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "integrations",
		Aliases: []string{"integration"},
		Short:   "Register and list customers' integrations",
	}
	cmd.AddCommand(a.integrationsAddCmd(), a.integrationsListCmd(), a.integrationsEnableCmd(), a.integrationsDisableCmd(),
		a.integrationsOverrideCmd(), a.integrationsResyncCmd())
	return cmd
}

func (a *app) integrationsAddCmd() *cobra.Command {
	var (
		customer, provider, id string
		settings               settingsFlags
	)
	cmd := &cobra.Command{
		Use:   "add --customer C --provider P [--id ID] [--config KEY=VALUE]... [--config-file FILE]",
		Short: "Register a customer's integration with a provider",
		Long: `Register one customer's connection to a provider. Config and credentials are
checked against what the provider's spec declares (types, patterns, required
fields). Credentials are encrypted with the secret key before they are stored.`,
		Example: `  intake integrations add --customer acme --provider demo-crm --config api_key=demo-key
  intake integrations add --customer acme --provider zendesk --config subdomain=acme --config-file acme-zendesk.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			conn, err := a.catalog().Get(provider)
			if err != nil {
				return err
			}
			s, err := settings.resolve(conn, a.env.Stdin)
			if err != nil {
				return err
			}
			var box *secret.Box
			if len(s.Credentials) > 0 {
				if box, err = a.box(); err != nil {
					return err
				}
			}
			if id == "" {
				id = customer + "-" + provider
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			err = db.CreateIntegration(ctx, store.Integration{ID: id, CustomerID: customer, Provider: provider, Config: s.Config}, s.Credentials, box)
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("%w; choose another --id", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "added integration %s (customer %s, provider %s)\nsync it:  intake sync --integration %s\n", id, customer, provider, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&customer, "customer", "", "customer (tenant) id, e.g. acme (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "provider name, as in its connector spec (required)")
	cmd.Flags().StringVar(&id, "id", "", "integration id (default CUSTOMER-PROVIDER)")
	settings.register(cmd)
	_ = cmd.MarkFlagRequired("customer")
	_ = cmd.MarkFlagRequired("provider")
	return cmd
}

func (a *app) integrationsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List integrations (credentials are never shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ins, err := db.Integrations(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, len(ins))
				for i, in := range ins {
					creds := ""
					if in.HasSecrets {
						creds = secret.Mask
					}
					out[i] = map[string]any{"id": in.ID, "customer": in.CustomerID, "provider": in.Provider, "status": in.Status,
						"config": in.Config, "credentials": creds, "key_id": in.KeyID, "created_at": in.CreatedAt}
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(ins) == 0 {
				fmt.Fprintln(a.env.Stdout, "no integrations yet; add one with `intake integrations add`")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCUSTOMER\tPROVIDER\tSTATUS\tCONFIG\tCREDENTIALS")
			for _, in := range ins {
				cfg, _ := json.Marshal(in.Config)
				creds := "-"
				if in.HasSecrets {
					creds = secret.Mask + " (key " + in.KeyID + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.CustomerID, in.Provider, in.Status, cfg, creds)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}
