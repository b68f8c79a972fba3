//! One event of an item: field names with their new values.

/// Field values for one update of an item. Fields not mentioned keep their
/// previous value; `None` is a null value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemEvent {
    fields: Vec<(String, Option<String>)>,
}

impl ItemEvent {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `field` to `value` (builder style).
    pub fn with(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(field, Some(value.into()));
        self
    }

    /// Sets `field` to `value`, replacing an earlier value of the same field.
    pub fn set(&mut self, field: impl Into<String>, value: Option<String>) {
        let field = field.into();
        match self.fields.iter_mut().find(|(n, _)| *n == field) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field, value)),
        }
    }

    pub fn get(&self, field: &str) -> Option<Option<&str>> {
        self.fields
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, v)| v.as_deref())
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    pub fn into_fields(self) -> Vec<(String, Option<String>)> {
        self.fields
    }
}
