package main

import "testing"

func TestClassify(t *testing.T) {
	h, b, sqlb := newHold(&config{}), newBrowse(&config{}), newBaselineSQL(&config{})
	for _, tc := range []struct {
		sc     Scenario
		op     string
		status int
		code   string
		want   Class
	}{
		{h, "hold", 201, "", ClassOK},
		{h, "hold", 409, "sold_out", ClassExpected},
		{h, "hold", 409, "limit_exceeded", ClassExpected},
		{h, "hold", 403, "not_admitted", ClassExpected},
		{h, "hold", 409, "idempotency_key_reused", ClassUnexpected},
		{h, "hold", 409, "sales_closed", ClassUnexpected},
		{h, "hold", 401, "unauthenticated", ClassUnexpected},
		{h, "hold", 429, "rate_limited", ClassUnexpected},
		{h, "hold", 500, "internal", ClassUnexpected},
		{h, "hold", 503, "unavailable", ClassUnexpected},
		{h, "hold", 0, "transport:timeout", ClassUnexpected},
		{h, "hold", 200, "", ClassUnexpected},
		{b, "list", 200, "", ClassOK},
		{b, "get", 200, "", ClassOK},
		{b, "list_decode", 200, "bad_json", ClassUnexpected},
		{b, "get", 404, "not_found", ClassUnexpected},
		{b, "list", 0, "transport:eof", ClassUnexpected},
		{sqlb, "hold_tx", 0, "committed", ClassOK},
		{sqlb, "hold_tx", 0, "sold_out", ClassExpected},
		{sqlb, "hold_tx", 0, "mysql_1213", ClassUnexpected},
	} {
		if got := tc.sc.Classify(tc.op, tc.status, tc.code); got != tc.want {
			t.Errorf("%T.Classify(%s, %d, %q) = %s, want %s", tc.sc, tc.op, tc.status, tc.code, got, tc.want)
		}
	}
}

func TestJSONStringField(t *testing.T) {
	for _, tc := range []struct {
		body, key, want string
	}{
		{`{"type":"about:blank","status":409,"code":"sold_out"}`, "code", "sold_out"},
		{`{"code" : "limit_exceeded"}`, "code", "limit_exceeded"},
		{"{\n  \"code\":\n \"x\"}", "code", "x"},
		{`{"id":"01ABC","event_id":"01EV","tier_id":"01T"}`, "id", "01ABC"},
		{`{"event_id":"01EV","id":"01ABC"}`, "id", "01ABC"},
		{`{"detail":"code","code":"real"}`, "code", "real"},
		{`{"code":5}`, "code", ""},
		{`{"code":"a\"b"}`, "code", ""},
		{`{"other":"x"}`, "code", ""},
		{`{"code":"unterminated`, "code", ""},
		{``, "code", ""},
	} {
		if got := jsonStringField([]byte(tc.body), tc.key); got != tc.want {
			t.Errorf("jsonStringField(%s, %q) = %q, want %q", tc.body, tc.key, got, tc.want)
		}
	}
}
