-- Scored transactions (from the fraud and legit topics) and labels (ground truth and analysts).
-- Column names follow fraudcore.schemas.ScoredTransaction and Label.

CREATE TABLE scored_transactions (
    tx_id             text PRIMARY KEY,
    event_time        timestamptz      NOT NULL,
    sender_account_id text             NOT NULL,
    sender_address    text             NOT NULL,
    receiver_address  text             NOT NULL,
    amount            double precision NOT NULL,
    amount_usd        double precision NOT NULL,
    chain             text,
    asset             text,
    fee               double precision,
    fee_usd           double precision,
    tx_type           text,
    channel           text,
    device_id         text,
    ip_country        char(2),
    is_new_device     boolean,
    is_new_country    boolean,
    is_new_channel    boolean,
    produced_at       timestamptz,
    score             real             NOT NULL,
    predicted_fraud   boolean          NOT NULL,
    threshold         real             NOT NULL,
    model_version     text             NOT NULL,
    xgb_score         real,
    lstm_score        real,
    reasons           text[]           NOT NULL DEFAULT '{}',
    scored_at         timestamptz      NOT NULL,
    stored_at         timestamptz      NOT NULL DEFAULT now()
);

-- time ranges, wallet look-ups (either side), fraud-only queues
CREATE INDEX scored_transactions_event_time ON scored_transactions (event_time DESC);
CREATE INDEX scored_transactions_sender ON scored_transactions (sender_address, event_time DESC);
CREATE INDEX scored_transactions_receiver ON scored_transactions (receiver_address, event_time DESC);
CREATE INDEX scored_transactions_alerts ON scored_transactions (event_time DESC) WHERE predicted_fraud;

CREATE TABLE labels (
    tx_id       text        NOT NULL,
    source      text        NOT NULL CHECK (source IN ('ground_truth', 'analyst')),
    is_fraud    boolean     NOT NULL,
    typology    text,
    labelled_at timestamptz NOT NULL,
    note        text,
    analyst     text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tx_id, source)
);

CREATE INDEX labels_labelled_at ON labels (labelled_at DESC);
