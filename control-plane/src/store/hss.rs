//! Homestead's registration state per IMPU, kept for every IMPU of an IRS
//! together (an IRS registers as one).

use super::provisioning::subscription_for_irs;
use super::{Store, StoreError};
use crate::xml::{RegState, Subscription};

/// `reqtype` of a reg-data PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegReqType {
    Reg,
    Call,
    DeregUser,
    DeregTimeout,
    DeregAdmin,
    DeregAuthFailure,
}

impl RegReqType {
    pub fn parse(s: &str) -> Option<RegReqType> {
        Some(match s {
            "reg" => RegReqType::Reg,
            "call" => RegReqType::Call,
            "dereg-user" => RegReqType::DeregUser,
            "dereg-timeout" => RegReqType::DeregTimeout,
            "dereg-admin" => RegReqType::DeregAdmin,
            "dereg-auth-failure" => RegReqType::DeregAuthFailure,
            _ => return None,
        })
    }
}

/// The result of a reg-data PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegDataOutcome {
    /// The new state and the subscription; with the IRS's other IMPUs when
    /// a registration moved the IRS from another S-CSCF (whose cached
    /// "registered here" engines must forget).
    Ok(RegState, Subscription, Option<Vec<String>>),
    UnknownImpu,
    /// A deregistration of an IMPU that is not REGISTERED.
    NotRegistered(RegState),
}

/// The state an IMPU moves to (Homestead without an HSS: a deregistration
/// leaves the user UNREGISTERED, still served by the same S-CSCF); None
/// when the request is refused.
fn next_state(current: RegState, req: RegReqType) -> Option<RegState> {
    match req {
        RegReqType::Reg => Some(RegState::Registered),
        RegReqType::Call => Some(match current {
            RegState::NotRegistered => RegState::Unregistered,
            other => other,
        }),
        RegReqType::DeregUser | RegReqType::DeregTimeout | RegReqType::DeregAdmin => {
            (current == RegState::Registered).then_some(RegState::Unregistered)
        }
        RegReqType::DeregAuthFailure => Some(current),
    }
}

impl Store {
    async fn reg_row(
        conn: &mut sqlx::AnyConnection,
        impu: &str,
    ) -> Result<Option<(String, RegState, Option<String>)>, StoreError> {
        let row = sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
            "SELECT p.irs, r.state, r.server_name FROM public_ids p \
             LEFT JOIN registrations r ON r.impu = p.impu WHERE p.impu = $1",
        )
        .bind(impu.to_owned())
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|(irs, state, server)| {
            let state = state
                .as_deref()
                .and_then(RegState::parse)
                .unwrap_or(RegState::NotRegistered);
            (irs, state, server)
        }))
    }

    /// An IMPU's registration state and serving S-CSCF; None when unknown.
    pub async fn registration(
        &self,
        impu: &str,
    ) -> Result<Option<(RegState, Option<String>)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(Self::reg_row(&mut conn, impu)
            .await?
            .map(|(_, state, server)| (state, server)))
    }

    /// `GET /impu/<impu>/reg-data`: state and subscription, changing nothing.
    pub async fn reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
    ) -> Result<Option<(RegState, Subscription)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some((irs, state, _)) = Self::reg_row(&mut conn, impu).await? else {
            return Ok(None);
        };
        let sub = subscription_for_irs(&mut conn, &irs, impi).await?;
        Ok(Some((state, sub)))
    }

    /// `PUT /impu/<impu>/reg-data`: moves the IMPU's IRS to its next state.
    pub async fn put_reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
        req: RegReqType,
        server_name: &str,
    ) -> Result<RegDataOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some((irs, current, current_server)) = Self::reg_row(&mut tx, impu).await? else {
            return Ok(RegDataOutcome::UnknownImpu);
        };
        let Some(next) = next_state(current, req) else {
            return Ok(RegDataOutcome::NotRegistered(current));
        };
        let moved = req == RegReqType::Reg
            && current == RegState::Registered
            && current_server.as_deref().is_some_and(|c| c != server_name);
        let server = match req {
            RegReqType::Reg => Some(server_name.to_owned()),
            _ => current_server.or_else(|| Some(server_name.to_owned())),
        };
        if next != current || req == RegReqType::Reg {
            sqlx::query(
                "INSERT INTO registrations (impu, state, server_name) \
                 SELECT impu, $1, $2 FROM public_ids WHERE irs = $3 \
                 ON CONFLICT (impu) DO UPDATE SET state = excluded.state, \
                 server_name = excluded.server_name",
            )
            .bind(next.as_str().to_owned())
            .bind(server)
            .bind(irs.clone())
            .execute(&mut *tx)
            .await?;
        }
        let sub = subscription_for_irs(&mut tx, &irs, impi).await?;
        let moved = if moved {
            Some(
                sqlx::query_scalar::<_, String>("SELECT impu FROM public_ids WHERE irs = $1")
                    .bind(irs.clone())
                    .fetch_all(&mut *tx)
                    .await?,
            )
        } else {
            None
        };
        tx.commit().await?;
        Ok(RegDataOutcome::Ok(next, sub, moved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_homestead_without_an_hss() {
        use RegReqType::*;
        use RegState::*;
        assert_eq!(next_state(NotRegistered, Reg), Some(Registered));
        assert_eq!(next_state(NotRegistered, Call), Some(Unregistered));
        assert_eq!(next_state(Registered, Call), Some(Registered));
        assert_eq!(next_state(Registered, DeregUser), Some(Unregistered));
        assert_eq!(next_state(Registered, DeregTimeout), Some(Unregistered));
        assert_eq!(next_state(Registered, DeregAdmin), Some(Unregistered));
        assert_eq!(next_state(Unregistered, DeregUser), None);
        assert_eq!(next_state(NotRegistered, DeregAdmin), None);
        assert_eq!(next_state(Registered, DeregAuthFailure), Some(Registered));
        assert_eq!(
            next_state(NotRegistered, DeregAuthFailure),
            Some(NotRegistered)
        );
    }
}
