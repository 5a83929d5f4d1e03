//! What the pages show around the jar: its name, the blog, the goal, who may embed it.

use super::ConfigError;
use super::vars::{self, Vars};

#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub name: String,
    pub blog_url: Option<String>,
    /// An optional goal shown as a progress bar: a number of coffees and what it is for.
    pub goal: Option<Goal>,
    /// Origins allowed to frame `/widget` (`frame-ancestors`); `*` allows any.
    pub embed_origins: Vec<String>,
    pub privacy_url: Option<String>,
    pub imprint_url: Option<String>,
    /// How long after its paid month a monthly coffee still counts as active (and keeps its
    /// badge): Stripe retries a failed debit for up to about two weeks (`MONTHLY_GRACE_DAYS`).
    pub monthly_grace_secs: i64,
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub coffees: u32,
    pub label: Option<String>,
}

pub(super) fn read(v: &Vars) -> Result<SiteSettings, ConfigError> {
    Ok(SiteSettings {
        name: v.get("SITE_NAME").unwrap_or_else(|| "Kaffeekasse".into()),
        blog_url: v.link_url("BLOG_URL")?,
        goal: v
            .get("GOAL_COFFEES")
            .map(|_| v.num("GOAL_COFFEES", 1, 1..=1_000_000))
            .transpose()?
            .map(|coffees| Goal {
                coffees,
                label: v.get("GOAL_LABEL"),
            }),
        embed_origins: match v.list_checked(
            "EMBED_ORIGINS",
            vars::is_origin,
            "is not * or an origin like https://blog.example.de",
        )? {
            origins if origins.is_empty() => vec!["*".to_owned()],
            origins => origins,
        },
        privacy_url: v.link_url("PRIVACY_URL")?,
        imprint_url: v.link_url("IMPRINT_URL")?,
        monthly_grace_secs: i64::from(v.num("MONTHLY_GRACE_DAYS", 14u32, 0..=60)?) * 86_400,
    })
}
