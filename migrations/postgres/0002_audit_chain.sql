-- Audit hash chain: one link per stored event, in log order; see adapters/hash_chain.py.
CREATE TABLE IF NOT EXISTS audit_chain (
    position           bigint PRIMARY KEY,
    originator_id      text    NOT NULL,
    originator_version integer NOT NULL,
    digest             char(64) NOT NULL
);
