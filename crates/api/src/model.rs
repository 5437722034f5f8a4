//! Shapes shared by every resource: response envelopes, pagination, timestamps, ids.

use chrono::{DateTime, NaiveDateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `{"data": …}`: a single object.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Data<T> {
    pub data: T,
}

pub fn data<T>(data: T) -> Data<T> {
    Data { data }
}

/// `{"data": […], "pagination": {…}}`: one page of a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct Pagination {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
}

/// The empty success of a 204.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NoContent {}

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;

/// A page request: 1-based page, limit 1..=100 (25 by default). Out-of-range values are refused.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl PageRequest {
    pub fn new(page: Option<u32>, limit: Option<u32>) -> Result<PageRequest, alga_core::ApiError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if page == 0 {
            return Err(alga_core::ApiError::validation("page", "pages start at 1"));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(alga_core::ApiError::validation("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        Ok(PageRequest { page, limit })
    }

    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.limit)
    }

    pub fn page<T>(self, data: Vec<T>, total: i64) -> Page<T> {
        let total = u64::try_from(total).unwrap_or(0);
        let total_pages = total.div_ceil(u64::from(self.limit));
        Page { data, pagination: Pagination { page: self.page, limit: self.limit, total, total_pages } }
    }
}

/// Serialises a UTC `NaiveDateTime` as RFC 3339 with `Z`.
pub fn utc<S: Serializer>(at: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).serialize(s)
}

pub fn utc_opt<S: Serializer>(at: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    at.map(|at| at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).serialize(s)
}

/// A date-time text as every operation reads one: through `DateTime<Utc>`'s own `Deserialize`
/// (chrono's relaxed RFC 3339, so `2026-12-01 10:00:00Z` too), whether it came in a JSON body or
/// a query string. Policies type the call's date-times with this, so they see what the
/// operation will act on.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    use serde::de::IntoDeserializer;
    let text: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
    DateTime::<Utc>::deserialize(text).ok()
}

/// An RFC 3339 timestamp from a client, any offset, stored as UTC.
pub fn to_naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

/// For updates: absent (keep), `null` (clear) or a value (set).
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `{id}` in a path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdPath {
    /// The object's id (a UUID).
    pub id: String,
}

/// Trims; refuses empty or over-long text.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, alga_core::ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(alga_core::ApiError::validation(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(alga_core::ApiError::validation(field, format!("must be at most {max} characters")));
    }
    if v.contains('\0') {
        return Err(alga_core::ApiError::validation(field, "must not contain NUL characters"));
    }
    Ok(v.to_owned())
}

/// Trims optional text; empty becomes none.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, alga_core::ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err(alga_core::ApiError::validation(field, format!("must be at most {max} characters")))
        }
        Some(v) if v.contains('\0') => Err(alga_core::ApiError::validation(field, "must not contain NUL characters")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// Trims text that may be empty (notes, bodies); refuses over-long text.
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<String, alga_core::ApiError> {
    optional_text(field, Some(value), max).map(Option::unwrap_or_default)
}

/// A hex colour such as `#d32f2f` (or `#abc`), trimmed and lowercased.
pub fn hex_color(field: &str, value: &str) -> Result<String, alga_core::ApiError> {
    let c = value.trim();
    let hex = c.strip_prefix('#').unwrap_or("");
    if (hex.len() == 6 || hex.len() == 3) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(c.to_lowercase())
    } else {
        Err(alga_core::ApiError::validation(field, "must be a hex colour such as #d32f2f"))
    }
}

/// `%` and `_` are wildcards in LIKE: escape them so a search matches them literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(None, Some(101)).is_err());
        assert!(PageRequest::new(None, Some(0)).is_err());
        let p = PageRequest::new(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
        assert_eq!(p.page(Vec::<u8>::new(), 21).pagination.total_pages, 3);
    }

    #[test]
    fn datetimes_parse_as_a_json_body_and_a_query_string_give_them() {
        for text in [
            "2026-12-01T10:00:00Z",
            "2026-12-01 10:00:00Z",
            "2026-12-01T12:00:00+02:00",
            "2026-12-01T10:00:00",
            "x",
            "",
        ] {
            let from_json = serde_json::from_value::<DateTime<Utc>>(serde_json::Value::from(text)).ok();
            let from_query = serde_urlencoded::from_str::<std::collections::HashMap<String, DateTime<Utc>>>(
                &serde_urlencoded::to_string([("at", text)]).unwrap(),
            )
            .ok()
            .and_then(|m| m.get("at").copied());
            assert_eq!(parse_datetime(text), from_json, "{text}");
            assert_eq!(parse_datetime(text), from_query, "{text}");
        }
        assert_eq!(parse_datetime("2026-12-01 10:00:00Z"), parse_datetime("2026-12-01T12:00:00+02:00"));
        assert!(parse_datetime("2026-12-01 10:00:00Z").is_some());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_Off"), "%50\\%\\_off%");
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both databases.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
