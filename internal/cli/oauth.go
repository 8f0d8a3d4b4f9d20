package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/oauthflow"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

func (a *app) oauthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oauth",
		Short: "Connect customers' accounts with OAuth2 (authorization code + PKCE)",
		Long: `Providers whose spec says auth: {type: oauth2, grant: authorization_code} are
connected by the customer approving access in their browser. Register your OAuth
app with the provider and store it once per provider (intake oauth app set), then
run the connect server (intake oauth serve) and send each customer to

  PUBLIC_URL/oauth/PROVIDER/start?customer=CUSTOMER

See docs/oauth.md.`,
	}
	app := &cobra.Command{
		Use:   "app",
		Short: "Store and list the OAuth apps registered with providers",
	}
	app.AddCommand(a.oauthAppSetCmd(), a.oauthAppListCmd(), a.oauthAppRemoveCmd())
	cmd.AddCommand(app, a.oauthServeCmd())
	return cmd
}

// oauthProvider returns the connector of a provider connected with the
// authorization-code flow.
func (a *app) oauthProvider(provider string) (*spec.Connector, error) {
	conn, err := a.catalog().Get(provider)
	if err != nil {
		return nil, err
	}
	if au := conn.Auth; au == nil || au.Type != spec.AuthOAuth2 || au.Grant != spec.GrantAuthorizationCode {
		return nil, fmt.Errorf("provider %s does not use auth type oauth2 with grant authorization_code; OAuth apps are only for those", provider)
	}
	return conn, nil
}

