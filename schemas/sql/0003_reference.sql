-- 0003_reference — reference data the indicators rest on: provinces with
-- their region, population per province and year, product classes and the
-- ISBT 128 product description codes hemoflow knows, and the code lists of
-- screening markers, deferral reasons and discard reasons with their
-- meanings. Also hf_published, the list of relations the analyst role reads
-- (hemoflow migrate grants SELECT on each). Documented in docs/indicators.md.
-- Never edit this file once applied: correct or extend the data in a later
-- migration (UPDATE/INSERT ... ON CONFLICT), e.g. a new population year.

-- ==== what the analyst role reads ====

-- Every relation listed here is readable by warehouse.analyst_role after
-- `hemoflow migrate`; nothing else is, unless warehouse.analyst_raw_access.
CREATE TABLE hemoflow.hf_published (
    relname text PRIMARY KEY,
    what text NOT NULL
);

-- ==== provinces ====

-- The 31 mainland provinces (GB/T 2260) and the six traditional regions.
CREATE TABLE hemoflow.hf_provinces (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
    name text NOT NULL UNIQUE,
    name_zh text NOT NULL,
    region text NOT NULL CHECK (region IN ('North', 'Northeast', 'East', 'Central South',
                                           'Southwest', 'Northwest'))
);
INSERT INTO hemoflow.hf_provinces (code, name, name_zh, region) VALUES
    ('11', 'Beijing', '北京', 'North'),
    ('12', 'Tianjin', '天津', 'North'),
    ('13', 'Hebei', '河北', 'North'),
    ('14', 'Shanxi', '山西', 'North'),
    ('15', 'Inner Mongolia', '内蒙古', 'North'),
    ('21', 'Liaoning', '辽宁', 'Northeast'),
    ('22', 'Jilin', '吉林', 'Northeast'),
    ('23', 'Heilongjiang', '黑龙江', 'Northeast'),
    ('31', 'Shanghai', '上海', 'East'),
    ('32', 'Jiangsu', '江苏', 'East'),
    ('33', 'Zhejiang', '浙江', 'East'),
    ('34', 'Anhui', '安徽', 'East'),
    ('35', 'Fujian', '福建', 'East'),
    ('36', 'Jiangxi', '江西', 'East'),
    ('37', 'Shandong', '山东', 'East'),
    ('41', 'Henan', '河南', 'Central South'),
    ('42', 'Hubei', '湖北', 'Central South'),
    ('43', 'Hunan', '湖南', 'Central South'),
    ('44', 'Guangdong', '广东', 'Central South'),
    ('45', 'Guangxi', '广西', 'Central South'),
    ('46', 'Hainan', '海南', 'Central South'),
    ('50', 'Chongqing', '重庆', 'Southwest'),
    ('51', 'Sichuan', '四川', 'Southwest'),
    ('52', 'Guizhou', '贵州', 'Southwest'),
    ('53', 'Yunnan', '云南', 'Southwest'),
    ('54', 'Tibet', '西藏', 'Southwest'),
    ('61', 'Shaanxi', '陕西', 'Northwest'),
    ('62', 'Gansu', '甘肃', 'Northwest'),
    ('63', 'Qinghai', '青海', 'Northwest'),
    ('64', 'Ningxia', '宁夏', 'Northwest'),
    ('65', 'Xinjiang', '新疆', 'Northwest');

-- ==== population ====

-- Resident population per province and year. An indicator for year Y uses
-- the row of the latest year <= Y (or the earliest year when there is none);
-- see hemoflow.hf_population_for(). Add a year with a later migration.
CREATE TABLE hemoflow.hf_population (
    province_code text NOT NULL REFERENCES hemoflow.hf_provinces (code),
    year integer NOT NULL CHECK (year BETWEEN 1949 AND 2200),
    population bigint NOT NULL CHECK (population > 0),
    source text NOT NULL,
    PRIMARY KEY (province_code, year)
);
-- Year-end resident population 2023 (万人 x 10 000), National Bureau of
-- Statistics of China, China Statistical Yearbook 2024, "population by
-- region"; provincial figures exclude active-duty military (the 31 add up to
-- 1 407.69 million against the national 1 409.67 million). Transcribed by
-- hand: check against the published table before official use.
INSERT INTO hemoflow.hf_population (province_code, year, population, source)
SELECT code, 2023, round(wan * 10000)::bigint,
       'NBS China Statistical Yearbook 2024, year-end 2023 resident population'
