-- The event store's insert in one round trip: the same table lock, notification and insert
-- that eventsourcing's recorder sends as a pipeline of statements, run by the server in the
-- single transaction of one statement. See adapters/event_recorder.py, which also makes
-- this function where the library makes its own tables.
CREATE OR REPLACE FUNCTION payments_events_insert(
    ids uuid[], versions bigint[], topics text[], states bytea[], lock_timeout text
) RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE "public"."payments_events" IN EXCLUSIVE MODE;
    NOTIFY "payments_events";
    RETURN QUERY
        INSERT INTO "public"."payments_events" (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id;
END
$body$;
