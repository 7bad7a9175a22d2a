-- 0004_indicators — the indicators health authorities compute
-- (../shared/DOMAIN.md "Indicators"), in two layers:
--   hemoflow.hf_ind_*  materialized views of raw counts per province and
--                      month (days of supply: per snapshot day), computed from
--                      the _current views (amendments and retractions
--                      applied); read by the warehouse owner only;
--   hemoflow.ind_*     plain views over them that the analyst role reads:
--                      small counts suppressed, the others rounded, rates
--                      computed from the raw counts and withheld where a
--                      numerator or denominator is suppressed.
-- `hemoflow refresh` (hemoflow.hf_refresh_indicators()) recomputes the first
-- layer. Definitions, formulas and examples: docs/indicators.md. Never edit
-- this file once applied: replace a view in a later migration.

-- ==== settings ====

-- Defaults; `hemoflow migrate` and `hemoflow refresh` overwrite them with
-- the indicators.* configuration keys.
INSERT INTO hemoflow.hf_settings (key, value) VALUES
    ('suppress_max', '7'),
    ('suppress_round', '5'),
    ('plasma_min_gap_days', '14'),
    ('plasma_max_per_year', '24')
ON CONFLICT (key) DO NOTHING;

CREATE FUNCTION hemoflow.hf_setting_int(p_key text, p_default integer)
RETURNS integer
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce((SELECT value::integer FROM hemoflow.hf_settings WHERE key = p_key),
                    p_default)
$fn$;

-- ==== suppression ====

-- A count as published: NULL (shown as *) when 1..suppress_max, otherwise
-- rounded to the nearest multiple of suppress_round (halves up); 0 stays 0.
CREATE FUNCTION hemoflow.hf_suppress(n bigint)
RETURNS bigint
LANGUAGE sql STABLE
AS $fn$
    SELECT CASE
        WHEN n IS NULL THEN NULL
        WHEN n >= 1 AND n <= hemoflow.hf_setting_int('suppress_max', 7) THEN NULL
        ELSE (round(n::numeric / greatest(hemoflow.hf_setting_int('suppress_round', 5), 1))
              * greatest(hemoflow.hf_setting_int('suppress_round', 5), 1))::bigint
    END
$fn$;

-- num / den x per from the raw counts, rounded to `digits`; NULL when the
-- denominator is 0 or either count would be suppressed.
CREATE FUNCTION hemoflow.hf_rate(num bigint, den bigint, per numeric, digits integer)
RETURNS numeric
LANGUAGE sql STABLE
AS $fn$
    SELECT CASE
        WHEN num IS NULL OR den IS NULL OR den = 0 THEN NULL
        WHEN hemoflow.hf_suppress(num) IS NULL OR hemoflow.hf_suppress(den) IS NULL THEN NULL
        ELSE round(num::numeric * per / den, digits)
    END
$fn$;

