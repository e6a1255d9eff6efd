-- The encryption keys of the events, by fingerprint (never the key): those that wrote events,
-- from which position, and those given to the processes to read with only (the first step of
-- a rotation). Every command checks at start that each key that wrote is configured, and
-- writes only with a key that wrote before or was given to read with first. See
-- adapters/key_registry.py.
CREATE TABLE IF NOT EXISTS encryption_keys (
    fingerprint text    PRIMARY KEY,
    wrote       integer NOT NULL CHECK (wrote IN (0, 1)),
    since       bigint  NOT NULL
);
