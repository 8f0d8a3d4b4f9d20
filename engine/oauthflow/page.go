package oauthflow

import (
	"bytes"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}h1{font-size:1.4rem}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{- if .Hint}}
<p>{{.Hint}}</p>
{{- end}}
</body>
</html>
`))

// page writes a small HTML page. Nothing secret is ever passed to it.
func (h *Handler) page(w http.ResponseWriter, status int, title, msg, hint string) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, struct{ Title, Message, Hint string }{title, msg, hint}); err != nil {
		http.Error(w, title, status)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail answers a failed request: a page that explains it, and the reason in the log.
// The errors reaching it never hold secrets (they are redacted where one could slip in).
func (h *Handler) fail(w http.ResponseWriter, log *slog.Logger, what string, err error) {
	var ee *exchangeError
	var ue *userError
	switch {
	case errors.As(err, &ee):
		log.Error(what+": token exchange failed", "reason", ee.reason)
		h.page(w, ee.status, ee.title, ee.msg, ee.hint)
	case errors.As(err, &ue):
		log.Warn(what+": refused", "reason", ue.msg)
		h.page(w, ue.status, ue.title, ue.msg, ue.hint)
	default:
		log.Error(what+": failed", "error", err.Error())
		h.page(w, http.StatusInternalServerError, "Something went wrong",
			"intake could not complete this request. The reason was logged for the operator of this service.", "Try again later from the link you were given.")
	}
}
