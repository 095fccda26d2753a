//! Licensing groups by id: `GET /groups/{id}` with what tells an admin how a user leaves one
//! (its name, whether a rule or on-premises Active Directory decides its members).

use futures::{StreamExt, TryStreamExt, stream};

use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::licenses::path_segment;
use super::models::Group;
use super::response::Api;

pub const GROUP_SELECT: &str = "id,displayName,groupTypes,membershipRule,onPremisesSyncEnabled";

/// Groups read at once: a plan names a handful of licensing groups, and reading them one after
/// another would make its maker wait for each round trip, while more at once would spend the
/// tenant's throttling budget shared with the sync.
pub const GROUP_READS_AT_ONCE: usize = 4;

impl GraphClient {
    /// The group; None when the directory does not have it (any more). Needs
    /// GroupMember.Read.All, Group.Read.All or Directory.Read.All.
    pub async fn group(&self, group_id: &str) -> Result<Option<Group>, GraphError> {
        let url = self.url(&format!(
            "groups/{}?$select={GROUP_SELECT}",
            path_segment(group_id)
        ));
        match self.get_json(Api::Group, &url).await {
            Ok(group) => Ok(Some(group)),
            Err(error) if *error.kind() == ErrorKind::GroupNotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The groups of `ids` the directory has, in the order of `ids`, a few read at once. The
    /// first failure ends the reads: a refused permission or an outage would refuse the others
    /// too.
    pub async fn groups(&self, ids: &[String]) -> Result<Vec<Group>, GraphError> {
        // Owned ids and client per read: futures borrowing from the closure's argument would not
        // be `Send` for every lifetime, as a boxed provider future must be.
        let found: Vec<Option<Group>> = stream::iter(ids.to_vec())
            .map(|id| {
                let client = self.clone();
                async move { client.group(&id).await }
            })
            .buffered(GROUP_READS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }
}
