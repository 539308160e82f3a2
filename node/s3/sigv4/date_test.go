package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRequestDate(t *testing.T) {
	for _, c := range []struct {
		name           string
		hdr            map[string]string
		header, iso    string
		want           error
		wantTimeString string
	}{
		{"x-amz-date", map[string]string{"X-Amz-Date": "20130524T000000Z"}, "x-amz-date", "20130524T000000Z", nil, "2013-05-24T00:00:00Z"},
		{"x-amz-date wins over Date", map[string]string{"X-Amz-Date": "20130524T000000Z", "Date": "Sat, 25 May 2013 00:00:00 GMT"}, "x-amz-date", "20130524T000000Z", nil, "2013-05-24T00:00:00Z"},
		{"Date, RFC 1123", map[string]string{"Date": "Fri, 24 May 2013 01:02:03 GMT"}, "date", "20130524T010203Z", nil, "2013-05-24T01:02:03Z"},
		{"Date, RFC 850", map[string]string{"Date": "Friday, 24-May-13 01:02:03 GMT"}, "date", "20130524T010203Z", nil, "2013-05-24T01:02:03Z"},
		{"Date, ANSI C", map[string]string{"Date": "Fri May 24 01:02:03 2013"}, "date", "20130524T010203Z", nil, "2013-05-24T01:02:03Z"},
		{"none", nil, "", "", ErrMalformed, ""},
		{"bad Date", map[string]string{"Date": "yesterday"}, "", "", ErrMalformed, ""},
		{"x-amz-date with offset", map[string]string{"X-Amz-Date": "20130524T000000+0100"}, "", "", ErrMalformed, ""},
		{"x-amz-date without Z", map[string]string{"X-Amz-Date": "20130524T000000"}, "", "", ErrMalformed, ""},
		{"x-amz-date impossible", map[string]string{"X-Amz-Date": "20130532T000000Z"}, "", "", ErrMalformed, ""},
	} {
		r, _ := http.NewRequest("GET", "http://h/", nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		tm, header, iso, err := requestDate(r)
		if !errorsIs(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && (header != c.header || iso != c.iso || tm.Format(time.RFC3339) != c.wantTimeString) {
			t.Errorf("%s: %v %q %q", c.name, tm, header, iso)
		}
	}
}

// A request dated by Date alone must sign it.
func TestDateMustBeSigned(t *testing.T) {
	r := rawRequest(t, []string{
		"GET /test.txt HTTP/1.1",
		"Host: examplebucket.s3.amazonaws.com",
		"Date: Fri, 24 May 2013 00:00:00 GMT",
		"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=host;x-amz-content-sha256,Signature=" + strings.Repeat("0", 64),
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}, nil)
	_, err := (&Verifier{Keys: testKeys, Now: fixedClock(awsExampleTime)}).Verify(r)
	wantErr(t, err, ErrMalformed)
}
