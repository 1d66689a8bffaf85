-- A small OMOP-shaped table set (CDM v5.4 columns used by the example suites), synthetic rows.
CREATE SCHEMA IF NOT EXISTS cdm;
CREATE TABLE cdm.person (
  person_id bigint NOT NULL,
  gender_concept_id integer NOT NULL,
  year_of_birth integer NOT NULL,
  month_of_birth integer,
  race_concept_id integer NOT NULL,
  ethnicity_concept_id integer NOT NULL,
  person_source_value varchar(50),
  gender_source_value varchar(50)
);
CREATE TABLE cdm.measurement (
  measurement_id bigint NOT NULL,
  person_id bigint NOT NULL,
  measurement_concept_id integer NOT NULL,
  measurement_date date NOT NULL,
  measurement_type_concept_id integer NOT NULL,
  value_as_number numeric,
  unit_concept_id integer
);
INSERT INTO cdm.person
SELECT i, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END, 1940 + (i * 7) % 60,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 1 + i % 12 END, 8527, 38003564,
       'MRN-' || lpad(i::text, 6, '0'), CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END
FROM generate_series(1, 40) AS i;
INSERT INTO cdm.measurement
SELECT i, 1 + i % 40, c.concept, DATE '2025-01-01' + i, 32817,
       c.base + (i % 17), c.unit
FROM generate_series(1, 120) AS i
JOIN (VALUES (0, 3004249, 110, 8876), (1, 3027018, 60, 8541), (2, 3025315, 55, 9529)) AS
     c(k, concept, base, unit) ON c.k = i % 3;
