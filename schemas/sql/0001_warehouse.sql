-- 0001_warehouse — the hemoflow warehouse: control tables, one fact table per
-- event type (LIST by province_code, then RANGE by event_date), the partition
-- function and the _current views. Applied by `hemoflow migrate` in one
-- transaction; never edit this file once applied (write 0002_... instead).
-- Fact table columns are event_date, then every field of the NEWEST Avro
-- schema of the event type in schema order, then kafka_partition,
-- kafka_offset, loaded_at; the loader refuses to start when they differ.

CREATE SCHEMA IF NOT EXISTS hemoflow;

-- ==== control tables ====

-- Warehouse-wide settings fixed at the first migrate (every loader agrees).
CREATE TABLE hemoflow.hf_settings (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The fact tables hf_ensure_partition() may touch: table name -> Avro name.
CREATE TABLE hemoflow.hf_fact_tables (
    table_name text PRIMARY KEY,
    event_type text NOT NULL UNIQUE
);

-- Next Kafka offset to consume per topic partition, written in the same
-- transaction as the rows it covers. Keyed by topic/partition, not by
-- consumer group: the warehouse is the truth.
CREATE TABLE hemoflow.hf_offsets (
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition)
);

-- Records that could not be loaded: undecodable, invalid, or rejected by a
-- PostgreSQL data constraint. raw is the Kafka message value unchanged.
CREATE TABLE hemoflow.hf_quarantine (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    event_type text,
    fingerprint text CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    reason_code text NOT NULL,
    sqlstate text,
    detail text,
    raw bytea NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, kafka_partition, kafka_offset)
);

-- Rows actually inserted per province, station-local event date and event type.
CREATE TABLE hemoflow.hf_completeness (
    province_code text NOT NULL,
    event_date date NOT NULL,
    event_type text NOT NULL,
    events bigint NOT NULL,
    max_occurred_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_type)
);

-- ==== partitions ====

-- Create the province partition <table>_p<code> and the leaf range partition
-- <table>_p<code>_<yyyy>_<mm>[_<dd>] holding p_day, if missing. Returns true
-- when it created something. SECURITY DEFINER so that the loader role needs
-- only EXECUTE; the table name is checked against hf_fact_tables and every
-- identifier is built with format('%I').
CREATE FUNCTION hemoflow.hf_ensure_partition(p_table text, p_province text, p_day date)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    gran text;
    lo date;
    hi date;
    prov_name text;
    leaf_name text;
    created boolean := false;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM hemoflow.hf_fact_tables WHERE table_name = p_table) THEN
        RAISE EXCEPTION 'hf_ensure_partition: % is not a hemoflow fact table', p_table
            USING ERRCODE = 'undefined_table';
    END IF;
    IF p_province IS NULL OR p_province !~ '^[0-9]{2}$' THEN
        RAISE EXCEPTION 'hf_ensure_partition: bad province code %', p_province
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_day IS NULL OR p_day < date '0001-01-01' OR p_day > date '9999-12-31' THEN
        RAISE EXCEPTION 'hf_ensure_partition: day % out of range', p_day
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT value INTO gran FROM hemoflow.hf_settings WHERE key = 'partition_granularity';
    IF gran = 'day' THEN
        lo := p_day;
        hi := p_day + 1;
        leaf_name := format('%s_p%s_%s', p_table, p_province, to_char(lo, 'YYYY_MM_DD'));
    ELSE
        lo := date_trunc('month', p_day)::date;
        hi := (lo + interval '1 month')::date;
        leaf_name := format('%s_p%s_%s', p_table, p_province, to_char(lo, 'YYYY_MM'));
    END IF;
    prov_name := format('%s_p%s', p_table, p_province);
    IF to_regclass(format('hemoflow.%I', leaf_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Concurrent loaders creating the same partitions wait here, then find them.
    PERFORM pg_advisory_xact_lock(hashtext('hemoflow.partition:' || p_table || ':' || p_province));
    IF to_regclass(format('hemoflow.%I', prov_name)) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE hemoflow.%I PARTITION OF hemoflow.%I'
                           ' FOR VALUES IN (%L) PARTITION BY RANGE (event_date)',
                           prov_name, p_table, p_province);
            created := true;
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF to_regclass(format('hemoflow.%I', leaf_name)) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE hemoflow.%I PARTITION OF hemoflow.%I'
                           ' FOR VALUES FROM (%L) TO (%L)', leaf_name, prov_name, lo, hi);
            created := true;
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    RETURN created;
END;
$fn$;
REVOKE ALL ON FUNCTION hemoflow.hf_ensure_partition(text, text, date) FROM PUBLIC;

-- ==== fact tables ====
-- Generated once from schemas/avro (newest version of each event type).

