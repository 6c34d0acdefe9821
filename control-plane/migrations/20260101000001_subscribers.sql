-- Riptide control-plane schema, portable between SQLite and PostgreSQL:
-- TEXT and BIGINT only, booleans as 0/1, identities are the keys.

-- Private identities (IMPI). digest_ha1 is NULL for an IMPI that so far only
-- has IRS links (Ellis links the IRS before it PUTs the digest).
CREATE TABLE private_ids (
    impi TEXT PRIMARY KEY,
    realm TEXT,
    digest_ha1 TEXT,
    plaintext_password TEXT
);

-- Implicit registration sets.
CREATE TABLE irs (
    uuid TEXT PRIMARY KEY
);

-- Service profiles: ifc_doc is the <ServiceProfile> document as PUT,
-- ifc_xml its <InitialFilterCriteria> elements, ready to splice into User-Data.
CREATE TABLE service_profiles (
    uuid TEXT PRIMARY KEY,
    irs TEXT NOT NULL REFERENCES irs(uuid) ON DELETE CASCADE,
    ifc_doc TEXT,
    ifc_xml TEXT
);
CREATE INDEX service_profiles_irs ON service_profiles(irs);

-- Public identities (IMPU). xml is the <PublicIdentity> element as PUT;
-- position orders an IRS's identities (the first is the default IMPU).
CREATE TABLE public_ids (
    impu TEXT PRIMARY KEY,
    irs TEXT NOT NULL REFERENCES irs(uuid) ON DELETE CASCADE,
    service_profile TEXT NOT NULL REFERENCES service_profiles(uuid) ON DELETE CASCADE,
    barring BIGINT NOT NULL DEFAULT 0,
    xml TEXT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX public_ids_irs ON public_ids(irs);
CREATE INDEX public_ids_service_profile ON public_ids(service_profile);

-- Which IMPIs may authenticate which IRSs.
CREATE TABLE impi_irs (
    impi TEXT NOT NULL REFERENCES private_ids(impi) ON DELETE CASCADE,
    irs TEXT NOT NULL REFERENCES irs(uuid) ON DELETE CASCADE,
    PRIMARY KEY (impi, irs)
);
CREATE INDEX impi_irs_irs ON impi_irs(irs);

-- Homestead's registration state per IMPU: REGISTERED or UNREGISTERED with
-- the serving S-CSCF; no row means NOT_REGISTERED.
CREATE TABLE registrations (
    impu TEXT PRIMARY KEY REFERENCES public_ids(impu) ON DELETE CASCADE,
    state TEXT NOT NULL,
    server_name TEXT
);

-- Homer's simservs documents, keyed by IMPU (independent of provisioning, as in Clearwater).
CREATE TABLE simservs (
    impu TEXT PRIMARY KEY,
    xml TEXT NOT NULL
);

-- Shared configuration: a named file (shared_config, s-cscf.json, ...) and its text.
CREATE TABLE config (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
