//! Pagination in the Pinterest style: `page_size` and an opaque `bookmark`.

use crate::error::Invalid;

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 250;

/// A request for one page: at most `size` items after the `after` cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub after: Option<String>,
}

impl PageRequest {
    /// Checks `page_size` (1 to 250, default 25).
    pub fn new(page_size: Option<u32>, bookmark: Option<String>) -> Result<PageRequest, Invalid> {
        let size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Invalid::new("page_size", "must be 1 to 250"));
        }
        Ok(PageRequest {
            size,
            after: bookmark.filter(|b| !b.is_empty()),
        })
    }

    pub fn first(size: u32) -> PageRequest {
        PageRequest { size, after: None }
    }
}

/// One page of items, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(PageRequest::new(None, None).unwrap().size, 25);
        assert_eq!(
            PageRequest::new(Some(250), Some(String::new()))
                .unwrap()
                .after,
            None
        );
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(251), None).is_err());
    }
}
