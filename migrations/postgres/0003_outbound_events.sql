-- Outbound events: a transactional outbox, one row per announced event and endpoint, filled by
-- the outbound-events projection together with its tracking position; see adapters/outbox_*.py.
-- Rows hold ids only: the body is built from the payment at that event's version when sent.
CREATE TABLE IF NOT EXISTS event_outbox (
    event_id         uuid        NOT NULL,
    endpoint         text        NOT NULL,
    type             text        NOT NULL,
    payment_id       uuid        NOT NULL,
    sequence         integer     NOT NULL,
    refund_number    integer,
    position         bigint      NOT NULL,
    occurred_at      timestamptz NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_error       text,
    delivered_at     timestamptz,
    PRIMARY KEY (event_id, endpoint)
);

CREATE INDEX IF NOT EXISTS event_outbox_due
    ON event_outbox (next_attempt_at, position) WHERE status = 'pending';

CREATE INDEX IF NOT EXISTS event_outbox_chain
    ON event_outbox (endpoint, payment_id, sequence) WHERE status <> 'delivered';

CREATE INDEX IF NOT EXISTS event_outbox_position ON event_outbox (position DESC);
