package boxoffice

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Message is one email to one recipient, in plain text. Kind names what it
// is for (MailVerifyEmail, MailPasswordReset) in logs and metrics; the body
// may carry one-time secrets and is never logged above debug level.
type Message struct {
	Kind    string
	To      string
	Subject string
	Text    string
}

// The kinds of mail boxoffice sends.
const (
	MailVerifyEmail   = "verify_email"
	MailPasswordReset = "password_reset"
	// MailOrderPaid confirms a paid order; MailOrderRefunded tells of a
	// refund of tickets; MailPaymentRefunded of a payment refunded because
	// its tickets were gone.
	MailOrderPaid       = "order_paid"
	MailOrderRefunded   = "order_refunded"
	MailPaymentRefunded = "payment_refunded"
)

// Mailer delivers mail. internal/smtp implements it on an SMTP server and a
// logging stand-in for when none is configured.
type Mailer interface {
	// Send delivers m. An error means m may not have been delivered: the
	// outbox tries again later.
	Send(ctx context.Context, m Message) error
}

// OutboxMessage is a Message in the outbox, written in the same transaction
// as what caused it and delivered by the Outbox sender.
type OutboxMessage struct {
	ID string
	Message
	CreatedAt time.Time
	// Attempts counts the failed deliveries so far; LastError is the last
	// one's error.
	Attempts  int
	LastError string
	// NextAttemptAt is when the message is due (again); while a sender
	// holds the message it is the end of that sender's lease.
	NextAttemptAt time.Time
}

// newOutboxMessage returns m ready to be written to the outbox, due at now.
func newOutboxMessage(m Message, now time.Time) *OutboxMessage {
	return &OutboxMessage{ID: NewID(), Message: m, CreatedAt: now, NextAttemptAt: now}
}

// Outbox delivery parameters.
const (
	// mailLease is how long a sender holds claimed messages before another
	// sender may take them: longer than a delivery can take.
	mailLease = 2 * time.Minute
	// mailSendTimeout bounds one delivery.
	mailSendTimeout = time.Minute
	// mailBatch is how many messages a sender claims at once.
	mailBatch = 16
	// MaxMailAttempts is how many failed deliveries a message gets before
	// the outbox gives up on it.
	MaxMailAttempts = 15
	// MailRetention is how long a sent message (its recipient, subject and
	// when it was sent; the text is dropped once sent) stays in the outbox
	// before it is purged.
	MailRetention = 7 * 24 * time.Hour
)

// MailRetryDelay returns how long to wait after the attempts-th failed
// delivery before the next: base doubled per failure, at most maxDelay. It
// returns false when the message has had MaxMailAttempts and is given up.
func MailRetryDelay(attempts int, base, maxDelay time.Duration) (time.Duration, bool) {
	if attempts >= MaxMailAttempts {
		return 0, false
	}
	d := base
	for i := 1; i < attempts && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay), true
}

// OutboxConfig tunes the Outbox sender.
type OutboxConfig struct {
	// Poll is how often the sender looks for due messages (default 1 s);
	// mail written by this instance is sent at once.
	Poll time.Duration
	// RetryBase is the delay after the first failed delivery, doubled per
	// failure up to RetryMax (defaults 30 s and 1 h).
	RetryBase, RetryMax time.Duration
}

// Outbox delivers the messages in the store's outbox with a Mailer,
// retrying failures with exponential backoff. Every instance runs one:
// each claims messages under a lease, so a message is sent once unless a
// sender dies mid-delivery (then another sends it again after the lease).
type Outbox struct {
	store  Store
	mailer Mailer
	log    *slog.Logger
	now    func() time.Time
	cfg    OutboxConfig
	kick   chan struct{}
}

func newOutbox(store Store, mailer Mailer, log *slog.Logger, now func() time.Time, cfg OutboxConfig) *Outbox {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMax < cfg.RetryBase {
		cfg.RetryMax = max(time.Hour, cfg.RetryBase)
	}
	return &Outbox{store: store, mailer: mailer, log: log, now: now, cfg: cfg, kick: make(chan struct{}, 1)}
}

// wake asks the sender to look at the outbox now, after this instance wrote
// to it.
func (o *Outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run delivers due messages until ctx is done and, beside that, purges the
// messages sent more than MailRetention ago every ten minutes.
func (o *Outbox) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Go(func() { purgeLoop(ctx, o.log, o.now, "sent mail", MailRetention, o.store.PurgeMail) })
	defer bg.Wait()
	t := time.NewTicker(o.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := o.deliver(ctx)
			if err != nil && ctx.Err() == nil {
				o.log.Warn("outbox: claiming mail failed", "err", err)
			}
			if err != nil || n < mailBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-o.kick:
		}
	}
}

// deliver claims one batch of due messages, sends them and records each
// outcome. It returns how many it claimed.
func (o *Outbox) deliver(ctx context.Context) (int, error) {
	now := normTime(o.now())
	msgs, err := o.store.ClaimMail(ctx, now, now.Add(mailLease), mailBatch)
	if err != nil {
		return 0, err
	}
	var sent []string
	for _, m := range msgs {
		sctx, cancel := context.WithTimeout(ctx, mailSendTimeout)
		err := o.mailer.Send(sctx, m.Message)
		cancel()
		if err == nil {
			sent = append(sent, m.ID)
			o.log.Info("mail sent", "mail_id", m.ID, "kind", m.Kind, "attempts", m.Attempts+1)
			continue
		}
		o.failed(ctx, m, err)
	}
	if len(sent) > 0 {
		// One write for the batch: during an on-sale's wave of sign-ups
		// the outbox must not add a commit per mail. Recorded even when
		// ctx ends: the sends happened.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := o.store.MailSent(rctx, sent, normTime(o.now())); err != nil {
			o.log.Warn("outbox: recording sent mail failed; it may be sent again after its lease", "count", len(sent), "err", err)
		}
	}
	return len(msgs), nil
}

// failed records a failed delivery of m and when to try again.
func (o *Outbox) failed(ctx context.Context, m *OutboxMessage, sendErr error) {
	now := normTime(o.now())
	attempts := m.Attempts + 1
	var next *time.Time
	if d, ok := MailRetryDelay(attempts, o.cfg.RetryBase, o.cfg.RetryMax); ok {
		t := now.Add(d)
		next = &t
		o.log.Warn("mail delivery failed; will retry", "mail_id", m.ID, "kind", m.Kind,
			"attempts", attempts, "retry_in", d, "err", sendErr)
	} else {
		o.log.Error("mail delivery failed; giving up", "mail_id", m.ID, "kind", m.Kind,
			"attempts", attempts, "err", sendErr)
	}
	msg := sendErr.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := o.store.MailFailed(rctx, m.ID, attempts, msg, next); err != nil {
		o.log.Warn("outbox: recording a failed delivery failed", "mail_id", m.ID, "err", err)
	}
}

// discardMailer drops every message; a Service without a Mailer uses it.
type discardMailer struct{}

func (discardMailer) Send(context.Context, Message) error { return nil }