FROM (VALUES
    ('11', 2185.8), ('12', 1364), ('13', 7393), ('14', 3465.99), ('15', 2396),
    ('21', 4182), ('22', 2339.41), ('23', 3062),
    ('31', 2487.45), ('32', 8526), ('33', 6627), ('34', 6121), ('35', 4183),
    ('36', 4515.01), ('37', 10122.97),
    ('41', 9815), ('42', 5838), ('43', 6568), ('44', 12706), ('45', 5027), ('46', 1043),
    ('50', 3191.43), ('51', 8368), ('52', 3865), ('53', 4673), ('54', 365),
    ('61', 3952), ('62', 2465.48), ('63', 594), ('64', 729), ('65', 2598)
) AS v (code, wan);

-- Population of a province for a year: the latest year <= p_year, else the
-- earliest year on record; NULL for a province without any row.
CREATE FUNCTION hemoflow.hf_population_for(p_province text, p_year integer)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT population FROM hemoflow.hf_population
    WHERE province_code = p_province
    ORDER BY (year <= p_year) DESC, CASE WHEN year <= p_year THEN -year ELSE year END
    LIMIT 1
$fn$;

-- ==== products ====

-- The component classes (the same symbols as InventorySnapshot.product_class).
CREATE TABLE hemoflow.hf_product_classes (
    product_class text PRIMARY KEY,
    meaning text NOT NULL
);
INSERT INTO hemoflow.hf_product_classes (product_class, meaning) VALUES
    ('red_cells', 'Red blood cells (concentrates, suspended, leucoreduced, washed)'),
    ('platelets', 'Platelets (apheresis or pooled)'),
    ('plasma', 'Plasma (fresh frozen, frozen, and source plasma for fractionation)'),
    ('cryo', 'Cryoprecipitate'),
    ('whole_blood', 'Whole blood, not separated'),
    ('other', 'Anything else, and product codes not in hf_product_codes');

-- ISBT 128 product description codes (the first five characters of the
-- 8-character product code: αoooo) and their class. Only the codes
-- hemoflow's stations and `hemoflow simulate` use are listed; a code not
-- listed is class 'other' (hemoflow.hf_product_class()). Add codes with a
-- later migration.
CREATE TABLE hemoflow.hf_product_codes (
    description_code text PRIMARY KEY CHECK (description_code ~ '^[A-Z][0-9]{4}$'),
    product_class text NOT NULL REFERENCES hemoflow.hf_product_classes (product_class),
    meaning text NOT NULL
);
INSERT INTO hemoflow.hf_product_codes (description_code, product_class, meaning) VALUES
    ('E0001', 'whole_blood', 'Whole blood, CPDA-1'),
    ('E0336', 'red_cells', 'Red blood cells, suspended, leucoreduced'),
    ('E0382', 'red_cells', 'Red blood cells, suspended, irradiated'),
    ('E2555', 'plasma', 'Fresh frozen plasma'),
    ('E3086', 'platelets', 'Apheresis platelets, leucoreduced'),
    ('E5165', 'cryo', 'Cryoprecipitated antihaemophilic factor'),
    ('E7650', 'plasma', 'Apheresis source plasma for fractionation');

