package catalog

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes. Every error returned by a catalog service is an *Error with
// one of these codes, or an unexpected internal error that ErrorCode
// reports as EINTERNAL. Frontends map codes to HTTP statuses with
// HTTPStatus and show only ErrorMessage to users.
const (
	ENOTFOUND     = "not_found"    // no such user, torrent, ... (or not visible to the actor)
	ECONFLICT     = "conflict"     // duplicate name or info hash, object in use
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated, but not allowed
	EINVALID      = "invalid"      // bad input
	EINTERNAL     = "internal"     // anything else; details only in logs
)

// Error is a catalog error meant for users: Message is safe to show.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: "" for nil, the code of an *Error in
// its chain, and EINTERNAL for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns what a user may be told about err: an *Error's
// message, or a generic text for internal errors (log those instead).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// HTTPStatus maps an error code to an HTTP status (500 for unknown codes,
// 200 for "").
func HTTPStatus(code string) int {
	switch code {
	case "":
		return http.StatusOK
	case ENOTFOUND:
		return http.StatusNotFound
	case ECONFLICT:
		return http.StatusConflict
	case EUNAUTHORIZED:
		return http.StatusUnauthorized
	case EFORBIDDEN:
		return http.StatusForbidden
	case EINVALID:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
