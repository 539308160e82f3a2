package node

import (
	"net/http"
	"time"
)

// appendHTTPDate appends t in UTC as http.TimeFormat ("Mon, 02 Jan 2006
// 15:04:05 GMT"), byte for byte what t.UTC().AppendFormat(b,
// http.TimeFormat) appends, without walking the layout: the Date and
// Last-Modified of every answer cost a few per cent of a hot 1 KiB GET's
// CPU through AppendFormat. Years outside 0-9999 take AppendFormat.
func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	hour, minute, sec := t.Clock()
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	wd := int(t.Weekday()) * 3
	mo := (int(month) - 1) * 3
	return append(b,
		days[wd], days[wd+1], days[wd+2], ',', ' ',
		byte('0'+day/10), byte('0'+day%10), ' ',
		months[mo], months[mo+1], months[mo+2], ' ',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), ' ',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), ' ', 'G', 'M', 'T')
}