-- 'A+', 'O-', 'AB' (RhD not specified), '?' (unknown), 'all' (every group).
CREATE FUNCTION hemoflow.hf_blood_group(p_abo text, p_rhd text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN p_abo = 'all' THEN 'all'
                WHEN p_abo IS NULL OR p_abo = 'unknown' THEN '?'
                ELSE upper(p_abo) || CASE p_rhd WHEN 'pos' THEN '+' WHEN 'neg' THEN '-'
                                                WHEN 'unspecified' THEN '' ELSE '?' END
           END
$fn$;

-- ==== raw counts (owner only) ====

-- Donations per province (of the collecting facility) and month.
CREATE MATERIALIZED VIEW hemoflow.hf_ind_donations AS
SELECT province_code, date_trunc('month', event_date)::date AS month, count(*) AS donations
FROM hemoflow.donation_collected_current
GROUP BY 1, 2;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_donations (province_code, month);

-- Stock and issues per province, snapshot day, product class and ABO/RhD
-- (abo = rhd = 'all': every group of the class): on_hand sums, over the
-- province's facilities, the latest snapshot each facility counted that
-- day; issues_28d counts the province's issues of that class and group in
-- the 28 days ending that day (the group of an issued unit comes from its
-- ComponentProduced event, by DIN and product code).
CREATE MATERIALIZED VIEW hemoflow.hf_ind_supply AS
WITH latest AS (
    SELECT DISTINCT ON (province_code, facility_id, event_date)
           province_code, facility_id, event_date, snapshot_at
    FROM hemoflow.inventory_snapshot_current
    ORDER BY province_code, facility_id, event_date, snapshot_at DESC
), stock AS (
    SELECT i.province_code, i.event_date AS snapshot_date, i.product_class,
           coalesce(i.abo, 'all') AS abo, coalesce(i.rhd, 'all') AS rhd,
           sum(i.on_hand)::bigint AS on_hand
    FROM hemoflow.inventory_snapshot_current i
    JOIN latest l USING (province_code, facility_id, event_date, snapshot_at)
    GROUP BY GROUPING SETS ((i.province_code, i.event_date, i.product_class, i.abo, i.rhd),
                            (i.province_code, i.event_date, i.product_class))
), groups AS (
    SELECT din, product_code, min(abo) AS abo, min(rhd) AS rhd
    FROM hemoflow.component_produced_current
    GROUP BY 1, 2
), issued AS (
    SELECT m.province_code, m.event_date, coalesce(pc.product_class, 'other') AS product_class,
           coalesce(g.abo, 'unknown') AS abo, coalesce(g.rhd, 'unknown') AS rhd, count(*) AS n
    FROM hemoflow.unit_moved_current m
    LEFT JOIN groups g ON g.din = m.din AND g.product_code = m.product_code
    LEFT JOIN hemoflow.hf_product_codes pc ON pc.description_code = left(m.product_code, 5)
    WHERE m.movement = 'issue'
    GROUP BY 1, 2, 3, 4, 5
), windowed AS (
    SELECT province_code, event_date + k AS snapshot_date, product_class,
           coalesce(abo, 'all') AS abo, coalesce(rhd, 'all') AS rhd, sum(n)::bigint AS issues
    FROM issued CROSS JOIN generate_series(0, 27) AS k
    GROUP BY GROUPING SETS ((province_code, event_date + k, product_class, abo, rhd),
                            (province_code, event_date + k, product_class))
)
SELECT s.province_code, s.snapshot_date, s.product_class, s.abo, s.rhd, s.on_hand,
       coalesce(w.issues, 0) AS issues_28d
FROM stock s
LEFT JOIN windowed w USING (province_code, snapshot_date, product_class, abo, rhd);
CREATE UNIQUE INDEX ON hemoflow.hf_ind_supply (province_code, snapshot_date, product_class, abo, rhd);

-- Discards per province, month, product class and reason ('all' = every
-- class, every reason), with the issues of that class in the same province
-- and month.
CREATE MATERIALIZED VIEW hemoflow.hf_ind_wastage AS
WITH d AS (
    SELECT u.province_code, date_trunc('month', u.event_date)::date AS month,
           coalesce(pc.product_class, 'other') AS product_class, u.reason
    FROM hemoflow.unit_discarded_current u
    LEFT JOIN hemoflow.hf_product_codes pc ON pc.description_code = left(u.product_code, 5)
), dg AS (
    SELECT province_code, month, coalesce(product_class, 'all') AS product_class,
           coalesce(reason, 'all') AS reason, count(*) AS discards
    FROM d
    GROUP BY GROUPING SETS ((province_code, month, product_class, reason),
                            (province_code, month, product_class),
                            (province_code, month, reason),
                            (province_code, month))
), i AS (
    SELECT m.province_code, date_trunc('month', m.event_date)::date AS month,
           coalesce(pc.product_class, 'other') AS product_class
    FROM hemoflow.unit_moved_current m
    LEFT JOIN hemoflow.hf_product_codes pc ON pc.description_code = left(m.product_code, 5)
    WHERE m.movement = 'issue'
), ig AS (
    SELECT province_code, month, coalesce(product_class, 'all') AS product_class,
           count(*) AS issues
    FROM i
    GROUP BY GROUPING SETS ((province_code, month, product_class), (province_code, month))
)
SELECT coalesce(dg.province_code, ig.province_code) AS province_code,
       coalesce(dg.month, ig.month) AS month,
       coalesce(dg.product_class, ig.product_class) AS product_class,
       coalesce(dg.reason, 'all') AS reason,
       coalesce(dg.discards, 0) AS discards,
       coalesce(ig.issues, 0) AS issues
FROM dg
FULL JOIN ig ON ig.province_code = dg.province_code AND ig.month = dg.month
            AND ig.product_class = dg.product_class;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_wastage (province_code, month, product_class, reason);

-- Donations tested and found reactive per province (of the laboratory),
-- month, marker and donor status ('all' = both): one test per DIN and
-- marker, from the final results only; reactive when any final result is.
-- First-time = the donation has no interval_days_since_last.
CREATE MATERIALIZED VIEW hemoflow.hf_ind_screening AS
WITH r AS (
    SELECT province_code, din, marker, min(event_date) AS event_date,
           bool_or(result = 'reactive') AS reactive
    FROM hemoflow.screening_result_recorded_current
    WHERE is_final
    GROUP BY 1, 2, 3
), dn AS (
    SELECT din, bool_or(interval_days_since_last IS NULL) AS first_time
    FROM hemoflow.donation_collected_current
    GROUP BY 1
), t AS (
    SELECT r.province_code, date_trunc('month', r.event_date)::date AS month, r.marker,
           CASE WHEN dn.din IS NULL THEN 'unknown' WHEN dn.first_time THEN 'first_time'
                ELSE 'repeat' END AS donor_status,
           r.reactive
    FROM r LEFT JOIN dn USING (din)
)
SELECT province_code, month, marker, coalesce(donor_status, 'all') AS donor_status,
       count(*) AS tested, count(*) FILTER (WHERE reactive) AS reactive
FROM t
GROUP BY GROUPING SETS ((province_code, month, marker, donor_status),
                        (province_code, month, marker));
CREATE UNIQUE INDEX ON hemoflow.hf_ind_screening (province_code, month, marker, donor_status);

-- Eligibility assessments per province and month, and the deferrals
-- (temporary or permanent) among them per reason ('all' = every reason).
CREATE MATERIALIZED VIEW hemoflow.hf_ind_deferrals AS
WITH a AS (
    SELECT e.province_code, date_trunc('month', e.event_date)::date AS month,
           e.outcome IN ('temporary_deferral', 'permanent_deferral') AS deferred,
           coalesce(r.reason, 'other') AS reason
    FROM hemoflow.donor_eligibility_assessed_current e
    LEFT JOIN hemoflow.hf_deferral_reasons r ON r.reason = lower(btrim(e.deferral_reason))
), tot AS (
    SELECT province_code, month, count(*) AS assessments,
           count(*) FILTER (WHERE deferred) AS deferrals
    FROM a
    GROUP BY 1, 2
)
SELECT province_code, month, 'all'::text AS reason, assessments, deferrals FROM tot
UNION ALL
SELECT a.province_code, a.month, a.reason, t.assessments, count(*) AS deferrals
FROM a JOIN tot t USING (province_code, month)
WHERE a.deferred
GROUP BY 1, 2, 3, 4;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_deferrals (province_code, month, reason);

-- Donors who donated in a province and month (the cohort), and those of
-- them whose next donation (anywhere, any kind) after their first one in
-- that month came within 12 months of it.
CREATE MATERIALIZED VIEW hemoflow.hf_ind_return AS
WITH days AS (
    SELECT DISTINCT donor_pid, event_date FROM hemoflow.donation_collected_current
), nxt AS (
    SELECT donor_pid, event_date,
           lead(event_date) OVER (PARTITION BY donor_pid ORDER BY event_date) AS next_date
    FROM days
), cohort AS (
    SELECT province_code, date_trunc('month', event_date)::date AS month, donor_pid,
           min(event_date) AS first_date
    FROM hemoflow.donation_collected_current
    GROUP BY 1, 2, 3
)
SELECT c.province_code, c.month, count(*) AS donors,
       count(*) FILTER (WHERE n.next_date <= (c.first_date + interval '12 months')::date)
           AS returned
FROM cohort c
JOIN nxt n ON n.donor_pid = c.donor_pid AND n.event_date = c.first_date
GROUP BY 1, 2;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_return (province_code, month);

-- Plasma donations (procedure apheresis_plasma) per province and month, and
-- those breaking the interval rules: fewer than plasma_min_gap_days whole
-- days since the donor's previous plasma donation (14: donated on 1 March,
-- the earliest next is 16 March), or more than plasma_max_per_year plasma
-- donations by the donor in the 365 days ending that day (this one included).
CREATE MATERIALIZED VIEW hemoflow.hf_ind_plasma AS
WITH cfg AS (
    SELECT hemoflow.hf_setting_int('plasma_min_gap_days', 14) AS min_gap,
           hemoflow.hf_setting_int('plasma_max_per_year', 24) AS max_year
), p AS (
    SELECT province_code, event_date,
           event_date - lag(event_date) OVER w AS gap,
           count(*) OVER (PARTITION BY donor_pid ORDER BY event_date
                          RANGE BETWEEN interval '364 days' PRECEDING AND CURRENT ROW)
               AS in_year
    FROM hemoflow.donation_collected_current
    WHERE procedure = 'apheresis_plasma'
    WINDOW w AS (PARTITION BY donor_pid ORDER BY event_date, occurred_at)
), f AS (
    SELECT p.province_code, date_trunc('month', p.event_date)::date AS month,
           p.gap IS NOT NULL AND p.gap <= cfg.min_gap AS short_gap,
           p.in_year > cfg.max_year AS over_year
    FROM p CROSS JOIN cfg
)
SELECT province_code, month, count(*) AS plasma_donations,
       count(*) FILTER (WHERE short_gap) AS short_gap,
       count(*) FILTER (WHERE over_year) AS over_year,
       count(*) FILTER (WHERE NOT short_gap AND NOT over_year) AS compliant
