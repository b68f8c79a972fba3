//! Subscription modes (`M` values) and diff algorithms (`F` values).

use std::fmt;

/// One subscription mode, as in a table's mode (`M|R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Raw,
    Merge,
    Distinct,
    Command,
}

impl Mode {
    /// The letter on the wire.
    pub fn letter(self) -> char {
        match self {
            Mode::Raw => 'R',
            Mode::Merge => 'M',
            Mode::Distinct => 'D',
            Mode::Command => 'C',
        }
    }

    pub fn from_letter(c: char) -> Option<Mode> {
        Some(match c {
            'R' => Mode::Raw,
            'M' => Mode::Merge,
            'D' => Mode::Distinct,
            'C' => Mode::Command,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        match self {
            Mode::Raw => 1,
            Mode::Merge => 2,
            Mode::Distinct => 4,
            Mode::Command => 8,
        }
    }
}

/// A set of modes, as the allowed modes of an item (`M|RMDC`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Modes(u8);

impl Modes {
    pub const EMPTY: Modes = Modes(0);
    pub const ALL: Modes = Modes(15);

    pub fn contains(self, mode: Mode) -> bool {
        self.0 & mode.bit() != 0
    }

    pub fn with(self, mode: Mode) -> Modes {
        Modes(self.0 | mode.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses letters such as `RM`; `#` (null) and `$` (empty) give the
    /// empty set. An unknown letter is returned as the error.
    pub(crate) fn parse(token: &str) -> Result<Modes, char> {
        if token == "#" || token == "$" {
            return Ok(Modes::EMPTY);
        }
        token.chars().try_fold(Modes::EMPTY, |set, c| {
            Mode::from_letter(c).map(|m| set.with(m)).ok_or(c)
        })
    }
}

impl fmt::Debug for Modes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters: String = [Mode::Raw, Mode::Merge, Mode::Distinct, Mode::Command]
            .into_iter()
            .filter(|m| self.contains(*m))
            .map(Mode::letter)
            .collect();
        write!(f, "Modes({letters})")
    }
}

/// A diff algorithm a field's values may be sent with (1.9 `DFD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffAlgorithm {
    /// `J`: JSON Patch.
    JsonPatch,
    /// `M`: diff-match-patch, i.e. TLCP-diff.
    DiffMatchPatch,
}

impl DiffAlgorithm {
    pub(crate) fn from_letter(c: char) -> Option<DiffAlgorithm> {
        match c {
            'J' => Some(DiffAlgorithm::JsonPatch),
            'M' => Some(DiffAlgorithm::DiffMatchPatch),
            _ => None,
        }
    }
}
