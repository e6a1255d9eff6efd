-- Operator read model: every user's payments for the console's search, newest first.
-- One index per way of searching, each ending in the sort order, so a page is an index scan.
CREATE TABLE IF NOT EXISTS operator_payments (
    id              uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        char(3)     NOT NULL,
    status          text        NOT NULL,
    charge_status   text        NOT NULL,
    refunded_amount bigint      NOT NULL DEFAULT 0,
    course_id       text,
    intent_id       text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS operator_payments_created
    ON operator_payments (created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS operator_payments_status_created
    ON operator_payments (status, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS operator_payments_user_created
    ON operator_payments (user_id, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS operator_payments_course_created
    ON operator_payments (course_id, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS operator_payments_intent
    ON operator_payments (intent_id);
