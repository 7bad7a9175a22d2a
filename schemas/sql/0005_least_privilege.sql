-- Least privilege for the offsets (issue 12, docs/security.md): the loader
-- role no longer holds INSERT or UPDATE on hemoflow.hf_offsets. It advances
-- an offset only through hf_offsets_advance(), a compare-and-set that moves
-- forward; resetting, rewinding or deleting an offset by hand is the
-- warehouse owner's alone. hf_window_record() share-locks hf_offsets rows,
-- which needs UPDATE privilege in the caller, so it runs as its owner too.

-- ==== the offsets compare-and-set ====

-- p_expected < 0: no offset is stored yet; insert p_next unless a row appeared
-- meanwhile. Otherwise set p_next where the stored offset is p_expected.
-- Returns true when the row was written, false when another instance got
-- there first (the caller's HF_ERR_CONFLICT). An offset never goes backwards:
-- p_next below p_expected is refused.
CREATE FUNCTION hemoflow.hf_offsets_advance(p_topic text, p_part integer, p_expected bigint,
                                            p_next bigint)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p_topic IS NULL OR p_part IS NULL OR p_part < 0 OR p_next IS NULL OR p_next < 0
       OR p_expected IS NULL THEN
        RAISE EXCEPTION 'hf_offsets_advance: bad arguments'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_expected < 0 THEN
        INSERT INTO hemoflow.hf_offsets (topic, kafka_partition, next_offset, updated_at)
        VALUES (p_topic, p_part, p_next, now())
        ON CONFLICT (topic, kafka_partition) DO NOTHING;
        RETURN FOUND;
    END IF;
    IF p_next < p_expected THEN
        RAISE EXCEPTION 'hf_offsets_advance: % [%] cannot move back from % to %',
            p_topic, p_part, p_expected, p_next
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE hemoflow.hf_offsets SET next_offset = p_next, updated_at = now()
    WHERE topic = p_topic AND kafka_partition = p_part AND next_offset = p_expected;
    RETURN FOUND;
END;
$fn$;
REVOKE ALL ON FUNCTION hemoflow.hf_offsets_advance(text, integer, bigint, bigint) FROM PUBLIC;

-- ==== the commit window ====

ALTER FUNCTION hemoflow.hf_window_record(text[], integer[], bigint[], bigint[], integer, integer)
    SECURITY DEFINER;
