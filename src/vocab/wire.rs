//! `wire_enum!`: a closed set of names as Plugged.in spells them on the wire, declared once
//! and used by both the embedded API (to check and store) and the tools (as argument types
//! whose JSON Schema lists the names).

/// Declares an enum whose variants each have one wire spelling. It derives serde (that
/// spelling both ways) and `JsonSchema` (a plain string `enum`), and provides `ALL`,
/// `as_str()`, `parse()` and `names()` (`"a, b, c"`, for error messages). Attributes pass
/// through, so `#[derive(Default)]` with a `#[default]` variant works. No doc comments on
/// variants: schemars would turn the plain `enum` into a `oneOf`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// The variant spelled `s` on the wire, if any.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The wire spellings joined with `, `.
            pub fn names() -> String {
                Self::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;
