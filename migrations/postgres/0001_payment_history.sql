-- Payment history read model: one row per payment, per-user counts for cheap totals.
CREATE TABLE IF NOT EXISTS payment_history (
    id              uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        char(3)     NOT NULL,
    status          text        NOT NULL,
    charge_status   text        NOT NULL,
    refunded_amount bigint      NOT NULL DEFAULT 0,
    course_id       text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS payment_history_user_created
    ON payment_history (user_id, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS payment_history_user_status_created
    ON payment_history (user_id, status, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS payment_counts (
    user_id text   NOT NULL,
    status  text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (user_id, status)
);
