//! Homestead-prov's data: private identities, IRSs, service profiles, public
//! identities and the links between them.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::digest::Algorithms;
use crate::xml::{ProfileXml, Subscription};

/// A private identity's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRecord {
    pub digest_ha1: String,
    pub realm: Option<String>,
    pub plaintext_password: Option<String>,
    /// SHA-256 HA1, when known.
    pub digest_ha1_sha256: Option<String>,
    /// The digest algorithms the IMPI may use.
    pub algorithms: Algorithms,
}

/// What the HSS cache's `av` answers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecord {
    pub ha1: String,
    pub realm: Option<String>,
    pub ha1_sha256: Option<String>,
    pub algorithms: Algorithms,
}

/// Insert a private identity, or replace every field of one that exists;
/// binds impi, realm, digest_ha1, plaintext_password, digest_ha1_sha256,
/// digest_algorithms.
const UPSERT_PRIVATE_ID: &str = "INSERT INTO private_ids (impi, realm, digest_ha1, \
     plaintext_password, digest_ha1_sha256, digest_algorithms) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (impi) DO UPDATE SET realm = excluded.realm, \
     digest_ha1 = excluded.digest_ha1, plaintext_password = excluded.plaintext_password, \
     digest_ha1_sha256 = excluded.digest_ha1_sha256, \
     digest_algorithms = excluded.digest_algorithms";

impl DigestRecord {
    /// The (algorithm, HA1) pairs the IMPI may use and has an HA1 for,
    /// preferred first.
    pub fn usable(&self) -> Vec<(&'static str, &str)> {
        let mut v = Vec::new();
        if self.algorithms.sha256 {
            if let Some(h) = &self.ha1_sha256 {
                v.push(("SHA-256", h.as_str()));
            }
        }
        if self.algorithms.md5 {
            v.push(("MD5", self.ha1.as_str()));
        }
        v
    }
}

/// The result of linking an IMPI and an IRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    NoIrs,
    NoImpi,
}

/// The result of `PUT .../public_ids/<impu>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutPublicOutcome {
    Stored,
    NoServiceProfile,
}

/// One subscriber line of a bulk provisioning request: an IRS with one
/// service profile and one IMPU, authenticated by one IMPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkUser {
    pub impu: String,
    pub impi: String,
    pub realm: String,
    pub digest_ha1: String,
    pub plaintext_password: Option<String>,
    pub digest_ha1_sha256: Option<String>,
    pub algorithms: Algorithms,
    /// `<PublicIdentity>` element.
    pub public_identity_xml: String,
}

/// What a bulk request did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkOutcome {
    pub created: u64,
    /// IMPUs that already existed and were left as they were.
    pub existing: Vec<String>,
}

async fn text_exists(
    conn: &mut AnyConnection,
    sql: &str,
    a: &str,
    b: Option<&str>,
) -> Result<bool, StoreError> {
    let mut q = sqlx::query_scalar::<_, String>(sql).bind(a.to_owned());
    if let Some(b) = b {
        q = q.bind(b.to_owned());
    }
    Ok(q.fetch_optional(conn).await?.is_some())
}

async fn strings(conn: &mut AnyConnection, sql: &str, a: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar::<_, String>(sql)
        .bind(a.to_owned())
        .fetch_all(conn)
        .await?)
}

