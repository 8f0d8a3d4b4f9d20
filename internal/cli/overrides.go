package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/spec"
)

func (a *app) explainCmd() *cobra.Command {
	var (
		customer, provider, integration string
		types                           []string
		diff                            bool
	)
	cmd := &cobra.Command{
		Use:   "explain --customer C --provider P [--type T]... [--diff] [--integration ID]",
		Short: "Show a customer's effective spec and which file and line set each value",
		Long: `Print the spec a customer's integration of a provider runs with: the provider's spec
with the customer's override (--customers DIR/CUSTOMER/PROVIDER.yaml) and, with
--integration, the override attached to that integration, applied in that order.
Each value is followed by the file:line that set it. --diff shows only what the
overrides set, and what they removed. The effective spec is validated as a sync
would; a problem is reported with the files and lines involved.`,
		Example: `  intake explain --customer acme --provider salesforce
  intake explain --customer acme --provider salesforce --type accounts --diff`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			attached, name := "", ""
			if integration != "" {
				db, err := a.openStore(cmd.Context())
				if err != nil {
					return err
				}
				defer db.Close()
				in, err := db.Integration(cmd.Context(), integration)
				if err != nil {
					return err
				}
				if in.CustomerID != customer || in.Provider != provider {
					return fmt.Errorf("integration %s belongs to customer %s, provider %s", integration, in.CustomerID, in.Provider)
				}
				if attached, err = db.IntegrationOverride(cmd.Context(), integration); err != nil {
					return err
				}
				name = "integration " + integration + " override"
			}
			cat := a.catalog()
			conn, layers, err := cat.Effective(customer, provider, attached, name)
			if err != nil {
				var oerr *spec.OverrideError
				if errors.As(err, &oerr) {
					printSpecErrors(a.env.Stderr, oerr.Err)
					return exitError{code: 1, msg: "the effective spec is refused"}
				}
				return err
			}
			for _, t := range types {
				if _, ok := conn.InteractionTypes.Get(t); !ok {
					return fmt.Errorf("%s has no interaction type %q for customer %s (it has: %s)", provider, t, customer, strings.Join(conn.InteractionTypes.Keys, ", "))
				}
			}
			if layers == nil {
				base, err := spec.Apply(conn)
				if err != nil {
					return err
				}
				layers = base
				if diff {
					fmt.Fprintf(a.env.Stdout, "# customer %s has no override of %s\n", customer, provider)
					return nil
				}
			}
			out, err := layers.Explain(types, diff)
			if err != nil {
				return err
			}
			if len(layers.Overrides()) > 0 {
				fmt.Fprintf(a.env.Stdout, "# %s for customer %s: %s, then %s\n", provider, customer, conn.File, strings.Join(layers.Overrides(), ", then "))
			}
			_, err = a.env.Stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&customer, "customer", "", "customer id (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "provider name (required)")
	cmd.Flags().StringVar(&integration, "integration", "", "also apply the override attached to this integration")
	cmd.Flags().StringArrayVar(&types, "type", nil, "only this interaction type (repeatable)")
	cmd.Flags().BoolVar(&diff, "diff", false, "only what the overrides set or removed")
	_ = cmd.MarkFlagRequired("customer")
	_ = cmd.MarkFlagRequired("provider")
	return cmd
}

// printSpecErrors prints each located problem on a line of its own.
func printSpecErrors(w io.Writer, err error) {
	var es spec.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err.Error())
}

func (a *app) integrationsOverrideCmd() *cobra.Command {
	var (
		file        string
		clear, show bool
	)
	cmd := &cobra.Command{
		Use:   "override ID (--file FILE | --show | --clear)",
		Short: "Attach an override file to one integration",
		Long: `Attach an override to one integration, applied after the customer's override file
(--customers DIR/CUSTOMER/PROVIDER.yaml). The override is checked against the
provider's spec before it is stored; --file - reads standard input.`,
		Example: "  intake integrations override acme-salesforce --file acme-salesforce.yaml\n  intake integrations override acme-salesforce --clear",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			if n := btoi(file != "") + btoi(clear) + btoi(show); n != 1 {
				return errors.New("give one of --file, --show, --clear")
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			in, err := db.Integration(ctx, id)
			if err != nil {
				return err
			}
			switch {
			case show:
				text, err := db.IntegrationOverride(ctx, id)
				if err != nil {
					return err
				}
				if text == "" {
					fmt.Fprintf(a.env.Stdout, "# integration %s has no attached override\n", id)
					return nil
				}
				_, err = io.WriteString(a.env.Stdout, text)
				return err
			case clear:
				if err := db.SetIntegrationOverride(ctx, id, ""); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "detached the override of %s; the next sync runs without it\n", id)
				return nil
			}
			var data []byte
			if file == "-" {
				data, err = io.ReadAll(a.env.Stdin)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return err
			}
			name := file
			if file == "-" {
				name = "stdin"
			}
			// Refuse a bad override now rather than at the next sync.
			if _, _, err := a.catalog().Effective(in.CustomerID, in.Provider, string(data), name); err != nil {
				var oerr *spec.OverrideError
				if errors.As(err, &oerr) {
					printSpecErrors(a.env.Stderr, oerr.Err)
					return exitError{code: 1, msg: "override refused; nothing stored"}
				}
				return err
			}
			if err := db.SetIntegrationOverride(ctx, id, string(data)); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "attached %s to integration %s; the next sync uses it (see: intake explain --customer %s --provider %s --integration %s --diff)\n",
				name, id, in.CustomerID, in.Provider, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "override file to attach; - reads standard input")
	cmd.Flags().BoolVar(&clear, "clear", false, "detach the override")
	cmd.Flags().BoolVar(&show, "show", false, "print the attached override")
	return cmd
}

func (a *app) integrationsResyncCmd() *cobra.Command {
	var types []string
	cmd := &cobra.Command{
		Use:   "resync ID [--type T]...",
		Short: "Forget the incremental cursor so the next sync re-fetches history",
		Long: `Changing an override's mappings does not reset anything: new records and changed
ones get the new mapping as they arrive. resync forgets the cursor of the named
interaction types (default: all), so the next sync re-reads their whole history
and re-maps every record (unchanged ones are not rewritten).`,
		Example: "  intake integrations resync acme-salesforce --type accounts",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			reset, err := db.ResetCursors(cmd.Context(), args[0], types)
			if err != nil {
				return err
			}
			if len(reset) == 0 {
				fmt.Fprintf(a.env.Stdout, "nothing to reset: %s has no cursor for %s yet\n", args[0], orAll(types))
				return nil
			}
			fmt.Fprintf(a.env.Stdout, "reset the cursor of %s for %s; the next sync re-fetches their history\n", args[0], strings.Join(reset, ", "))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&types, "type", nil, "only this interaction type (repeatable; default: all)")
	return cmd
}

func orAll(types []string) string {
	if len(types) == 0 {
		return "any interaction type"
	}
	return strings.Join(types, ", ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