FROM f
GROUP BY 1, 2;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_plasma (province_code, month);

-- Recipient adverse reactions per province (of the reporting hospital),
-- month, category and imputability ('all' = every value), with the units
-- transfused in the same province and month.
CREATE MATERIALIZED VIEW hemoflow.hf_ind_reactions AS
WITH g AS (
    SELECT province_code, date_trunc('month', event_date)::date AS month,
           coalesce(category, 'all') AS category, coalesce(imputability, 'all') AS imputability,
           count(*) AS reactions
    FROM hemoflow.adverse_event_reported_current
    WHERE subject = 'recipient'
    GROUP BY GROUPING SETS ((province_code, date_trunc('month', event_date)::date, category,
                             imputability),
                            (province_code, date_trunc('month', event_date)::date, category),
                            (province_code, date_trunc('month', event_date)::date))
), tx AS (
    SELECT province_code, date_trunc('month', event_date)::date AS month, count(*) AS units
    FROM hemoflow.transfusion_administered_current
    GROUP BY 1, 2
)
SELECT province_code, month, coalesce(g.category, 'all') AS category,
       coalesce(g.imputability, 'all') AS imputability,
       coalesce(g.reactions, 0) AS reactions, coalesce(tx.units, 0) AS units_transfused
FROM g FULL JOIN tx USING (province_code, month);
CREATE UNIQUE INDEX ON hemoflow.hf_ind_reactions (province_code, month, category, imputability);