/// The User-Data of an IRS. The PrivateID is `preferred_impi` when it may
/// authenticate the IRS, else the first linked IMPI.
pub(crate) async fn subscription_for_irs(
    conn: &mut AnyConnection,
    irs: &str,
    preferred_impi: Option<&str>,
) -> Result<Subscription, StoreError> {
    let rows = sqlx::query_as::<_, (String, String, Option<String>)>(
        "SELECT p.service_profile, p.xml, s.ifc_xml FROM public_ids p \
         JOIN service_profiles s ON s.uuid = p.service_profile \
         WHERE p.irs = $1 ORDER BY p.position, p.impu",
    )
    .bind(irs.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    let mut order: Vec<String> = Vec::new();
    let mut profiles: Vec<ProfileXml> = Vec::new();
    for (sp, xml, ifcs) in rows {
        let i = match order.iter().position(|o| *o == sp) {
            Some(i) => i,
            None => {
                order.push(sp);
                profiles.push(ProfileXml {
                    public_identities: Vec::new(),
                    ifcs: ifcs.unwrap_or_default(),
                });
                profiles.len() - 1
            }
        };
        if let Some(p) = profiles.get_mut(i) {
            p.public_identities.push(xml);
        }
    }
    let impis = strings(
        conn,
        "SELECT impi FROM impi_irs WHERE irs = $1 ORDER BY impi",
        irs,
    )
    .await?;
    let private_id = match preferred_impi {
        Some(p) if impis.iter().any(|i| i == p) => Some(p.to_owned()),
        _ => impis.into_iter().next(),
    };
    Ok(Subscription {
        private_id,
        profiles,
    })
}

impl Store {
    /// Creates or updates an IMPI's credentials. `plaintext_password` None
    /// removes a stored plaintext password; `digest_ha1_sha256` None removes
    /// a stored SHA-256 HA1 (it would belong to the old password).
    pub async fn put_private(
        &self,
        impi: &str,
        realm: &str,
        digest_ha1: &str,
        digest_ha1_sha256: Option<&str>,
        plaintext_password: Option<&str>,
        algorithms: Algorithms,
    ) -> Result<(), StoreError> {
        sqlx::query(UPSERT_PRIVATE_ID)
            .bind(impi.to_owned())
            .bind(realm.to_owned())
            .bind(digest_ha1.to_owned())
            .bind(plaintext_password.map(str::to_owned))
            .bind(digest_ha1_sha256.map(str::to_owned))
            .bind(algorithms.column())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An IMPI's digest algorithms; None when the IMPI is unknown.
    pub async fn private_algorithms(&self, impi: &str) -> Result<Option<Algorithms>, StoreError> {
        let row = sqlx::query_scalar::<_, String>(
            "SELECT digest_algorithms FROM private_ids WHERE impi = $1",
        )
        .bind(impi.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|a| Algorithms::from_column(&a)))
    }

    /// An IMPI's credentials; None when unknown or without a digest yet.
    pub async fn get_private(&self, impi: &str) -> Result<Option<PrivateRecord>, StoreError> {
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let row = sqlx::query_as::<_, Row>(
            "SELECT digest_ha1, realm, plaintext_password, digest_ha1_sha256, digest_algorithms \
             FROM private_ids WHERE impi = $1",
        )
        .bind(impi.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.and_then(|(digest, realm, plaintext, sha256, algorithms)| {
                digest.map(|digest_ha1| PrivateRecord {
                    digest_ha1,
                    realm,
                    plaintext_password: plaintext,
                    digest_ha1_sha256: sha256,
                    algorithms: Algorithms::from_column(&algorithms),
                })
            }),
        )
    }

    /// Deletes an IMPI and its IRS links; true when it existed.
    pub async fn delete_private(&self, impi: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM impi_irs WHERE impi = $1")
            .bind(impi.to_owned())
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM private_ids WHERE impi = $1")
            .bind(impi.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// The IRSs an IMPI may authenticate; None when the IMPI is unknown.
    pub async fn private_irses(&self, impi: &str) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !text_exists(
            &mut conn,
            "SELECT impi FROM private_ids WHERE impi = $1",
            impi,
            None,
        )
        .await?
        {
            return Ok(None);
        }
        Ok(Some(
            strings(
                &mut conn,
                "SELECT irs FROM impi_irs WHERE impi = $1 ORDER BY irs",
                impi,
            )
            .await?,
        ))
    }

    /// The IMPUs an IMPI may authenticate; None when the IMPI is unknown.
    pub async fn private_public_ids(&self, impi: &str) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !text_exists(
            &mut conn,
            "SELECT impi FROM private_ids WHERE impi = $1",
            impi,
            None,
        )
        .await?
        {
            return Ok(None);
        }
        Ok(Some(
            strings(
                &mut conn,
                "SELECT p.impu FROM impi_irs l JOIN public_ids p ON p.irs = l.irs \
                 WHERE l.impi = $1 ORDER BY l.irs, p.position, p.impu",
                impi,
            )
            .await?,
        ))
    }

    /// Lets `impi` authenticate `irs`. With `create_impi`, an IMPI not seen
    /// before is created without credentials (Ellis links the IRS before it
    /// PUTs the digest); without, it must exist.
    pub async fn link_impi_irs(
        &self,
        impi: &str,
        irs: &str,
        create_impi: bool,
    ) -> Result<LinkOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !text_exists(&mut tx, "SELECT uuid FROM irs WHERE uuid = $1", irs, None).await? {
            return Ok(LinkOutcome::NoIrs);
        }
        if create_impi {
            sqlx::query("INSERT INTO private_ids (impi) VALUES ($1) ON CONFLICT (impi) DO NOTHING")
                .bind(impi.to_owned())
                .execute(&mut *tx)
                .await?;
        } else if !text_exists(
            &mut tx,
            "SELECT impi FROM private_ids WHERE impi = $1",
            impi,
            None,
        )
        .await?
        {
            return Ok(LinkOutcome::NoImpi);
        }
        sqlx::query(
            "INSERT INTO impi_irs (impi, irs) VALUES ($1, $2) ON CONFLICT (impi, irs) DO NOTHING",
        )
        .bind(impi.to_owned())
        .bind(irs.to_owned())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LinkOutcome::Linked)
    }

    /// Removes a link; true when it existed.
    pub async fn unlink_impi_irs(&self, impi: &str, irs: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM impi_irs WHERE impi = $1 AND irs = $2")
            .bind(impi.to_owned())
            .bind(irs.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Creates an empty IRS and returns its UUID.
    pub async fn create_irs(&self) -> Result<String, StoreError> {
        let uuid = Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO irs (uuid) VALUES ($1)")
            .bind(uuid.clone())
            .execute(&self.pool)
            .await?;
        Ok(uuid)
    }

    /// Deletes an IRS with its service profiles, public identities, their
    /// registration state and its IMPI links; true when it existed.
    pub async fn delete_irs(&self, irs: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM registrations WHERE impu IN (SELECT impu FROM public_ids WHERE irs = $1)",
            "DELETE FROM public_ids WHERE irs = $1",
            "DELETE FROM service_profiles WHERE irs = $1",
            "DELETE FROM impi_irs WHERE irs = $1",
        ] {
            sqlx::query(sql)
                .bind(irs.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query("DELETE FROM irs WHERE uuid = $1")
            .bind(irs.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    async fn irs_list(&self, irs: &str, sql: &str) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !text_exists(&mut conn, "SELECT uuid FROM irs WHERE uuid = $1", irs, None).await? {
            return Ok(None);
        }
        Ok(Some(strings(&mut conn, sql, irs).await?))
    }

    /// The IMPUs of an IRS; None when the IRS is unknown.
    pub async fn irs_public_ids(&self, irs: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.irs_list(
            irs,
            "SELECT impu FROM public_ids WHERE irs = $1 ORDER BY position, impu",
        )
        .await
    }

    /// The IMPIs that may authenticate an IRS; None when the IRS is unknown.
    pub async fn irs_private_ids(&self, irs: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.irs_list(
            irs,
            "SELECT impi FROM impi_irs WHERE irs = $1 ORDER BY impi",
        )
        .await
    }

    /// Creates a service profile in an IRS; None when the IRS is unknown.
    pub async fn create_service_profile(&self, irs: &str) -> Result<Option<String>, StoreError> {
        let uuid = Uuid::new_v4().to_string();
        let mut tx = self.pool.begin().await?;
        if !text_exists(&mut tx, "SELECT uuid FROM irs WHERE uuid = $1", irs, None).await? {
            return Ok(None);
        }
        sqlx::query("INSERT INTO service_profiles (uuid, irs) VALUES ($1, $2)")
            .bind(uuid.clone())
            .bind(irs.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(uuid))
    }

    async fn service_profile_exists(
        conn: &mut AnyConnection,
        irs: &str,
        sp: &str,
    ) -> Result<bool, StoreError> {
        text_exists(
            conn,
            "SELECT uuid FROM service_profiles WHERE uuid = $1 AND irs = $2",
            sp,
            Some(irs),
        )
        .await
    }

    /// Deletes a service profile and its public identities; true when it existed.
    pub async fn delete_service_profile(&self, irs: &str, sp: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !Self::service_profile_exists(&mut tx, irs, sp).await? {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM registrations WHERE impu IN \
             (SELECT impu FROM public_ids WHERE service_profile = $1)",
        )
        .bind(sp.to_owned())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM public_ids WHERE service_profile = $1")
            .bind(sp.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM service_profiles WHERE uuid = $1")
            .bind(sp.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The IMPUs using a service profile; None when it is unknown.
    pub async fn service_profile_public_ids(
        &self,
        irs: &str,
        sp: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !Self::service_profile_exists(&mut conn, irs, sp).await? {
            return Ok(None);
        }
        Ok(Some(
            strings(
                &mut conn,
                "SELECT impu FROM public_ids WHERE service_profile = $1 ORDER BY position, impu",
                sp,
            )
            .await?,
        ))
    }

    /// Creates or updates a public identity in a service profile (moving it
    /// there if it was elsewhere; it keeps its position within an IRS).
    pub async fn put_public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
        barred: bool,
        xml: &str,
    ) -> Result<PutPublicOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !Self::service_profile_exists(&mut tx, irs, sp).await? {
            return Ok(PutPublicOutcome::NoServiceProfile);
        }
        sqlx::query(
            "INSERT INTO public_ids (impu, irs, service_profile, barring, xml, position) \
             VALUES ($1, $2, $3, $4, $5, \
               (SELECT COALESCE(MAX(position), 0) + 1 FROM public_ids WHERE irs = $2)) \
             ON CONFLICT (impu) DO UPDATE SET irs = excluded.irs, \
               service_profile = excluded.service_profile, barring = excluded.barring, \
               xml = excluded.xml",
        )
        .bind(impu.to_owned())
        .bind(irs.to_owned())
        .bind(sp.to_owned())
        .bind(i64::from(barred))
        .bind(xml.to_owned())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PutPublicOutcome::Stored)
    }

    /// The `<PublicIdentity>` of an IMPU in a service profile.
    pub async fn get_public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT xml FROM public_ids WHERE impu = $1 AND service_profile = $2 AND irs = $3",
        )
        .bind(impu.to_owned())
        .bind(sp.to_owned())
        .bind(irs.to_owned())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes a public identity from a service profile; true when it was there.
    pub async fn delete_public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !text_exists(
            &mut tx,
            "SELECT impu FROM public_ids WHERE impu = $1 AND service_profile = $2",
            impu,
            Some(sp),
        )
        .await?
            || !Self::service_profile_exists(&mut tx, irs, sp).await?
        {
            return Ok(false);
        }
        sqlx::query("DELETE FROM registrations WHERE impu = $1")
            .bind(impu.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM public_ids WHERE impu = $1")
            .bind(impu.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores a service profile's iFCs; false when the profile is unknown.
    pub async fn put_filter_criteria(
        &self,
        irs: &str,
        sp: &str,
        document: &str,
        ifcs: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE service_profiles SET ifc_doc = $1, ifc_xml = $2 WHERE uuid = $3 AND irs = $4",
        )
        .bind(document.to_owned())
        .bind(ifcs.to_owned())
        .bind(sp.to_owned())
        .bind(irs.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// A service profile's iFC document; None when unknown or unset.
    pub async fn get_filter_criteria(
        &self,
        irs: &str,
        sp: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query_scalar::<_, Option<String>>(
            "SELECT ifc_doc FROM service_profiles WHERE uuid = $1 AND irs = $2",
        )
        .bind(sp.to_owned())
        .bind(irs.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.flatten())
    }

    /// An IMPU's IRS and service profile.
    pub async fn public_location(
        &self,
        impu: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT irs, service_profile FROM public_ids WHERE impu = $1",
        )
        .bind(impu.to_owned())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The IMPIs that may authenticate an IMPU; None when it is unknown.
    pub async fn public_private_ids(&self, impu: &str) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let irs = sqlx::query_scalar::<_, String>("SELECT irs FROM public_ids WHERE impu = $1")
            .bind(impu.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
        match irs {
            None => Ok(None),
            Some(irs) => Ok(Some(
                strings(
                    &mut conn,
                    "SELECT impi FROM impi_irs WHERE irs = $1 ORDER BY impi",
                    &irs,
                )
                .await?,
            )),
        }
    }

    /// One page of all IMPUs, in order.
    pub async fn list_public_ids(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT impu FROM public_ids ORDER BY impu LIMIT $1 OFFSET $2",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The IMS subscription of the IRS holding `impu`; None when unknown.
    pub async fn subscription(
        &self,
        impu: &str,
        preferred_impi: Option<&str>,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let irs = sqlx::query_scalar::<_, String>("SELECT irs FROM public_ids WHERE impu = $1")
            .bind(impu.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
        match irs {
            None => Ok(None),
            Some(irs) => Ok(Some(
                subscription_for_irs(&mut conn, &irs, preferred_impi).await?,
            )),
        }
    }

    /// An IMPI's digests, realm and algorithms, if it has a digest and
    /// (when `impu` is given) may authenticate that IMPU.
    pub async fn digest_for(
        &self,
        impi: &str,
        impu: Option<&str>,
    ) -> Result<Option<DigestRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        type Row = (Option<String>, Option<String>, Option<String>, String);
        let row = sqlx::query_as::<_, Row>(
            "SELECT digest_ha1, realm, digest_ha1_sha256, digest_algorithms \
             FROM private_ids WHERE impi = $1",
        )
        .bind(impi.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
        let Some((Some(ha1), realm, ha1_sha256, algorithms)) = row else {
            return Ok(None);
        };
        if let Some(impu) = impu {
            if !text_exists(
                &mut conn,
                "SELECT p.impu FROM public_ids p JOIN impi_irs l ON l.irs = p.irs \
                 WHERE p.impu = $1 AND l.impi = $2",
                impu,
                Some(impi),
            )
            .await?
            {
                return Ok(None);
            }
        }
        Ok(Some(DigestRecord {
            ha1,
            realm,
            ha1_sha256,
            algorithms: Algorithms::from_column(&algorithms),
        }))
    }

    /// Provisions many subscribers in one transaction, each with `simservs`
    /// as its XDMS document when given. IMPUs that already exist are left
    /// alone and reported.
    pub async fn bulk_create(
        &self,
        users: &[BulkUser],
        ifc_document: Option<&str>,
        ifcs: Option<&str>,
        simservs: Option<&str>,
    ) -> Result<BulkOutcome, StoreError> {
        let mut out = BulkOutcome::default();
        let mut tx = self.pool.begin().await?;
        for u in users {
            if text_exists(
                &mut tx,
                "SELECT impu FROM public_ids WHERE impu = $1",
                &u.impu,
                None,
            )
            .await?
            {
                out.existing.push(u.impu.clone());
                continue;
            }
            let irs = Uuid::new_v4().to_string();
            let sp = Uuid::new_v4().to_string();
            sqlx::query("INSERT INTO irs (uuid) VALUES ($1)")
                .bind(irs.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO service_profiles (uuid, irs, ifc_doc, ifc_xml) VALUES ($1, $2, $3, $4)",
            )
            .bind(sp.clone())
            .bind(irs.clone())
            .bind(ifc_document.map(str::to_owned))
            .bind(ifcs.map(str::to_owned))
            .execute(&mut *tx)
            .await?;
            sqlx::query(UPSERT_PRIVATE_ID)
                .bind(u.impi.clone())
                .bind(u.realm.clone())
                .bind(u.digest_ha1.clone())
                .bind(u.plaintext_password.clone())
                .bind(u.digest_ha1_sha256.clone())
                .bind(u.algorithms.column())
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO impi_irs (impi, irs) VALUES ($1, $2)")
                .bind(u.impi.clone())
                .bind(irs.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO public_ids (impu, irs, service_profile, barring, xml, position) \
                 VALUES ($1, $2, $3, 0, $4, 1)",
            )
            .bind(u.impu.clone())
            .bind(irs)
            .bind(sp)
            .bind(u.public_identity_xml.clone())
            .execute(&mut *tx)
            .await?;
            if let Some(doc) = simservs {
                sqlx::query(
                    "INSERT INTO simservs (impu, xml) VALUES ($1, $2) ON CONFLICT (impu) DO NOTHING",
                )
                .bind(u.impu.clone())
                .bind(doc.to_owned())
                .execute(&mut *tx)
                .await?;
            }
            out.created += 1;
        }
        tx.commit().await?;
        Ok(out)
    }
}
