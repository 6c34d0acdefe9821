//! The config service's files.

use super::{Store, StoreError};

impl Store {
    pub async fn get_config(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM config WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn put_config(&self, name: &str, text: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name.to_owned())
        .bind(text.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a file; true when it was stored.
    pub async fn delete_config(&self, name: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM config WHERE name = $1")
            .bind(name.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The names of the stored files, in order.
    pub async fn config_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT name FROM config ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
