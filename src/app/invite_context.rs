//! What the invite form needs for a record, loaded one way for the canvas page and the JSON
//! API alike: the tenancies where the Salesforce user is active staff (each with the record's
//! client there, if any), the tenancy the form is for, and, when the record has no client
//! there yet, the record's pre-fill and the groups or teams (and a new group's possible
//! members) to choose from. Each side maps the context to its own page or answer.

use uuid::Uuid;

use super::salesforce::{Error, acting_in, acting_staff};
use crate::crm::Crm;
use crate::crm::record::{Prefill, RecordKind};
use crate::domain::org_link::{OrgLink, suggest_e164};
use crate::domain::tenancy::{GroupKind, GroupModel, group_name_for};
use crate::domain::values::SalesforceId;
use crate::store::{
    self, ActingStaff, Client, Group, Page, PageRequest, SalesforceUser, Staff, Store, TeamAccount,
    Tenancy,
};

/// Who asks about which record, through which link.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    pub link: &'a OrgLink,
    pub user: &'a SalesforceUser,
    pub kind: RecordKind,
    pub record: &'a SalesforceId,
}

/// Which tenancy the form is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenancyPick {
    /// This one, which must be one where the user is active staff.
    Asked(Uuid),
    /// The user's only tenancy; with several, none until the user picks one.
    Only,
}

/// What the lists are searched for; none, or blank, lists all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Search<'a> {
    /// Groups or teams whose name contains this.
    pub groups: Option<&'a str>,
    /// Possible new-group members whose name or e-mail contains this.
    pub members: Option<&'a str>,
}

/// The invite form's context for one record.
#[derive(Debug, Clone)]
pub struct InviteContext {
    /// Every tenancy where the user is active staff, with the record's client there.
    pub tenancies: Vec<TenancyChoice>,
    /// The tenancy the form is for; `None` while the user has several to pick from.
    pub chosen: Option<ActingStaff>,
    /// For the chosen tenancy when the record has no client there: what the form offers.
    pub offer: Option<Offer>,
}

impl InviteContext {
    /// The record's client in the chosen tenancy, when it has one.
    pub fn chosen_client(&self) -> Option<&Client> {
        let chosen = self.chosen.as_ref()?;
        self.tenancies
            .iter()
            .find(|t| t.acting.tenancy == chosen.tenancy)?
            .client
            .as_ref()
    }
}

/// A tenancy the user may invite in, as the staff user they are there.
#[derive(Debug, Clone)]
pub struct TenancyChoice {
    pub acting: ActingStaff,
    /// The record's client in this tenancy, when it exists already.
    pub client: Option<Client>,
}

/// What the form offers for a record that has no client in the chosen tenancy.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The record's values through the link's mapping, and which of them are read-only.
    pub prefill: Prefill,
    /// The record's mobile number in E.164, when it is not and the phone region reads it.
    pub suggested_mobile: Option<String>,
    /// Contact groups only: the new group's name by the tenancy's convention.
    pub new_group_name: Option<String>,
    pub choices: Choices,
}

/// The tenancy's settings and what the user may choose from in it.
#[derive(Debug, Clone)]
pub struct Choices {
    pub tenancy: Tenancy,
    /// Contact groups the user may choose (all for users administrators, their own for plain
    /// staff), or the tenancy's client teams: one page, searched.
    pub groups: Page<Group>,
    /// Contact groups only: who a new group may hold.
    pub members: Option<Members>,
}

/// The active staff users and team accounts a new contact group may hold (a page of each,
/// searched).
#[derive(Debug, Clone)]
pub struct Members {
    pub staff: Vec<Staff>,
    pub team_accounts: Vec<TeamAccount>,
    /// More matched than are listed.
    pub more: bool,
}

/// Loads the form's context: the tenancies (the user's only one, or the one asked for, is
/// chosen), the record's client in each, and for a chosen tenancy where the record has no
/// client, the record read through the link's mapping and the lists searched as asked.
pub async fn load(
    store: &Store,
    crm: &Crm,
    asking: &Asking<'_>,
    pick: TenancyPick,
    search: &Search<'_>,
) -> Result<InviteContext, Error> {
    let acting = acting_staff(store, asking.link, asking.user).await?;
    let chosen = match pick {
        TenancyPick::Asked(id) => Some(acting_in(&acting, id)?.clone()),
        TenancyPick::Only if acting.len() == 1 => acting.first().cloned(),
        TenancyPick::Only => None,
    };
    let mut context = InviteContext {
        tenancies: tenancies(store, asking.link.id, asking.record, &acting).await?,
        chosen,
        offer: None,
    };
    context.offer = match &context.chosen {
        Some(chosen) if context.chosen_client().is_none() => {
            Some(offer(store, crm, asking, chosen, search).await?)
        }
        _ => None,
    };
    Ok(context)
}