-- The class of an 8-character ISBT 128 product code ('other' if unknown).
CREATE FUNCTION hemoflow.hf_product_class(p_product_code text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce((SELECT product_class FROM hemoflow.hf_product_codes
                     WHERE description_code = left(p_product_code, 5)), 'other')
$fn$;

-- ==== code lists ====

-- ScreeningResultRecorded.marker.
CREATE TABLE hemoflow.hf_markers (
    marker text PRIMARY KEY,
    meaning text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('serology', 'nat', 'biochemistry', 'other'))
);
INSERT INTO hemoflow.hf_markers (marker, meaning, kind) VALUES
    ('hbsag', 'Hepatitis B surface antigen', 'serology'),
    ('anti_hcv', 'Antibodies to hepatitis C virus', 'serology'),
    ('hiv_ag_ab', 'HIV-1/2 antigen and antibody (combination assay)', 'serology'),
    ('anti_tp', 'Antibodies to Treponema pallidum (syphilis)', 'serology'),
    ('alt', 'Alanine aminotransferase above the national limit', 'biochemistry'),
    ('hbv_nat', 'Hepatitis B virus nucleic acid test', 'nat'),
    ('hcv_nat', 'Hepatitis C virus nucleic acid test', 'nat'),
    ('hiv_nat', 'HIV nucleic acid test', 'nat'),
    ('other', 'Any other marker', 'other');

-- DonorEligibilityAssessed.deferral_reason is station text; these are the
-- codes the indicators group by (matched after lower() and trim()); any
-- other text counts as 'other'.
CREATE TABLE hemoflow.hf_deferral_reasons (
    reason text PRIMARY KEY,
    meaning text NOT NULL,
    usual_outcome text NOT NULL CHECK (usual_outcome IN ('temporary_deferral',
                                                         'permanent_deferral', 'either'))
);
INSERT INTO hemoflow.hf_deferral_reasons (reason, meaning, usual_outcome) VALUES
    ('low_hb', 'Haemoglobin below the donation threshold', 'temporary_deferral'),
    ('high_blood_pressure', 'Blood pressure out of range', 'temporary_deferral'),
    ('recent_cold', 'Recent cold, fever or infection', 'temporary_deferral'),
    ('medication', 'Medication that defers donation', 'temporary_deferral'),
    ('recent_travel', 'Recent travel to a malaria or other risk area', 'temporary_deferral'),
    ('low_weight', 'Body weight below the minimum', 'temporary_deferral'),
    ('recent_tattoo', 'Tattoo, piercing or acupuncture within the deferral period', 'temporary_deferral'),
    ('alcohol', 'Alcohol taken shortly before donation', 'temporary_deferral'),
    ('hbv_carrier', 'Hepatitis B carrier', 'permanent_deferral'),
    ('heart_disease', 'Heart disease', 'permanent_deferral'),
    ('high_risk_behaviour', 'Behaviour with a high risk of transfusion-transmissible infection', 'permanent_deferral'),
    ('chronic_disease', 'Chronic disease that excludes donation', 'permanent_deferral'),
    ('other', 'Any other or unrecognised reason, or none given', 'either');

-- The code a station's deferral_reason text counts as.
CREATE FUNCTION hemoflow.hf_deferral_reason(p_text text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce((SELECT reason FROM hemoflow.hf_deferral_reasons
                     WHERE reason = lower(btrim(p_text))), 'other')
$fn$;

-- UnitDiscarded.reason.
CREATE TABLE hemoflow.hf_discard_reasons (
    reason text PRIMARY KEY,
    meaning text NOT NULL
);
INSERT INTO hemoflow.hf_discard_reasons (reason, meaning) VALUES
    ('expired', 'Passed its expiry date unused'),
    ('reactive', 'Screening test reactive (unit may not be released)'),
    ('broken_bag', 'Bag broken or leaking'),
    ('lipaemic', 'Lipaemic (visibly fatty) plasma'),
    ('haemolysed', 'Haemolysed'),
    ('temperature_excursion', 'Stored or transported outside its temperature range'),
    ('volume_out_of_range', 'Volume outside the accepted range'),
    ('returned_unused', 'Returned by a hospital and not re-issuable'),
    ('other', 'Any other reason');

INSERT INTO hemoflow.hf_published (relname, what) VALUES
    ('hf_provinces', 'reference: provinces and regions'),
    ('hf_population', 'reference: population per province and year'),
    ('hf_product_classes', 'reference: component classes'),
    ('hf_product_codes', 'reference: ISBT 128 product description codes and their class'),
    ('hf_markers', 'reference: screening markers'),
    ('hf_deferral_reasons', 'reference: deferral reasons'),
    ('hf_discard_reasons', 'reference: discard reasons');
