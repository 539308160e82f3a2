package sigv4

import (
	"fmt"
	"net/http"
	"time"
)

// amzDateFormat is ISO 8601 basic format, as in x-amz-date and X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// parseAmzDate parses an x-amz-date value.
func parseAmzDate(s string) (time.Time, error) {
	t, err := time.Parse(amzDateFormat, s)
	if err != nil || len(s) != len(amzDateFormat) {
		return time.Time{}, fmt.Errorf("%w: date %q is not YYYYMMDDTHHMMSSZ", ErrMalformed, s)
	}
	return t, nil
}

// requestDate is the date of a header-signed request: x-amz-date, else
// Date (an HTTP date). It returns the time, the header it came from and
// the ISO 8601 form the string to sign uses.
func requestDate(r *http.Request) (t time.Time, header, iso string, err error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err = parseAmzDate(s)
		return t, "x-amz-date", s, err
	}
	s := r.Header.Get("Date")
	if s == "" {
		return time.Time{}, "", "", fmt.Errorf("%w: neither x-amz-date nor Date is set", ErrMalformed)
	}
	t, err = http.ParseTime(s)
	if err != nil {
		return time.Time{}, "", "", fmt.Errorf("%w: Date %q: %v", ErrMalformed, s, err)
	}
	t = t.UTC()
	return t, "date", t.Format(amzDateFormat), nil
}

// checkSkew refuses t further than max from now.
func checkSkew(t, now time.Time, max time.Duration) error {
	if d := now.Sub(t); d > max || d < -max {
		return fmt.Errorf("%w: request time %s, server time %s (more than %s apart)",
			ErrSkew, t.UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), max)
	}
	return nil
}