/// Each tenancy the user acts in, with the record's client there, if any.
pub async fn tenancies(
    store: &Store,
    org_link: Uuid,
    record: &SalesforceId,
    acting: &[ActingStaff],
) -> Result<Vec<TenancyChoice>, store::Error> {
    let mut tenancies = Vec::with_capacity(acting.len());
    for a in acting {
        let client = match store.client_of_record(a.tenancy, org_link, record).await? {
            Some(id) => Some(store.client(a.tenancy, id, None).await?),
            None => None,
        };
        tenancies.push(TenancyChoice {
            acting: a.clone(),
            client,
        });
    }
    Ok(tenancies)
}

/// The record read through the link's mapping, and what the form offers with it.
async fn offer(
    store: &Store,
    crm: &Crm,
    asking: &Asking<'_>,
    chosen: &ActingStaff,
    search: &Search<'_>,
) -> Result<Offer, Error> {
    let prefill = crm
        .read_prefill(asking.link, asking.kind, asking.record.as_str())
        .await
        .map_err(Error::Record)?;
    let choices = choices(store, chosen, search).await?;
    let tenancy = &choices.tenancy;
    let new_group_name = (tenancy.group_model == GroupModel::ContactGroups).then(|| {
        group_name_for(
            &tenancy.group_name_convention,
            prefill.first_name.as_deref().unwrap_or(""),
            prefill.last_name.as_deref().unwrap_or(""),
        )
    });
    let suggested_mobile = prefill
        .mobile
        .as_deref()
        .and_then(|mobile| suggested_mobile(asking.link, tenancy, mobile));
    Ok(Offer {
        prefill,
        suggested_mobile,
        new_group_name,
        choices,
    })
}

/// The tenancy's settings and the groups or teams (and, for contact groups, a new group's
/// possible members) the staff user may choose from, searched as asked.
pub async fn choices(
    store: &Store,
    acting: &ActingStaff,
    search: &Search<'_>,
) -> Result<Choices, store::Error> {
    let tenancy = store.tenancy(acting.tenancy).await?;
    let all = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    let (kind, member) = group_scope(tenancy.group_model, acting);
    let groups = store
        .list_groups(tenancy.id, kind, search.groups, member, &all)
        .await?;
    let members = match tenancy.group_model {
        GroupModel::ClientTeams => None,
        GroupModel::ContactGroups => {
            let staff = store.list_staff(tenancy.id, search.members, &all).await?;
            let teams = store
                .list_team_accounts(tenancy.id, search.members, &all)
                .await?;
            Some(Members {
                more: staff.next_cursor.is_some() || teams.next_cursor.is_some(),
                staff: staff.items.into_iter().filter(|s| s.active).collect(),
                team_accounts: teams.items.into_iter().filter(|t| t.active).collect(),
            })
        }
    };
    Ok(Choices {
        tenancy,
        groups,
        members,
    })
}

/// The kind of group the staff user chooses from, and whose member a group must have them as
/// (plain staff choose only contact groups they belong to; anyone, any client team).
pub fn group_scope(model: GroupModel, acting: &ActingStaff) -> (GroupKind, Option<Uuid>) {
    match model {
        GroupModel::ClientTeams => (GroupKind::ClientTeam, None),
        GroupModel::ContactGroups => (
            GroupKind::ContactGroup,
            (!acting.role.administers_users()).then_some(acting.staff),
        ),
    }
}

/// A national mobile number in E.164, when the phone region (the link mapping's, else the
/// tenancy's) reads it; `None` for a number already in international form. Offered, never
/// applied unasked.
pub fn suggested_mobile(link: &OrgLink, tenancy: &Tenancy, mobile: &str) -> Option<String> {
    if mobile.starts_with('+') {
        return None;
    }
    suggest_e164(
        mobile,
        link.field_mapping
            .phone_region()
            .or(Some(tenancy.phone_region)),
    )
}
