//! Homer's simservs documents.

use super::{Store, StoreError};

impl Store {
    pub async fn get_simservs(&self, impu: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT xml FROM simservs WHERE impu = $1")
                .bind(impu)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn put_simservs(&self, impu: &str, xml: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO simservs (impu, xml) VALUES ($1, $2) \
             ON CONFLICT (impu) DO UPDATE SET xml = excluded.xml",
        )
        .bind(impu)
        .bind(xml)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the document; true when there was one.
    pub async fn delete_simservs(&self, impu: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM simservs WHERE impu = $1")
            .bind(impu)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
