//! A charge's disputes, each by id. A charge can be disputed again after a first dispute was
//! won, so one state per charge would let the won dispute hide the later one. Each dispute's
//! status climbs `none < open < won < lost`, so merging by maximum per id is
//! order-independent, and the charge's state is derived from all of them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DisputeState {
    None,
    Open,
    Won,
    Lost,
}

impl DisputeState {
    /// A dispute's `status`. Warnings (inquiries) and reviews are open; `won`, a closed warning
    /// and `prevented` (stopped before it became a chargeback, API 2025-08-27) cost nothing and
    /// count as won; `lost` is lost. An unknown status means a dispute exists: open.
    pub fn from_stripe(status: Option<&str>) -> DisputeState {
        match status {
            Some("won" | "warning_closed" | "prevented") => DisputeState::Won,
            Some("lost") => DisputeState::Lost,
            _ => DisputeState::Open,
        }
    }
}

super::word_enum!(DisputeState { None => "none", Open => "open", Won => "won", Lost => "lost" });

/// The key of the one dispute state a row stored before disputes were kept by id.
const LEGACY: &str = "";

/// Every dispute known by id, as stored (JSON: `{"dp_…": "open"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disputes(BTreeMap<String, DisputeState>);

impl Disputes {
    /// A row from before disputes were kept by id: its one state, under no id.
    pub fn legacy(state: DisputeState) -> Disputes {
        let mut d = Disputes::default();
        if state != DisputeState::None {
            d.0.insert(LEGACY.to_owned(), state);
        }
        d
    }

    pub fn record(&mut self, id: &str, state: DisputeState) {
        let seen = self.0.entry(id.to_owned()).or_insert(state);
        *seen = (*seen).max(state);
    }

    /// The charge's state: lost if any dispute was lost, disputed while any is open, won once
    /// every one was won. The legacy state is most likely the dispute first known by id, seen
    /// before ids were kept, so it is a floor for that one: a late, older event of a dispute
    /// already lost or won cannot reopen it.
    pub fn state(&self) -> DisputeState {
        let legacy = self.0.get(LEGACY).copied().unwrap_or(DisputeState::None);
        let mut by_id = self
            .0
            .iter()
            .filter(|(id, _)| id.as_str() != LEGACY)
            .map(|(_, s)| *s);
        let states: Vec<DisputeState> = match by_id.next() {
            None => vec![legacy],
            Some(first) => std::iter::once(first.max(legacy)).chain(by_id).collect(),
        };
        if states.contains(&DisputeState::Lost) {
            DisputeState::Lost
        } else if states.contains(&DisputeState::Open) {
            DisputeState::Open
        } else {
            states.into_iter().max().unwrap_or(DisputeState::None)
        }
    }

    pub fn to_json(&self) -> String {
        let words: BTreeMap<&str, &str> = self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        serde_json::to_string(&words).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl TryFrom<String> for Disputes {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let words: BTreeMap<String, String> = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
        words
            .into_iter()
            .map(|(id, word)| {
                DisputeState::parse(&word)
                    .map(|s| (id, s))
                    .ok_or_else(|| format!("unknown dispute state {word:?}"))
            })
            .collect::<Result<_, _>>()
            .map(Disputes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisputeState::*;

    #[test]
    fn a_won_dispute_does_not_hide_a_later_one() {
        let mut d = Disputes::default();
        d.record("dp_1", Open);
        d.record("dp_1", Won);
        assert_eq!(d.state(), Won);
        d.record("dp_2", Open);
        assert_eq!(d.state(), Open);
        d.record("dp_2", Won);
        assert_eq!(d.state(), Won);
        d.record("dp_3", Lost);
        assert_eq!(d.state(), Lost);
    }

    #[test]
    fn an_open_dispute_beside_a_lost_one_is_lost() {
        let mut d = Disputes::default();
        d.record("dp_2", Open);
        d.record("dp_1", Lost);
        assert_eq!(d.state(), Lost);
        assert_eq!(Disputes::default().state(), None);
    }

    #[test]
    fn a_legacy_state_counts_until_a_dispute_is_known_by_id() {
        let mut d = Disputes::legacy(Open);
        assert_eq!(d.state(), Open);
        d.record("dp_1", Won);
        assert_eq!(
            d.state(),
            Won,
            "the legacy open was this dispute, seen before ids were kept"
        );
        assert_eq!(Disputes::legacy(None), Disputes::default());
    }

    #[test]
    fn disputes_round_trip_as_json_and_a_corrupt_word_is_an_error() {
        let mut d = Disputes::default();
        d.record("dp_1", Won);
        d.record("dp_2", Open);
        let json = d.to_json();
        assert_eq!(json, r#"{"dp_1":"won","dp_2":"open"}"#);
        assert_eq!(Disputes::try_from(json), Ok(d));
        assert!(Disputes::try_from(r#"{"dp_1":"maybe"}"#.to_owned()).is_err());
        assert!(Disputes::try_from("[]".to_owned()).is_err());
    }
}
