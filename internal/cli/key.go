package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/secret"
)

func (a *app) keyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the key that encrypts stored credentials",
	}
	var out string
	gen := &cobra.Command{
		Use:   "generate [--out FILE]",
		Short: "Create a new random 256-bit key file (mode 0600)",
		Long: `Create a key file for encrypting integration credentials at rest (AES-256-GCM).
It refuses to replace an existing file: credentials sealed with the old key would
become unreadable. Keep a copy of the key somewhere safe; without it, stored
credentials cannot be recovered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = secret.DefaultKeyFile()
			}
			if err := secret.GenerateKeyFile(out); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "wrote a new key to %s\n", out)
			return nil
		},
	}
	gen.Flags().StringVar(&out, "out", "", "where to write the key (default "+secret.DefaultKeyFile()+")")
	cmd.AddCommand(gen)
	return cmd
}
