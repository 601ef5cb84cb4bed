package boxoffice

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Cursors are opaque to clients: base64url of "<unix micros>:<id>" or "<id>".

func encodeTimeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + ":" + id))
}

func decodeTimeCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), ":")
	if !ok || !ValidID(id) {
		return time.Time{}, "", false
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	t := time.UnixMicro(us).UTC()
	if !storableTime(t) {
		return time.Time{}, "", false // not a position this API hands out
	}
	return t, id, true
}

// storableTime reports whether every store can hold and compare t: years 1
// to 9999 (MySQL's DATETIME range).
func storableTime(t time.Time) bool {
	return t.Year() >= 1 && t.Year() <= 9999
}

func encodeIDCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeIDCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !ValidID(string(b)) {
		return "", false
	}
	return string(b), true
}

// pageLimit checks a client's limit (0 = default).
func pageLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultLimit, nil
	}
	if limit < 1 || limit > MaxLimit {
		var v ValidationError
		v.Add("limit", "must be between 1 and %d", MaxLimit)
		return 0, &v
	}
	return limit, nil
}

func badCursor() error {
	var v ValidationError
	v.Add("cursor", "is not a cursor this API returned")
	return &v
}
