package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/spec"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check connector specs: unknown keys, wrong types, jq that does not compile",
		Long: `Load each connector spec the way the engine does and report every problem as
FILE:LINE:COL: key.path: message. Exits 1 when any file has a problem.`,
		Example: "  intake validate connectors/*.yaml",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			bad := 0
			for _, f := range files {
				c, err := spec.LoadFile(f)
				if err != nil {
					bad++
					printSpecErrors(a.env.Stderr, err)
					continue
				}
				fmt.Fprintf(a.env.Stdout, "%s: ok (provider %s, %d interaction types)\n", f, c.Provider, c.InteractionTypes.Len())
			}
			if bad > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%d of %d specs have problems", bad, len(files))}
			}
			return nil
		},
	}
}