-- DonorRegistered: newest schema DonorRegistered.v1.avsc
CREATE TABLE hemoflow.donor_registered (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    donor_pid text NOT NULL,
    id_format text NOT NULL,
    id_checksum_valid boolean NOT NULL,
    birth_date date NOT NULL,
    sex text NOT NULL,
    donor_kind text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX donor_registered_supersedes_idx ON hemoflow.donor_registered (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.donor_registered_current AS
    SELECT t.* FROM hemoflow.donor_registered t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.donor_registered s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('donor_registered', 'DonorRegistered');

-- DonorEligibilityAssessed: newest schema DonorEligibilityAssessed.v1.avsc
CREATE TABLE hemoflow.donor_eligibility_assessed (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    donor_pid text NOT NULL,
    outcome text NOT NULL,
    deferral_reason text,
    deferral_until date,
    hb_g_per_l integer,
    weight_kg double precision,
    first_time boolean NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX donor_eligibility_assessed_supersedes_idx ON hemoflow.donor_eligibility_assessed (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.donor_eligibility_assessed_current AS
    SELECT t.* FROM hemoflow.donor_eligibility_assessed t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.donor_eligibility_assessed s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('donor_eligibility_assessed', 'DonorEligibilityAssessed');

-- DonationCollected: newest schema DonationCollected.v2.avsc
CREATE TABLE hemoflow.donation_collected (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    donor_pid text NOT NULL,
    procedure text NOT NULL,
    collection_type text NOT NULL,
    volume_ml integer,
    plasma_g integer,
    interval_days_since_last integer,
    incomplete boolean NOT NULL,
    anticoagulant_ml integer,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX donation_collected_supersedes_idx ON hemoflow.donation_collected (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.donation_collected_current AS
    SELECT t.* FROM hemoflow.donation_collected t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.donation_collected s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('donation_collected', 'DonationCollected');

-- ScreeningResultRecorded: newest schema ScreeningResultRecorded.v1.avsc
CREATE TABLE hemoflow.screening_result_recorded (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    marker text NOT NULL,
    method text NOT NULL,
    kit_lot text,
    result text NOT NULL,
    value double precision,
    is_final boolean NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX screening_result_recorded_supersedes_idx ON hemoflow.screening_result_recorded (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.screening_result_recorded_current AS
    SELECT t.* FROM hemoflow.screening_result_recorded t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.screening_result_recorded s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('screening_result_recorded', 'ScreeningResultRecorded');

-- ComponentProduced: newest schema ComponentProduced.v1.avsc
CREATE TABLE hemoflow.component_produced (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    product_code text NOT NULL,
    parent_product_code text,
    abo text NOT NULL,
    rhd text NOT NULL,
    abo_rhd_source text,
    volume_ml integer NOT NULL,
    expires_at timestamptz NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX component_produced_supersedes_idx ON hemoflow.component_produced (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.component_produced_current AS
    SELECT t.* FROM hemoflow.component_produced t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.component_produced s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('component_produced', 'ComponentProduced');

-- InventorySnapshot: newest schema InventorySnapshot.v1.avsc
CREATE TABLE hemoflow.inventory_snapshot (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    snapshot_at timestamptz NOT NULL,
    product_class text NOT NULL,
    abo text NOT NULL,
    rhd text NOT NULL,
    abo_rhd_source text,
    on_hand integer NOT NULL,
    quarantined integer NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX inventory_snapshot_supersedes_idx ON hemoflow.inventory_snapshot (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.inventory_snapshot_current AS
    SELECT t.* FROM hemoflow.inventory_snapshot t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.inventory_snapshot s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('inventory_snapshot', 'InventorySnapshot');

-- UnitMoved: newest schema UnitMoved.v1.avsc
CREATE TABLE hemoflow.unit_moved (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    product_code text NOT NULL,
    movement text NOT NULL,
    from_facility_id text NOT NULL,
    to_facility_id text NOT NULL,
    from_province_code text NOT NULL,
    to_province_code text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX unit_moved_supersedes_idx ON hemoflow.unit_moved (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.unit_moved_current AS
    SELECT t.* FROM hemoflow.unit_moved t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.unit_moved s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('unit_moved', 'UnitMoved');

-- UnitDiscarded: newest schema UnitDiscarded.v1.avsc
CREATE TABLE hemoflow.unit_discarded (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    product_code text NOT NULL,
    stage text NOT NULL,
    reason text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX unit_discarded_supersedes_idx ON hemoflow.unit_discarded (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.unit_discarded_current AS
    SELECT t.* FROM hemoflow.unit_discarded t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.unit_discarded s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('unit_discarded', 'UnitDiscarded');

-- TransfusionAdministered: newest schema TransfusionAdministered.v1.avsc
CREATE TABLE hemoflow.transfusion_administered (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    din text NOT NULL,
    product_code text NOT NULL,
    hospital_id text NOT NULL,
    patient_pid text NOT NULL,
    department text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    volume_ml integer NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX transfusion_administered_supersedes_idx ON hemoflow.transfusion_administered (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.transfusion_administered_current AS
    SELECT t.* FROM hemoflow.transfusion_administered t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.transfusion_administered s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('transfusion_administered', 'TransfusionAdministered');

-- AdverseEventReported: newest schema AdverseEventReported.v1.avsc
CREATE TABLE hemoflow.adverse_event_reported (
    event_date date NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source_system text NOT NULL,
    facility_id text NOT NULL,
    province_code text NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    occurred_at timestamptz NOT NULL,
    utc_offset_minutes integer NOT NULL,
    reported_at timestamptz NOT NULL,
    revision integer NOT NULL,
    supersedes_event_id uuid,
    op text NOT NULL,
    subject text NOT NULL,
    dins text[] NOT NULL,
    category text NOT NULL,
    severity text NOT NULL,
    imputability text NOT NULL,
    onset_minutes integer,
    outcome text NOT NULL,
    report_status text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_date, event_id)
) PARTITION BY LIST (province_code);
CREATE INDEX adverse_event_reported_supersedes_idx ON hemoflow.adverse_event_reported (supersedes_event_id)
    WHERE supersedes_event_id IS NOT NULL;
CREATE VIEW hemoflow.adverse_event_reported_current AS
    SELECT t.* FROM hemoflow.adverse_event_reported t
    WHERE t.op <> 'retract'
      AND NOT EXISTS (SELECT 1 FROM hemoflow.adverse_event_reported s WHERE s.supersedes_event_id = t.event_id);
INSERT INTO hemoflow.hf_fact_tables (table_name, event_type) VALUES ('adverse_event_reported', 'AdverseEventReported');

