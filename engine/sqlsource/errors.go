package sqlsource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// problem is what a database error means for the sync: its failure class, whether a
// retry may help, and a hint that names the spec key to look at.
type problem struct {
	class string
	retry bool
	hint  string
}

// diagnose reads a driver error. Failures to reach the server are transient; refused
// credentials are auth; a missing database, table or column, a syntax error or a
// missing grant are permanent (the same query fails the same way until the spec or
// the database changes).
func diagnose(err error) problem {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pgProblem(pe.Code)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlProblem(me.Number)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return problem{class: spec.ClassTransient, hint: "the page query did not answer in time: check the network, or raise sql.statement_timeout"}
	case errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return problem{class: spec.ClassTransient, retry: true, hint: "the database could not be reached: check the host and port in the DSN, and that the server runs and accepts connections from here"}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return problem{class: spec.ClassTransient, retry: true, hint: "the database could not be reached: check the host and port in the DSN"}
	}
	return problem{class: spec.ClassTransient, retry: true}
}

const (
	hintAuth      = "the server refused the user name or password in the DSN (credentials.dsn)"
	hintDatabase  = "the database named in the DSN does not exist, or the user may not use it"
	hintTable     = "a table in query.from does not exist (for PostgreSQL, check its schema and the DSN's search_path; for MySQL, the database in the DSN)"
	hintColumn    = "a column named in query.select, cursor, tiebreaker or where does not exist in query.from"
	hintSyntax    = "the query is not valid SQL: check query.from and query.where"
	hintGrant     = "the database user may not read it: grant it SELECT"
	hintTimeout   = "the page query ran longer than sql.statement_timeout: index the cursor and tiebreaker columns together, lower query.limit, or raise sql.statement_timeout"
	hintTransient = "the server was busy or restarting; the page is retried"
	hintReadOnly  = "the query tried to write: sql sources read in read-only transactions"
)

func pgProblem(code string) problem {
	switch code {
	case "28P01", "28000":
		return problem{class: spec.ClassAuth, hint: hintAuth}
	case "3D000":
		return problem{class: spec.ClassPermanent, hint: hintDatabase}
	case "42P01", "3F000":
		return problem{class: spec.ClassPermanent, hint: hintTable}
	case "42703":
		return problem{class: spec.ClassPermanent, hint: hintColumn}
	case "42601", "42883", "42804", "42846":
		return problem{class: spec.ClassPermanent, hint: hintSyntax}
	case "42501":
		return problem{class: spec.ClassPermanent, hint: hintGrant}
	case "57014":
		return problem{class: spec.ClassTransient, hint: hintTimeout}
	case "25006":
		return problem{class: spec.ClassPermanent, hint: hintReadOnly}
	case "40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "53000", "53100", "53200", "08000", "08003", "08006", "08001", "08004":
		return problem{class: spec.ClassTransient, retry: true, hint: hintTransient}
	}
	switch code[:2] {
	case "42", "22", "0A":
		// Other syntax, access-rule and data errors: the same query fails again.
		return problem{class: spec.ClassPermanent}
	}
	return problem{class: spec.ClassTransient, retry: true}
}

func mysqlProblem(n uint16) problem {
	switch n {
	case 1045, 1698, 1251:
		return problem{class: spec.ClassAuth, hint: hintAuth}
	case 1044, 1049:
		return problem{class: spec.ClassPermanent, hint: hintDatabase}
	case 1146, 1109:
		return problem{class: spec.ClassPermanent, hint: hintTable}
	case 1054:
		return problem{class: spec.ClassPermanent, hint: hintColumn}
	case 1064, 1149, 1248, 1052:
		return problem{class: spec.ClassPermanent, hint: hintSyntax}
	case 1142, 1143, 1227:
		return problem{class: spec.ClassPermanent, hint: hintGrant}
	case 1792:
		return problem{class: spec.ClassPermanent, hint: hintReadOnly}
	case 3024, 1969, 1028:
		return problem{class: spec.ClassTransient, hint: hintTimeout}
	case 1040, 1053, 1205, 1213, 1927, 2006, 2013, 1159, 1161:
		return problem{class: spec.ClassTransient, retry: true, hint: hintTransient}
	}
	if n >= 1000 && n < 2000 {
		return problem{class: spec.ClassPermanent}
	}
	return problem{class: spec.ClassTransient, retry: true}
}

// failure wraps a database error with what was being done, its class and hint. The
// caller redacts it.
func failure(doing string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	p := diagnose(err)
	msg := fmt.Sprintf("%s: %v", doing, err)
	if p.hint != "" {
		msg += " (" + p.hint + ")"
	}
	return &retrieve.ClassError{Class: p.class, Err: &dbError{msg: msg, cause: err}}
}

// dbError keeps the driver error reachable (errors.As) behind a message that says
// what was being done.
type dbError struct {
	msg   string
	cause error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.cause }

// retryable reports whether err, as wrapped by failure, may succeed on a new attempt.
func retryable(err error) bool {
	var ce *retrieve.ClassError
	if !errors.As(err, &ce) {
		return false
	}
	return diagnose(ce.Err).retry
}

// permanent is a spec or position problem no retry will fix.
func permanent(format string, args ...any) error {
	return &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf(format, args...)}
}
