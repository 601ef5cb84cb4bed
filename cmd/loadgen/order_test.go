package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testPaymentsSecret = "loadgen-test-payments-secret"

// orderDetails decodes the order check's details.
func orderDetails(t *testing.T, rep *Report) orderCheckReport {
	t.Helper()
	if rep.Check == nil {
		t.Fatal("no check")
	}
	b, _ := json.Marshal(rep.Check.Details)
	var d orderCheckReport
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

var adminArgs = []string{"-admin-email", "admin@example.test", "-admin-password", "admin-password"}

func TestParseOrderLines(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []orderLine
		wantErr string
	}{
		{"A:1,B:2", []orderLine{{"A", 1}, {"B", 2}}, ""},
		{" A : 3 ", []orderLine{{"A", 3}}, ""},
		{"", nil, "required"},
		{"A", nil, "TIER:QTY"},
		{"A:0", nil, "at least 1"},
		{"A:x", nil, "TIER:QTY"},
		{"A:1,A:2", nil, "twice"},
	} {
		got, err := parseOrderLines(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseOrderLines(%q): err %v, want one saying %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("parseOrderLines(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestOrderFlags(t *testing.T) {
	t.Setenv("BOXOFFICE_TEST_PAYMENTS_SECRET", "")
	base := []string{"-jwt-secret", testSecret, "-vus", "1", "-event", "E", "-order-lines", "A:1"}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-scenario", "order"}, ""},
		{[]string{"-scenario", "checkout"}, "-payments-secret"},
		{[]string{"-scenario", "checkout", "-payments-secret", "s"}, "-admin-email"},
		{append([]string{"-scenario", "checkout", "-payments-secret", "s", "-checkout-cancel", "0.6", "-checkout-visa", "0.6"}, adminArgs...), "more than 1"},
		{append([]string{"-scenario", "webhook", "-payments-secret", "s", "-webhook-stale", "2"}, adminArgs...), "-webhook-stale 2"},
		{append([]string{"-scenario", "webhook", "-payments-secret", "s", "-rate", "10"}, adminArgs...), "closed model"},
		{append([]string{"-scenario", "webhook", "-payments-secret", "s"}, adminArgs...), ""},
	} {
		_, err := parseFlags(append(append([]string{}, base...), tc.args...), io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestOrderProblem(t *testing.T) {
	lines := []orderLine{{"A", 1}, {"B", 2}}
	view := func(status string, refunded ...int) *orderView {
		v := &orderView{ID: "O", EventID: "E", Status: status}
		for i, l := range lines {
			v.Lines = append(v.Lines, struct {
				TierID    string `json:"tier_id"`
				Quantity  int    `json:"quantity"`
				Refunded  int    `json:"refunded"`
				UnitPrice struct {
					Amount int64 `json:"amount"`
				} `json:"unit_price"`
			}{TierID: l.TierID, Quantity: l.Quantity})
			v.Lines[i].UnitPrice.Amount = 100
			if i < len(refunded) {
				v.Lines[i].Refunded = refunded[i]
				v.Refunded.Amount += int64(refunded[i]) * 100
			}
		}
		if sold(status) {
			v.Payment = &struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}{"P", "succeeded"}
		}
		return v
	}
	for _, tc := range []struct {
		name string
		po   placedOrder
		v    *orderView
		want string
	}{
		{"pending as wanted", placedOrder{Want: "pending"}, view("pending"), ""},
		{"any state", placedOrder{}, view("expired"), ""},
		{"paid by its payment", placedOrder{Want: "paid", PaymentID: "P"}, view("paid"), ""},
		{"refunded one", placedOrder{Want: "partially_refunded", Refunded: 1, PaymentID: "P"}, view("partially_refunded", 1), ""},
		{"wrong state", placedOrder{Want: "paid"}, view("pending"), "is pending, want paid"},
		{"another payment", placedOrder{Want: "paid", PaymentID: "Q"}, view("paid"), "paid by payment P, want Q"},
		{"refund not asked for", placedOrder{Want: "partially_refunded", Refunded: 1}, view("partially_refunded", 1, 1), "2 tickets refunded, want 1"},
		{"event", placedOrder{}, &orderView{EventID: "X"}, "of event X"},
		{"lines", placedOrder{}, &orderView{EventID: "E"}, "0 lines, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := orderProblem(&tc.po, tc.v, lines, "E")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("orderProblem = %q, want %q", got, tc.want)
			}
		})
	}
	// A refunded amount that does not match the refunded tickets.
	v := view("partially_refunded", 1)
	v.Refunded.Amount = 50
	if got := orderProblem(&placedOrder{}, v, lines, "E"); !strings.Contains(got, "refunded 50") {
		t.Fatalf("orderProblem = %q", got)
	}
	// A sold order whose payment did not succeed.
	v = view("paid")
	v.Payment.Status = "processing"
	if got := orderProblem(&placedOrder{}, v, lines, "E"); !strings.Contains(got, "its payment processing") {
		t.Fatalf("orderProblem = %q", got)
	}
}

func TestOrderAgainstRealServer(t *testing.T) {
	// Orders of 1 A + 2 B: B's 30 tickets run out after 15 orders.
	base, event, tiers := startServer(t, serverSpec{users: 50, capacities: []int{40, 30}, maxPerUser: 100})
	rep, stdout, err := runLoadgen(t, append([]string{"-scenario", "order", "-targets", base, "-event", event,
		"-order-lines", tiers[0] + ":1," + tiers[1] + ":2", "-jwt-secret", testSecret, "-users", "50", "-vus", "4",
		"-duration", "1500ms", "-fail-on-unexpected"}, adminArgs...)...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	d := orderDetails(t, rep)
	if !rep.Check.OK || rep.Check.Inconclusive || rep.OK != 15 || d.Found != 15 || d.ByStatus["pending"] != 15 || rep.ByCode["sold_out"] == 0 {
		t.Fatalf("ok=%d codes=%v details %+v check %v", rep.OK, rep.ByCode, d, rep.Check.Lines)
	}
	if !strings.Contains(stdout, "capacity 40 = held 15 + confirmed 0 + available 25: ok") ||
		!strings.Contains(stdout, "capacity 30 = held 30 + confirmed 0 + available 0: ok") {
		t.Fatalf("summary:\n%s", stdout)
	}
}

func TestCheckoutAgainstRealServer(t *testing.T) {
	base, event, tiers := startServer(t, serverSpec{users: 40, capacities: []int{100000, 100000}, maxPerUser: 10000,
		paymentsSecret: testPaymentsSecret})
	args := append([]string{"-scenario", "checkout", "-targets", base + "," + base, "-event", event,
		"-order-lines", tiers[0] + ":2," + tiers[1] + ":1", "-jwt-secret", testSecret, "-users", "40", "-vus", "6",
		"-duration", "2s", "-payments-secret", testPaymentsSecret, "-checkout-cancel", "0.2", "-checkout-visa", "0.3",
		"-checkout-refund", "0.3", "-fail-on-unexpected"}, adminArgs...)
	for run := range 2 { // the second run's check starts from the first's sales
		rep, stdout, err := runLoadgen(t, args...)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		d := orderDetails(t, rep)
		if !rep.Check.OK || rep.Check.Inconclusive || d.Wrong != 0 || d.Lost != 0 || d.Found != d.Orders {
			t.Fatalf("run %d: check %v", run, rep.Check.Lines)
		}
		for _, op := range []string{"order", "pay", "webhook", "read", "cancel", "refund"} {
			if rep.Ops[op].Count == 0 {
				t.Fatalf("run %d: no %s: ops %v", run, op, rep.Ops)
			}
		}
		if d.ByStatus["paid"] == 0 || d.ByStatus["partially_refunded"] == 0 || d.ByStatus["cancelled"] == 0 || d.Paid == 0 || d.Refunded == 0 ||
			d.OrderMoney != d.Paid-d.Refunded || !strings.Contains(stdout, "money USD, whole event") {
			t.Fatalf("run %d: details %+v\n%s", run, d, stdout)
		}
	}
}

func TestWebhookAgainstRealServer(t *testing.T) {
	base, event, tiers := startServer(t, serverSpec{users: 50, capacities: []int{1000, 1000}, maxPerUser: 100,
		paymentsSecret: testPaymentsSecret})
	rep, stdout, err := runLoadgen(t, append([]string{"-scenario", "webhook", "-targets", base, "-event", event,
		"-order-lines", tiers[0] + ":1," + tiers[1] + ":1", "-jwt-secret", testSecret, "-users", "50", "-vus", "8",
		"-duration", "30s", "-payments-secret", testPaymentsSecret, "-webhook-orders", "300",
		"-webhook-duplicates", "0.3", "-webhook-stale", "0.3", "-fail-on-unexpected"}, adminArgs...)...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	d := orderDetails(t, rep)
	if !rep.Check.OK || d.ByStatus["paid"] != 300 || d.Paid != 300*(5000+3000) || d.Refunded != 0 {
		t.Fatalf("details %+v check %v", d, rep.Check.Lines)
	}
	if rep.Ops["webhook"].Count != 300 || rep.Ops["duplicate"].Count == 0 || rep.Ops["stale"].Count == 0 || rep.DurationS >= 30 {
		t.Fatalf("ops %v in %.1fs", rep.Ops, rep.DurationS)
	}
	if !strings.Contains(stdout, "confirmed grew by 300, the run's paid orders keep 300 tickets of it: ok") {
		t.Fatalf("summary:\n%s", stdout)
	}
}

// TestCheckoutCheckFailsOnUnaccountedSale: a ticket sold behind the run's
// back, between its Prepare and its check, is money and a ticket the run's
// orders do not account for, as a payment applied twice would be.
func TestCheckoutCheckFailsOnUnaccountedSale(t *testing.T) {
	base, event, tiers := startServer(t, serverSpec{users: 10, capacities: []int{1000, 1000}, maxPerUser: 100,
		paymentsSecret: testPaymentsSecret})
	cfg, err := parseFlags(append([]string{"-scenario", "checkout", "-targets", base, "-event", event,
		"-order-lines", tiers[0] + ":1," + tiers[1] + ":1", "-jwt-secret", testSecret, "-users", "10", "-vus", "2",
		"-duration", "500ms", "-payments-secret", testPaymentsSecret, "-quiet"}, adminArgs...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sc := newCheckout(cfg).(*checkout)
	env := &Env{Cfg: cfg, Client: newHTTPClient(4, cfg.Timeout), Rec: newRecorder(sc.Classify), RunID: "r", Logf: t.Logf}
	if err := sc.Prepare(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	runLoad(t.Context(), env, sc)
	// Someone else buys and pays an order of the event.
	post := func(path, body string) string {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header["Authorization"] = env.Auth[9]
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ ID, Status string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
		return out.ID
	}
	id := post("/api/v1/events/"+event+"/orders", `{"lines":[{"tier_id":"`+tiers[0]+`","quantity":1}]}`)
	post("/api/v1/orders/"+id+"/payments", `{"payment_token":"tok_visa"}`)

	rep, err := sc.Check(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Lines, "\n")
	if rep.OK || !strings.Contains(all, "tier "+tiers[0]+": confirmed grew by") || !strings.Contains(all, "VIOLATED") {
		t.Fatalf("the check passed an unaccounted sale: %s", all)
	}
}
