package retrieve

import (
	"context"
	"errors"
	"net/http"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/spec"
)

// ClassError is a failure whose class a response rule or the auth layer decided.
type ClassError struct {
	Class string // spec.Class*
	Err   error
}

func (e *ClassError) Error() string { return e.Err.Error() }
func (e *ClassError) Unwrap() error { return e.Err }

// Classify names the failure class of a sync error (spec.Class*):
//   - auth: credentials refused even after one refresh, or the token endpoint refused
//     the grant or the client;
//   - permanent: the provider will give the same answer again (400, 403, 404, 422, a
//     refused redirect, a response rule that says fail);
//   - rate_limited: 429 or a rate_limited rule, after every retry;
//   - transient: connection errors, timeouts, 408 and 5xx, after every retry;
//   - bad_data: a response that is not valid JSON (or JSON Lines, or CSV), or records
//     jq that fails on it.
//
// Cancellation is not a failure and has no class ("").
func Classify(err error) string {
	if err == nil || errors.Is(err, context.Canceled) {
		return ""
	}
	var ce *ClassError
	if errors.As(err, &ce) {
		return ce.Class
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		if ae.Permanent {
			return spec.ClassAuth
		}
		return spec.ClassTransient
	}
	var he *HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Status == http.StatusUnauthorized:
			return spec.ClassAuth
		case he.Status == http.StatusTooManyRequests:
			return spec.ClassRateLimited
		case he.Status == http.StatusRequestTimeout || he.Status >= 500:
			return spec.ClassTransient
		default:
			return spec.ClassPermanent
		}
	}
	var be *BodyError
	if errors.As(err, &be) {
		if badBody(err) {
			return spec.ClassBadData
		}
		return spec.ClassTransient
	}
	if errors.Is(err, errCrossHostRedirect) || errors.Is(err, ErrRepeatedToken) || errors.Is(err, errCrossHost) {
		return spec.ClassPermanent
	}
	if errors.Is(err, errRecords) {
		return spec.ClassBadData
	}
	return spec.ClassTransient
}