-- Units transferred between provinces per month, as reported by the sender
-- (movement 'transfer'; the receiver's 'receipt' is the same unit).
CREATE MATERIALIZED VIEW hemoflow.hf_ind_transfers AS
SELECT date_trunc('month', event_date)::date AS month, from_province_code, to_province_code,
       count(*) AS units
FROM hemoflow.unit_moved_current
WHERE movement = 'transfer' AND from_province_code <> to_province_code
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX ON hemoflow.hf_ind_transfers (month, from_province_code, to_province_code);

-- ==== refresh ====

-- Recompute every hf_ind_* view (CONCURRENTLY: readers of the ind_* views
-- are not blocked) and record when in hf_settings.indicators_refreshed_at,
-- all in the caller's transaction. `hemoflow refresh` does the same one
-- view per transaction (fewer locks at once).
-- (jit and enable_nestloop off: see load/hf_indicators.c; JIT compiling
-- the plans over hundreds of partitions costs minutes, and the _current
-- views' NOT EXISTS is otherwise planned as one probe per partition per row.)
CREATE FUNCTION hemoflow.hf_refresh_indicators()
RETURNS void
LANGUAGE plpgsql
SET jit = off
SET enable_nestloop = off
AS $fn$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_donations;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_supply;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_wastage;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_screening;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_deferrals;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_return;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_plasma;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_reactions;
    REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.hf_ind_transfers;
    INSERT INTO hemoflow.hf_settings (key, value, updated_at)
    VALUES ('indicators_refreshed_at', to_char(now() AT TIME ZONE 'UTC',
                                               'YYYY-MM-DD"T"HH24:MI:SS"Z"'), now())
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at;
END;
$fn$;
REVOKE ALL ON FUNCTION hemoflow.hf_refresh_indicators() FROM PUBLIC;

-- ==== published views (analyst role) ====

CREATE VIEW hemoflow.ind_donation_rate AS
SELECT d.province_code, p.name AS province, d.month,
       hemoflow.hf_suppress(d.donations) AS donations,
       pop.population,
       hemoflow.hf_rate(d.donations, pop.population, 1000, 6) AS per_1000,
       hemoflow.hf_rate(d.donations, pop.population, 12000, 6) AS per_1000_annualized
FROM hemoflow.hf_ind_donations d
JOIN hemoflow.hf_provinces p ON p.code = d.province_code
CROSS JOIN LATERAL (SELECT hemoflow.hf_population_for(d.province_code,
                                                      extract(year FROM d.month)::integer)
                               AS population) pop;

CREATE VIEW hemoflow.ind_days_of_supply AS
SELECT s.province_code, p.name AS province, s.snapshot_date, s.product_class, s.abo, s.rhd,
       hemoflow.hf_blood_group(s.abo, s.rhd) AS blood_group,
       hemoflow.hf_suppress(s.on_hand) AS on_hand,
       hemoflow.hf_suppress(s.issues_28d) AS issues_28d,
       hemoflow.hf_rate(s.issues_28d, 28, 1, 2) AS avg_daily_issues,
       hemoflow.hf_rate(s.on_hand, s.issues_28d, 28, 1) AS days_of_supply
FROM hemoflow.hf_ind_supply s
JOIN hemoflow.hf_provinces p ON p.code = s.province_code;

CREATE VIEW hemoflow.ind_wastage AS
SELECT w.province_code, p.name AS province, w.month, w.product_class, w.reason,
       hemoflow.hf_suppress(w.discards) AS discards,
       hemoflow.hf_suppress(w.issues) AS issues,
       hemoflow.hf_rate(w.discards, w.issues, 100, 2) AS wastage_pct
FROM hemoflow.hf_ind_wastage w
JOIN hemoflow.hf_provinces p ON p.code = w.province_code;

CREATE VIEW hemoflow.ind_screening_positivity AS
SELECT s.province_code, p.name AS province, s.month, s.marker, s.donor_status,
       hemoflow.hf_suppress(s.tested) AS tested,
       hemoflow.hf_suppress(s.reactive) AS reactive,
       hemoflow.hf_rate(s.reactive, s.tested, 100, 2) AS positivity_pct
FROM hemoflow.hf_ind_screening s
JOIN hemoflow.hf_provinces p ON p.code = s.province_code;

CREATE VIEW hemoflow.ind_deferral_rate AS
SELECT d.province_code, p.name AS province, d.month, d.reason,
       hemoflow.hf_suppress(d.assessments) AS assessments,
       hemoflow.hf_suppress(d.deferrals) AS deferrals,
       hemoflow.hf_rate(d.deferrals, d.assessments, 100, 2) AS deferral_pct
FROM hemoflow.hf_ind_deferrals d
JOIN hemoflow.hf_provinces p ON p.code = d.province_code;

CREATE VIEW hemoflow.ind_donor_return AS
SELECT r.province_code, p.name AS province, r.month,
       hemoflow.hf_suppress(r.donors) AS donors,
       hemoflow.hf_suppress(r.returned) AS returned,
       hemoflow.hf_rate(r.returned, r.donors, 100, 2) AS return_pct,
       (r.month + interval '13 months')::date <= current_date AS follow_up_complete
FROM hemoflow.hf_ind_return r
JOIN hemoflow.hf_provinces p ON p.code = r.province_code;

CREATE VIEW hemoflow.ind_plasma_interval AS
SELECT x.province_code, p.name AS province, x.month,
       hemoflow.hf_suppress(x.plasma_donations) AS plasma_donations,
       hemoflow.hf_suppress(x.short_gap) AS short_gap,
       hemoflow.hf_suppress(x.over_year) AS over_year,
       hemoflow.hf_suppress(x.compliant) AS compliant,
       hemoflow.hf_rate(x.compliant, x.plasma_donations, 100, 2) AS compliance_pct
FROM hemoflow.hf_ind_plasma x
JOIN hemoflow.hf_provinces p ON p.code = x.province_code;

CREATE VIEW hemoflow.ind_adverse_reactions AS
SELECT a.province_code, p.name AS province, a.month, a.category, a.imputability,
       hemoflow.hf_suppress(a.reactions) AS reactions,
       hemoflow.hf_suppress(a.units_transfused) AS units_transfused,
       hemoflow.hf_rate(a.reactions, a.units_transfused, 1000, 2) AS per_1000_units
FROM hemoflow.hf_ind_reactions a
JOIN hemoflow.hf_provinces p ON p.code = a.province_code;

CREATE VIEW hemoflow.ind_transfers AS
SELECT t.month, t.from_province_code, f.name AS from_province, t.to_province_code,
       o.name AS to_province, hemoflow.hf_suppress(t.units) AS units
FROM hemoflow.hf_ind_transfers t
JOIN hemoflow.hf_provinces f ON f.code = t.from_province_code
JOIN hemoflow.hf_provinces o ON o.code = t.to_province_code;

INSERT INTO hemoflow.hf_published (relname, what) VALUES
    ('ind_donation_rate', 'indicator: donations per 1000 population by province and month'),
    ('ind_days_of_supply', 'indicator: days of supply by province, day, component and ABO/RhD'),
    ('ind_wastage', 'indicator: wastage by province, month, component and reason'),
    ('ind_screening_positivity', 'indicator: screening positivity by marker, first-time vs repeat'),
    ('ind_deferral_rate', 'indicator: deferral rate by province, month and reason'),
    ('ind_donor_return', 'indicator: donors returning within 12 months'),
    ('ind_plasma_interval', 'indicator: plasma donation interval compliance'),
    ('ind_adverse_reactions', 'indicator: adverse reactions per 1000 units transfused'),
    ('ind_transfers', 'indicator: units transferred between provinces'),
    ('hf_settings', 'suppression settings the ind_* views apply');