func (a *app) oauthAppSetCmd() *cobra.Command {
	var provider, clientID, secretFile, redirect string
	cmd := &cobra.Command{
		Use:   "set --provider P --client-id ID --client-secret-file FILE [--redirect-url URL]",
		Short: "Store the OAuth app (client id and secret) of a provider",
		Long: `Store the client id and secret of the OAuth app you registered with a provider.
The secret is read from a file, or from standard input with --client-secret-file -,
never from the command line; it is encrypted with the secret key before it is stored
and is never shown again. Setting a provider's app again replaces it.

The redirect URL registered with the provider must be the connect server's public
URL followed by /oauth/callback (see intake oauth serve), unless you set another
with --redirect-url.`,
		Example: `  intake oauth app set --provider salesforce --client-id 3MVG9... --client-secret-file sf-secret.txt
  pass show salesforce/client-secret | intake oauth app set --provider salesforce --client-id 3MVG9... --client-secret-file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if _, err := a.oauthProvider(provider); err != nil {
				return err
			}
			if strings.TrimSpace(clientID) == "" {
				return errors.New("--client-id is empty")
			}
			if redirect != "" {
				if err := checkPublicURL("--redirect-url", redirect); err != nil {
					return err
				}
			}
			sec, err := readSecretFile(secretFile, a.env.Stdin)
			if err != nil {
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
			if err := db.SetOAuthApp(ctx, store.OAuthApp{Provider: provider, ClientID: strings.TrimSpace(clientID), ClientSecret: sec, RedirectURL: redirect}, box); err != nil {
				return err
			}
			out := a.env.Stdout
			fmt.Fprintf(out, "saved the OAuth app of %s: client id %s, client secret %s (encrypted with key %s)\n", provider, strings.TrimSpace(clientID), secret.Mask, box.KeyID())
			if redirect != "" {
				fmt.Fprintf(out, "redirect URL: %s (register it with %s; it must reach the connect server's /oauth/callback)\n", redirect, provider)
			} else {
				fmt.Fprintf(out, "redirect URL: PUBLIC_URL%s of `intake oauth serve` (register it with %s)\n", oauthflow.CallbackPath, provider)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "provider name, as in its connector spec (required)")
	cmd.Flags().StringVar(&clientID, "client-id", "", "the OAuth app's client id (required)")
	cmd.Flags().StringVar(&secretFile, "client-secret-file", "", "file holding the OAuth app's client secret; - reads standard input (required)")
	cmd.Flags().StringVar(&redirect, "redirect-url", "", "redirect URL registered with the provider (default PUBLIC_URL/oauth/callback of the connect server)")
	for _, f := range []string{"provider", "client-id", "client-secret-file"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// readSecretFile reads a secret from a file or, for "-", from stdin, without the
// surrounding whitespace an editor or echo adds.
func readSecretFile(name string, stdin io.Reader) (string, error) {
	data, err := secret.ReadFile(name, stdin)
	if err != nil {
		return "", fmt.Errorf("--client-secret-file: %w", err)
	}
	s := string(data)
	if s == "" {
		return "", fmt.Errorf("--client-secret-file %s: empty", name)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("--client-secret-file %s: holds more than one line; it must hold only the client secret", name)
	}
	return s, nil
}

func checkPublicURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q: use an absolute http(s) URL without query or fragment, e.g. https://connect.example.com", flag, raw)
	}
	return nil
}

func (a *app) oauthAppListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the stored OAuth apps (client secrets are never shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			apps, err := db.OAuthApps(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, len(apps))
				for i, app := range apps {
					out[i] = map[string]any{"provider": app.Provider, "client_id": app.ClientID, "client_secret": secret.Mask,
						"key_id": app.KeyID, "redirect_url": app.RedirectURL, "created_at": app.CreatedAt, "updated_at": app.UpdatedAt}
				}
				return writeJSONLines(a.env.Stdout, out)
			}
			if len(apps) == 0 {
				fmt.Fprintln(a.env.Stdout, "no OAuth apps yet; add one with `intake oauth app set`")
				return nil
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tCLIENT ID\tCLIENT SECRET\tREDIRECT URL\tUPDATED")
			for _, app := range apps {
				redirect := app.RedirectURL
				if redirect == "" {
					redirect = "PUBLIC_URL" + oauthflow.CallbackPath
				}
				fmt.Fprintf(tw, "%s\t%s\t%s (key %s)\t%s\t%s\n", app.Provider, app.ClientID, secret.Mask, app.KeyID, redirect, app.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func (a *app) oauthAppRemoveCmd() *cobra.Command {
	var provider string
	cmd := &cobra.Command{
		Use:   "remove --provider P",
		Short: "Remove the OAuth app of a provider (connected integrations keep working)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.DeleteOAuthApp(cmd.Context(), provider); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "removed the OAuth app of %s; new connections to it are refused until one is set again\n", provider)
			return nil
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "provider name (required)")
	_ = cmd.MarkFlagRequired("provider")
	return cmd
}

func (a *app) oauthServeCmd() *cobra.Command {
	var addr, public string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--public-url URL]",
		Short: "Serve the OAuth connect endpoints until Ctrl-C",
		Long: `Serve the endpoints that connect a customer's account:

  GET PUBLIC_URL/oauth/PROVIDER/start?customer=C[&integration=ID][&config.KEY=VALUE...]
      records a single-use state (valid 10 minutes) with a PKCE verifier and sends
      the browser to the provider to approve access
  GET PUBLIC_URL/oauth/callback
      where the provider sends the browser back: the code is exchanged for a token
      and the integration (default id CUSTOMER-PROVIDER) is created or updated

--public-url is where browsers reach this server (default http://ADDR); put a TLS
reverse proxy in front of it for real providers, which require https redirect URLs.
The start endpoint creates integrations for whoever follows a link: expose it only
to your own product (behind its authentication), never to the open internet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serveOAuth(cmd.Context(), addr, public)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8788", "listen address")
	cmd.Flags().StringVar(&public, "public-url", "", "URL where browsers reach this server (default http://ADDR)")
	return cmd
}

func (a *app) serveOAuth(ctx context.Context, addr, public string) error {
	if public != "" {
		if err := checkPublicURL("--public-url", public); err != nil {
			return err
		}
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
	cat := a.catalog()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("oauth serve: %w", err)
	}
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	public = strings.TrimRight(public, "/")
	h := oauthflow.New(oauthflow.Options{Store: db, Box: box, Catalog: cat, PublicURL: public, Logger: a.logger})
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	out := a.env.Stdout
	fmt.Fprintf(out, "OAuth connect server listening on http://%s (public URL %s)\n", ln.Addr(), public)
	fmt.Fprintf(out, "  start a connection: %s/oauth/PROVIDER/start?customer=CUSTOMER[&integration=ID][&config.KEY=VALUE...]\n", public)
	fmt.Fprintf(out, "  redirect URL:       %s%s (register it with each provider's OAuth app)\n", public, oauthflow.CallbackPath)
	if err := a.printOAuthProviders(ctx, out, db, cat, public); err != nil {
		a.logger.Warn("list OAuth apps", "error", err.Error())
	}
	fmt.Fprintln(out, "Ctrl-C to stop")

	select {
	case err := <-served:
		return fmt.Errorf("oauth serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("oauth serve: shutdown: %w", err)
	}
	fmt.Fprintln(out, "stopped")
	return nil
}

// printOAuthProviders lists the providers connected with the authorization-code flow
// and whether each has its OAuth app.
func (a *app) printOAuthProviders(ctx context.Context, out io.Writer, db *store.Store, cat *spec.Catalog, public string) error {
	apps, err := db.OAuthApps(ctx)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, app := range apps {
		has[app.Provider] = true
	}
	n := 0
	for _, p := range cat.Providers() {
		conn, err := cat.Get(p)
		if err != nil || conn.Auth == nil || conn.Auth.Type != spec.AuthOAuth2 || conn.Auth.Grant != spec.GrantAuthorizationCode {
			continue
		}
		if n == 0 {
			fmt.Fprintln(out, "  providers:")
		}
		n++
		if has[p] {
			fmt.Fprintf(out, "    %-20s %s\n", p, oauthflow.StartURL(public, p, "CUSTOMER"))
		} else {
			fmt.Fprintf(out, "    %-20s no OAuth app yet: intake oauth app set --provider %s --client-id ID --client-secret-file FILE\n", p, p)
		}
	}
	if n == 0 {
		fmt.Fprintln(out, "  no provider uses grant authorization_code yet (auth: {type: oauth2, grant: authorization_code, ...})")
	}
	return nil
}
