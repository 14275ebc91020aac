// Package sourcedate reads SOURCE_DATE_EPOCH, the reproducible-builds.org
// convention for the one timestamp a reproducible artifact may carry.
package sourcedate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Name is the environment variable's name.
const Name = "SOURCE_DATE_EPOCH"

// Parse reads a SOURCE_DATE_EPOCH value: whole seconds since 1970 UTC, as
// the specification requires (no sign, no fraction). The result is in UTC.
func Parse(value string) (time.Time, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return time.Time{}, fmt.Errorf("%s is empty: want whole seconds since 1970", Name)
	}
	if v[0] == '+' || v[0] == '-' {
		return time.Time{}, fmt.Errorf("%s %q: want whole seconds since 1970, without a sign", Name, value)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want whole seconds since 1970", Name, value)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Lookup reads SOURCE_DATE_EPOCH through getenv (the environment is passed
// in, never read here). ok is false when it is unset or empty.
func Lookup(getenv func(string) string) (t time.Time, ok bool, err error) {
	v := strings.TrimSpace(getenv(Name))
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err = Parse(v)
	return t, err == nil, err
}
