//! Enums stored as lowercase words.

/// An enum stored as a lowercase word: `as_str`, `parse`, and `TryFrom<String>` for row decoding.
macro_rules! word_enum {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($s => Some(Self::$variant),)+ _ => None }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::domain::UnknownValue;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw).ok_or($crate::domain::UnknownValue { kind: stringify!($ty), value: raw })
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use word_enum;
